"""Disaster recovery end to end (DESIGN §17, issue 26 item 4): on a host whose engine (containers
and the notebook image), data root and database are gone, `backup restore-installation` and one
reconcile rebuild the image from its folder as an ordinary build and then bring the notebooks back
with their old ports, tokens and URLs, answering, with their owner's files. Real engine, real
restic, real uids (as root, as the broker runs)."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from pathlib import Path

import pytest

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Actor, BuildStatus
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import Build, Image, Setting, User
from tests.fixtures.notebook_service import free_port_range
from tests.integration.broker_support import FAKE_NOTEBOOK, notebook_status

ROOT = Actor("root", 0, True, ())

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("restic") is None, reason="restic is not installed (apt-get install restic)"
    ),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="restores give files to other uids: run as root, as the broker does"
    ),
]


def test_restore_installation_then_reconcile_rebuilds_the_image_and_brings_the_notebooks_back_with_their_urls(
    tmp_path, docker_client, caplog,
):
    from ipynbsrv_tui.backup.recovery import RECOVERED_KEY, restore_installation
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.service.rebuild import REBUILDS_KEY

    dockerfiles = tmp_path / "dockerfiles"
    shutil.copytree(FAKE_NOTEBOOK, dockerfiles / "fake-notebook")
    prefix = f"ipynbsrv-test-{secrets.token_hex(4)}"  # this test's own image: removed and rebuilt below
    ref = f"{prefix}/fake-notebook:latest"
    caplog.set_level(logging.INFO, logger="ipynbsrv_tui.service.live")

    ids = 60000 + secrets.randbelow(9000) * 100
    password = tmp_path / "restic-password"
    password.write_text("correct horse battery staple\n")
    os.chmod(password, 0o600)
    config = Config().replace(
        database={"path": str(tmp_path / "state" / "ipynbsrv.db")}, data={"root": str(tmp_path / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 2},
        directory={"uid_range": (ids, ids + 99), "gid_range": (ids, ids + 99)},  # engine names carry the uid
        backup={"enabled": True, "repository": str(tmp_path / "repo"), "password_file": str(password)},
        build={"dockerfiles": str(dockerfiles), "image_prefix": prefix, "wheelhouse": False},
    )
    service = build_service(config)
    instance = service.instance_id
    try:
        build = service.build_image(ROOT, "fake-notebook")
        list(build)
        assert build.summary is not None and build.summary.status is BuildStatus.SUCCEEDED, build.summary
        registered = service.register_image(ROOT, "fake", ref, is_public=True)
        image_row = Image.get(Image.name == "fake").id
        service.create_user(ROOT, "alice", "alice-password")
        alice = service.actor_for_username("alice")
        lab = service.create_container(alice, "lab", "fake")
        idle = service.create_container(alice, "idle", "fake")
        service.stop_container(alice, idle.id)
        before = service.connection_info(alice, lab.id)
        base = f"http://127.0.0.1:{lab.host_port}/user/alice/lab/"
        assert notebook_status(base, before.token) == 200
        row = User.get(User.username == "alice")
        notes = service.data.home_of("alice") / "notes.txt"
        notes.write_text("alice's notes\n")
        os.chown(notes, row.uid, row.gid)
        service.backup_init(ROOT)
        service.backup_run(ROOT)

        # A fresh host: no engine containers of ours, no data root, no database.
        for container in docker_client.containers.list(
            all=True, filters={"label": f"ipynbsrv.instance={instance}"}
        ):
            container.remove(force=True)
        close_database()
        shutil.rmtree(config.data.root)
        for suffix in ("", "-wal", "-shm"):
            Path(str(config.database.resolved_path) + suffix).unlink(missing_ok=True)
        docker_client.images.remove(ref)  # the engine lacks the notebook image too (this test's own tag)
        assert not service.engine.image_exists(ref)

        restore_installation(config)
        service = build_service(config)
        assert service.instance_id == instance
        report = service.reconcile(ROOT)  # starts the rebuild and returns: the build runs in a worker
        rebuild = Build.select().order_by(Build.id.desc()).first()
        assert rebuild.id != build.build_id and rebuild.image_ref == ref
        assert report.repaired == (f"rebuilding image {ref} for 2 notebooks (build #{rebuild.id}, from "
                                   "fake-notebook/); they are made again when it finishes",)
        assert not report.flagged
        service.live.rebuilds.wait(timeout=600)
        rebuild = Build.get_by_id(rebuild.id)
        assert rebuild.status == "succeeded" and service.engine.image_exists(ref)
        assert [line for line in service.list_builds(ROOT) if line.id == rebuild.id]  # in the build history
        image = Image.get(Image.name == "fake")
        assert (image.id, image.ref, image.docker_id) == (
            image_row,
            registered.ref,
            service.engine.image(ref).id,
        )
        made = [
            record.getMessage()
            for record in caplog.records
            if "after a rebuild repaired" in record.getMessage()
        ]
        assert (
            f"reconcile after a rebuild repaired alice/lab (#{lab.id}): made again after the restore and "
            f"started (port {lab.host_port}, same token and URL)"
        ) in made
        assert (f"reconcile after a rebuild repaired alice/idle (#{idle.id}): made again after the restore "
                f"(port {idle.host_port}, same token and URL)") in made
        alice = service.actor_for_username("alice")
        after = service.connection_info(alice, lab.id)
        assert (after.url, after.token, after.host_port, after.tunnel_command) == (
            before.url, before.token, before.host_port, before.tunnel_command)
        assert notebook_status(base, after.token) == 200
        view = service.get_container(alice, lab.id)
        code, out = service.engine.exec(view.docker_id, ["cat", "/home/alice/notes.txt"], user=str(row.uid))
        assert (code, out) == (0, "alice's notes\n")
        assert service.get_container(alice, idle.id).state.value == "created"
        assert Setting.get_or_none(Setting.key == RECOVERED_KEY) is None
        assert Setting.get_or_none(Setting.key == REBUILDS_KEY) is None
        again = service.reconcile(ROOT)
        assert not [line for line in again.repaired if "made again" in line] and not again.flagged
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"ipynbsrv.instance={instance}"}
        ):
            container.remove(force=True)
        close_database()
        if docker_client.images.list(name=ref):
            docker_client.images.remove(ref, force=True)
