"""Disaster recovery end to end (DESIGN §17, issue 26 item 4): on a host whose engine, data root
and database are gone, `backup restore-installation` and one reconcile bring the notebooks back
with their old ports, tokens and URLs, answering, with their owner's files. Real engine, real
restic, real uids (as root, as the broker runs)."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Actor
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import Setting, User
from tests.fixtures.notebook_service import free_port_range
from tests.integration.broker_support import notebook_status

ROOT = Actor("root", 0, True, ())

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed (apt-get install restic)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="restores give files to other uids: run as root, as the broker does"),
]


def test_restore_installation_then_reconcile_brings_the_notebooks_back_with_their_urls(
    tmp_path, fake_notebook_image, docker_client,
):
    from ipynbsrv_tui.backup.recovery import RECOVERED_KEY, restore_installation
    from ipynbsrv_tui.service import build_service

    ids = 60000 + secrets.randbelow(9000) * 100
    password = tmp_path / "restic-password"
    password.write_text("correct horse battery staple\n")
    os.chmod(password, 0o600)
    config = Config().replace(
        database={"path": str(tmp_path / "state" / "ipynbsrv.db")}, data={"root": str(tmp_path / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 2},
        directory={"uid_range": (ids, ids + 99), "gid_range": (ids, ids + 99)},  # engine names carry the uid
        backup={"enabled": True, "repository": str(tmp_path / "repo"), "password_file": str(password)},
    )
    service = build_service(config)
    instance = service.instance_id
    try:
        service.register_image(ROOT, "fake", fake_notebook_image, is_public=True)
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
        for container in docker_client.containers.list(all=True, filters={"label": f"ipynbsrv.instance={instance}"}):
            container.remove(force=True)
        close_database()
        shutil.rmtree(config.data.root)
        for suffix in ("", "-wal", "-shm"):
            Path(str(config.database.resolved_path) + suffix).unlink(missing_ok=True)

        restore_installation(config)
        service = build_service(config)
        assert service.instance_id == instance
        report = service.reconcile(ROOT)
        assert (f"alice/lab (#{lab.id}): made again after the restore and started (port {lab.host_port}, "
                "same token and URL)") in report.repaired
        assert (f"alice/idle (#{idle.id}): made again after the restore (port {idle.host_port}, "
                "same token and URL)") in report.repaired
        assert not report.flagged
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
        again = service.reconcile(ROOT)
        assert not [line for line in again.repaired if "made again" in line] and not again.flagged
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"ipynbsrv.instance={instance}"}):
            container.remove(force=True)
        close_database()
