"""Upgrading (issue 22 item 4): a database the previous release (0.1.0) made, with its notebooks
running on the real engine, is opened by this code, which migrates it; the notebooks keep
running untouched, at their URLs with their tokens, and answer; the usual actions work on them.

The previous release runs for real: its package comes from the repository's history
(`git archive`) and runs in a child process with this venv's libraries.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ipynbsrv_tui.domain import Actor
from ipynbsrv_tui.store import close_database
from tests.integration.broker_support import notebook_status

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RELEASE = "caee98c"  # 0.1.0, 2026-11-29: the last commit of that day (CHANGELOG.md); schema version 6
REPOSITORY = Path(__file__).resolve().parents[2]
ROOT = Actor("root", 0, True, ())

OLD_RELEASE_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.domain import Actor
    from ipynbsrv_tui.service import build_service
    assert __import__("ipynbsrv_tui").__file__.startswith(sys.argv[1]), "not the old release's package"
    root = Actor("root", 0, True, ())
    ports = (int(sys.argv[5]), int(sys.argv[6]))
    config = Config().replace(database={"path": sys.argv[2]}, data={"root": sys.argv[3]},
                              notebooks={"port_range": ports, "stop_timeout": 2},
                              directory={"uid_range": (int(sys.argv[7]), int(sys.argv[7]) + 99),
                                         "gid_range": (int(sys.argv[7]), int(sys.argv[7]) + 99)})
    service = build_service(config)
    service.register_image(root, "fake", sys.argv[4], is_public=True)
    service.create_user(root, "alice", "alice-password")
    alice = service.actor_for_username("alice")
    made = {}
    for name in ("lab", "paused"):
        view = service.create_container(alice, name, "fake")
        info = service.connection_info(alice, view.id)
        made[name] = {"id": view.id, "docker_id": view.docker_id, "port": view.host_port, "url": info.url,
                      "token": info.token}
    service.suspend_container(alice, made["paused"]["id"])
    print(json.dumps({"made": made, "instance": service.instance_id}))
""")


def _old_release(tmp_path: Path) -> Path:
    found = subprocess.run(
        ["git", "-C", str(REPOSITORY), "cat-file", "-e", f"{RELEASE}^{{commit}}"], capture_output=True
    )
    if found.returncode != 0:
        pytest.skip(
            f"the repository's history lacks release 0.1.0 ({RELEASE}): `git fetch --unshallow` first"
        )
    folder = tmp_path / "release-0.1.0"
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", RELEASE, "ipynbsrv_tui"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def test_the_previous_releases_database_with_running_notebooks_is_upgraded_and_they_keep_working(
    tmp_path, fake_notebook_image, docker_client,
):
    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import latest_version, schema_version
    from ipynbsrv_tui.store.models import database_proxy
    from tests.fixtures.notebook_service import free_port_range

    old = _old_release(tmp_path)
    database, data = tmp_path / "state" / "ipynbsrv.db", tmp_path / "data"
    low, high = free_port_range()
    ids = 70000 + secrets.randbelow(9000) * 100  # engine names carry the uid: none of another test's
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            OLD_RELEASE_SCRIPT,
            str(old),
            str(database),
            str(data),
            fake_notebook_image,
            str(low),
            str(high),
            str(ids),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=""),
    )
    assert run.returncode == 0, run.stderr
    before = json.loads(run.stdout.strip().splitlines()[-1])
    lab, paused = before["made"]["lab"], before["made"]["paused"]
    labels = {"label": f"ipynbsrv.instance={before['instance']}"}
    try:
        assert notebook_status(lab["url"], lab["token"]) == 200  # the old release's notebook answers

        service = build_service(
            Config().replace(
                database={"path": str(database)},
                data={"root": str(data)},
                notebooks={"port_range": (low, high), "stop_timeout": 2},
                directory={"uid_range": (ids, ids + 99), "gid_range": (ids, ids + 99)},
            )
        )
        assert schema_version(database_proxy.obj) == latest_version() > 6  # migrated from 0.1.0's schema 6
        report = service.reconcile(ROOT)
        assert not report.flagged and not [line for line in report.repaired if "engine id" in line]
        alice = service.actor_for_username("alice")
        for made in (lab, paused):
            view = service.get_container(alice, made["id"])
            info = service.connection_info(alice, made["id"])
            assert (view.docker_id, view.host_port, info.url, info.token) == (
                made["docker_id"], made["port"], made["url"], made["token"])  # the same container, untouched
        assert service.get_container(alice, paused["id"]).state.value == "paused"
        assert notebook_status(lab["url"], lab["token"]) == 200
        assert service.resume_container(alice, paused["id"]).up
        assert notebook_status(paused["url"], paused["token"]) == 200
        service.restart_container(alice, lab["id"])
        assert notebook_status(lab["url"], lab["token"]) == 200
        assert {c.id for c in docker_client.containers.list(all=True, filters=labels)} == {
            lab["docker_id"], paused["docker_id"]}
    finally:
        for container in docker_client.containers.list(all=True, filters=labels):
            container.remove(force=True)
        close_database()
