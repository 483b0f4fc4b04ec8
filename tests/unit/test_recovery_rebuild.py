"""Disaster recovery's image rebuilds when they cannot run (DESIGN §17, issue 26 item 4): an image
whose source folder is gone, one that no Dockerfile made, and a rebuild that fails. The notebooks
stay in the store, reconcile flags each with what to do, and a failed rebuild is not started again
by itself. The engine is the recording fake (it builds nothing); the rebuild that succeeds is in
tests/integration/test_recovery.py."""

from __future__ import annotations

import pytest

from ipynbsrv_tui.backup.recovery import RECOVERED_KEY
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.service.rebuild import REBUILDS_KEY, image_source
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import Build, Container, Image, Notification, Setting
from tests.fixtures.recorded_service import ROOT
from tests.unit.fake_engine import RecordingEngine


@pytest.fixture
def restored(tmp_path):
    """A service whose notebooks' engine objects and images are gone, its store marked restored."""
    from ipynbsrv_tui.service import build_service

    engine = RecordingEngine()
    dockerfiles = tmp_path / "dockerfiles"
    for folder, dockerfile in (("base-x", "FROM debian:bookworm-slim\n"),
                               ("tiny", "ARG BASE_IMAGE=ipynbsrv/base-x:latest\nFROM ${BASE_IMAGE}\n")):
        (dockerfiles / folder).mkdir(parents=True)
        (dockerfiles / folder / "Dockerfile").write_text(dockerfile)
    config = Config().replace(
        database={"path": str(tmp_path / "state" / "ipynbsrv.db")}, data={"root": str(tmp_path / "data")},
        notebooks={"port_range": (45100, 45160)}, build={"dockerfiles": str(dockerfiles)},
    )
    service = build_service(config, engine_factory=lambda: engine)
    engine.stored["debian:bookworm-slim"] = ""
    for name, ref in (("tiny", "ipynbsrv/tiny:latest"), ("gone", "ipynbsrv/gone:latest"),
                      ("pulled", "example.org/pulled:1")):
        engine.stored[ref] = ""
        service.register_image(ROOT, name, ref, is_public=True)
    service.create_user(ROOT, "alice", "alice-password")
    service.create_user(ROOT, "admin", "admin-password", is_admin=True)
    alice = service.actor_for_username("alice")
    made = {name: service.create_container(alice, name, name) for name in ("tiny", "gone", "pulled")}
    engine.containers.clear()
    engine.states.clear()
    engine.stored = {"debian:bookworm-slim": ""}
    Setting.create(key=RECOVERED_KEY, value="snapshot-id")
    yield service, engine, made
    service.live.rebuilds.wait(timeout=30)
    close_database()


def test_an_image_whose_source_folder_is_gone_or_that_no_dockerfile_made_is_flagged_and_its_notebooks_stay(
    restored,
):
    service, _engine, made = restored
    report = service.reconcile(ROOT)
    gone, pulled = made["gone"], made["pulled"]
    dockerfiles = service.config.build.dockerfiles
    assert (
        f"alice/gone (#{gone.id}): not made again after the restore: its image ipynbsrv/gone:latest is not "
        f"on this engine and its source folder gone/ is gone from {dockerfiles}/: put the folder back (from "
        "the old host or the project's dockerfiles/) and reconcile again, or load the image (`docker load`)"
    ) in report.flagged
    assert (
        f"alice/pulled (#{pulled.id}): not made again after the restore: its image example.org/pulled:1 is "
        "not on this engine and nothing records a Dockerfile for it (a commit or snapshot of a notebook, or "
        "an image pulled or imported by hand): load it here (`docker save` on the old host, `docker load` "
        "on this one), then reconcile again"
    ) in report.flagged
    assert Container.select().count() == 3  # the rows stay
    assert Setting.get_or_none(Setting.key == RECOVERED_KEY) is not None  # later reconciles try again


def test_a_failed_rebuild_is_reported_to_admins_with_its_error_flagged_and_not_started_again(restored):
    service, _engine, made = restored
    report = service.reconcile(ROOT)
    build = Build.get(Build.image_ref == "ipynbsrv/tiny:latest")
    assert (f"rebuilding image ipynbsrv/tiny:latest for 1 notebook (build #{build.id}, from tiny/); they are "
            "made again when it finishes") in report.repaired
    service.live.rebuilds.wait(timeout=30)
    build = Build.get_by_id(build.id)
    assert build.status == "failed" and "builds nothing" in build.error
    assert Notification.select().where(Notification.message.contains(
        f"Rebuilding image ipynbsrv/tiny:latest after the restore failed (build #{build.id})")).exists()
    again = service.reconcile(ROOT)
    tiny = made["tiny"]
    assert [
        line
        for line in again.flagged
        if line.startswith(
            f"alice/tiny (#{tiny.id}): not made again after the "
            f"restore: rebuilding its image ipynbsrv/tiny:latest failed (build #{build.id}): "
        )
        and "builds nothing" in line
        and "== [1/2] ipynbsrv/base-x:latest from base-x/" in line  # bases first
        and line.endswith(
            "build it with `ipynbsrv-tui images build tiny --tag ipynbsrv/tiny:latest`, then reconcile again"
        )
    ]
    assert Build.select().count() == 1  # not started again by itself
    assert Setting.get_or_none(Setting.key == REBUILDS_KEY) is not None
    assert Container.select().count() == 3


def test_where_an_image_was_built_from_comes_from_its_last_successful_build_then_its_name(restored, tmp_path):
    service, _engine, _made = restored
    config = service.config.build
    other = tmp_path / "elsewhere" / "tiny"
    other.mkdir(parents=True)
    (other / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    Build.create(
        image_ref="ipynbsrv/tiny:2",
        context=str(other),
        build_args='{"BASE_IMAGE": "debian:bookworm-slim"}',
        status="succeeded",
    )
    recorded = image_source("ipynbsrv/tiny:2", None, config)
    assert recorded is not None and (recorded.folder, recorded.build_args, recorded.present) == (
        str(other), {"BASE_IMAGE": "debian:bookworm-slim"}, True)
    by_name = image_source("ipynbsrv/tiny:latest", Image.get(Image.name == "tiny"), config)
    assert by_name is not None and by_name.present and by_name.folder.endswith("/dockerfiles/tiny")
    assert image_source("example.org/pulled:1", Image.get(Image.name == "pulled"), config) is None
