"""The Backups section (DESIGN §17) over the real embedded service and a real restic repository:
alice browses a snapshot and restores her deleted notebook as her own file; bob sees only his;
a failed backup shows in an admin's header."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import pytest

from ipynbsrv_tui.service.session import Session
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import User
from ipynbsrv_tui.tui.screens.backups import BackupsScreen
from tests.fixtures.backups import VersionedRecordingEngine, backup_config
from tests.fixtures.recorded_service import ROOT

from .conftest import FIXED_HEALTH, FixedSession, make_app, screen_text, wait_until

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.fixture
def backed_up(tmp_path):
    if shutil.which("restic") is None or os.geteuid() != 0:
        pytest.skip("needs restic, and root to give restored files to alice's uid")
    from ipynbsrv_tui.service import build_service

    engine = VersionedRecordingEngine()
    service = build_service(backup_config(tmp_path), engine_factory=lambda: engine)
    for name in ("alice", "bob"):
        service.create_user(ROOT, name, f"{name}-password")
    home = service.data.home_of("alice")
    (home / "work").mkdir()
    (home / "work" / "analysis.ipynb").write_text(NOTEBOOK)
    alice = User.get(User.username == "alice")
    for path in (home / "work", home / "work" / "analysis.ipynb"):
        os.chown(path, alice.uid, alice.gid)
    service.backup_init(ROOT)
    service.backup_run(ROOT)
    (home / "work" / "analysis.ipynb").unlink()
    yield service
    close_database()


@pytest.mark.slow
async def test_alice_browses_and_restores_her_notebook(backed_up):
    service = backed_up
    session = Session(service, service.actor_for_username("alice"))
    app = make_app(session, config=service.config, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        assert "backups" in [s.mode for s in app.sections]
        await pilot.press("9")
        await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.snapshots,
                         what="the snapshots")
        screen = app.screen
        assert "snapshot" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "e:/home/alice" in screen.entries, what="alice's home")
        assert list(screen.entries) == ["e:/home/alice"]  # her home only: nothing of bob's
        await pilot.press("enter")
        await wait_until(pilot, lambda: "e:/home/alice/work" in screen.entries, what="the folder work")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: "e:/home/alice/work/analysis.ipynb" in screen.entries, what="the notebook"
        )
        assert "analysis.ipynb" in screen_text(app)
        await pilot.press("r")
        restored_dir = service.data.home_of("alice") / "restored"
        await wait_until(
            pilot,
            lambda: any("Restored /home/alice/work/analysis.ipynb" in n for n in app.notes),
            what="the restore",
        )
        [landed] = list(restored_dir.glob("*/work/analysis.ipynb"))
        assert landed.read_text() == NOTEBOOK
        alice = User.get(User.username == "alice")
        assert (landed.stat().st_uid, landed.stat().st_gid) == (alice.uid, alice.gid)
        await pilot.press("backspace")
        await wait_until(pilot, lambda: screen.path == "/home/alice", what="going up")
        await pilot.press("backspace")
        await wait_until(pilot, lambda: screen.path == "" and screen.snapshot is not None, what="the roots")
        await pilot.press("backspace")
        await wait_until(pilot, lambda: screen.snapshot is None, what="the snapshots again")


@pytest.mark.slow
async def test_bob_sees_his_home_only(backed_up):
    service = backed_up
    session = Session(service, service.actor_for_username("bob"))
    app = make_app(session, config=service.config, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.snapshots,
                         what="the snapshots")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.entries, what="bob's roots")
        assert list(app.screen.entries) == ["e:/home/bob"]
        assert "alice" not in screen_text(app)


async def test_without_a_repository_there_is_no_backups_section():
    app = make_app(FixedSession())
    async with app.run_test(size=(80, 24)):
        assert "backups" not in [s.mode for s in app.sections]


class FailingBackupSession(FixedSession):
    def health(self):
        return replace(FIXED_HEALTH, backup_problem="backup failed: restic backup on /srv/b: wrong password "
                                                    "or no key found.")


async def test_a_failed_backup_shows_in_the_admins_header():
    app = make_app(FailingBackupSession(), watch=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "backup ✗" in screen_text(app), what="the header's backup flag")
        assert any("wrong password" in note for note in app.notes)
