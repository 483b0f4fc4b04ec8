"""Security properties of the service that need no Docker Engine: the engine is a recording fake.

What is checked: engine image references never collide between users or containers (and are valid
for names the service accepts), the caller's uid maps to one directory user only when the host
agrees, and calls on a container without an engine object end in a clear error.
"""

from __future__ import annotations

import pwd

import pytest

from ipynbsrv_tui import validation
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.directory import base
from ipynbsrv_tui.domain import (
    Actor,
    AlreadyExists,
    EngineEvent,
    NotAuthorized,
    NotFound,
    ValidationError,
)
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import Container, Setting, User
from tests.fixtures.recorded_service import ROOT, make_recorded_service


@pytest.fixture
def users(recorded_service):
    """bob and bob-x: one name is the other's plus a dash, the classic way to make `a-b` ambiguous."""
    recorded_service.register_image(ROOT, "tiny", "ipynbsrv-test/tiny:latest", is_public=True)
    for name in ("bob", "bob-x"):
        recorded_service.create_user(ROOT, name, f"{name}-password")
    return {name: recorded_service.actor_for_username(name) for name in ("bob", "bob-x")}


def test_snapshots_of_different_users_never_share_an_image_reference(
    recorded_service, recording_engine, users
):
    victim = recorded_service.create_container(users["bob"], "x-nb", "tiny")
    mine = recorded_service.snapshot_container(users["bob"], victim.id, "s1")
    recording_engine.containers.pop(
        victim.docker_id
    )  # removed behind our back: reconcile asks to restore a snapshot
    attacker = recorded_service.create_container(
        users["bob-x"], "nb", "tiny"
    )  # ipynbsrv-bob-x-nb is free again
    theirs = recorded_service.snapshot_container(users["bob-x"], attacker.id, "s1")
    assert mine.image_ref != theirs.image_ref
    assert (
        recording_engine.stored[mine.image_ref] == victim.docker_id
    )  # not overwritten by the other user's commit
    recorded_service.delete_container(users["bob-x"], attacker.id)
    assert mine.image_ref in recording_engine.stored  # deleting theirs does not delete mine


def test_a_commit_that_cannot_be_registered_leaves_no_image_on_the_engine(
    recorded_service, recording_engine, users
):
    """root owns nothing: its commit is refused before the engine commits (issue 28, bug 5, where
    console-user/root:... stayed behind), and a registration that fails after the commit removes it."""
    view = recorded_service.create_container(users["bob"], "nb", "tiny")
    before = dict(recording_engine.stored)
    with pytest.raises(NotAuthorized, match="root is not a directory user"):
        recorded_service.commit_container(ROOT, view.id, "roots-image")
    assert recording_engine.stored == before

    Image = __import__("ipynbsrv_tui.store.models", fromlist=["Image"]).Image
    original = Image.create

    def failing_create(**fields):
        raise RuntimeError("the store refused")

    Image.create = failing_create
    try:
        with pytest.raises(RuntimeError):
            recorded_service.commit_container(users["bob"], view.id, "bobs-image")
    finally:
        Image.create = original
    assert recording_engine.stored == before  # the committed image was removed again


def test_snapshot_names_differing_in_case_are_kept_apart(recorded_service, recording_engine, users):
    view = recorded_service.create_container(users["bob"], "nb", "tiny")
    upper = recorded_service.snapshot_container(users["bob"], view.id, "Before")
    lower = recorded_service.snapshot_container(users["bob"], view.id, "before")
    assert upper.image_ref != lower.image_ref
    assert {upper.image_ref, lower.image_ref} <= set(recording_engine.stored)


@pytest.mark.parametrize("name", ["MyThesis", "nb-", "a..b", "x__y"])
def test_snapshots_and_clones_work_for_every_name_the_service_accepts(
    recorded_service, recording_engine, users, name
):
    view = recorded_service.create_container(users["bob"], name, "tiny")
    snapshot = recorded_service.snapshot_container(users["bob"], view.id, "Snap.1")
    validation.image_reference(snapshot.image_ref)
    clone = recorded_service.clone_container(users["bob"], view.id, f"{name}2")
    validation.image_reference(clone.image_ref)


def test_committed_images_of_different_users_never_share_a_reference(
    recorded_service, recording_engine, users
):
    victim = recorded_service.create_container(users["bob"], "nb", "tiny")
    attacker = recorded_service.create_container(users["bob-x"], "nb", "tiny")
    mine = recorded_service.commit_container(users["bob"], victim.id, "x-foo")
    theirs = recorded_service.commit_container(users["bob-x"], attacker.id, "foo")
    assert mine.ref != theirs.ref
    assert recording_engine.stored[mine.ref] == victim.docker_id


def test_a_clone_under_a_taken_name_commits_nothing_and_keeps_the_first_clone(
    recorded_service, recording_engine, users
):
    source = recorded_service.create_container(users["bob"], "nb", "tiny")
    first = recorded_service.clone_container(users["bob"], source.id, "copy")
    with pytest.raises(AlreadyExists):
        recorded_service.clone_container(users["bob"], source.id, "copy")
    assert recording_engine.stored[first.image_ref] == source.docker_id


def test_calls_on_a_container_without_an_engine_object_fail_clearly(
    recorded_service, recording_engine, users
):
    view = recorded_service.create_container(users["bob"], "nb", "tiny")
    Container.update(docker_id="").where(Container.id == view.id).execute()
    actor = users["bob"]
    for call in (
        lambda: recorded_service.follow_logs(actor, view.id),
        lambda: recorded_service.container_stats(actor, view.id),
        lambda: recorded_service.snapshot_container(actor, view.id, "s1"),
        lambda: recorded_service.clone_container(actor, view.id, "copy"),
        lambda: recorded_service.commit_container(actor, view.id, "mine"),
    ):
        with pytest.raises(NotFound, match="no engine container"):
            call()


def test_log_requests_are_bounded(recorded_service, recording_engine, users):
    view = recorded_service.create_container(users["bob"], "nb", "tiny")
    recorded_service.container_logs(users["bob"], view.id, tail=None)
    recorded_service.container_logs(users["bob"], view.id, tail=10**9)
    recorded_service.container_logs(users["bob"], view.id, tail=-1)
    recorded_service.container_logs(users["bob"], view.id, tail="all")
    assert all(isinstance(tail, int) and 0 <= tail <= 10_000 for tail in recording_engine.log_tails), (
        recording_engine.log_tails
    )


def test_a_directory_user_named_root_is_not_the_superuser(recorded_service):
    with pytest.raises(ValidationError, match="'root' is reserved"):
        recorded_service.create_user(ROOT, "root", "root-password")
    row = User.create(username="root", uid=2999, gid=2999)  # a store written before root was reserved
    with pytest.raises(NotAuthorized, match="root"):
        recorded_service.actor_for_uid(row.uid)


def test_nobody_is_a_system_account_too(recorded_service):
    for name in ("nobody", "nogroup"):
        with pytest.raises(ValidationError, match=f"'{name}' is reserved"):
            recorded_service.create_user(ROOT, name, "nobody-password")
    for number in (65534, 65535):
        with pytest.raises(ValidationError, match="nobody"):
            recorded_service.create_user(ROOT, f"u{number}", "some-password", uid=number)
    assert base.next_free_id([65533], (65530, 65540), "uid", on_host=lambda what, number: False) == 65536


def test_a_uid_that_the_host_gives_another_name_is_refused(tmp_path, recording_engine, monkeypatch):
    host = next(entry for entry in pwd.getpwall() if entry.pw_uid > 0)
    # New uids skip the host's (DESIGN §7); such a directory user still comes about when another
    # tool writes LDAP, which this stands for.
    monkeypatch.setattr("ipynbsrv_tui.directory.base.host_uses", lambda what, number: False)
    recorded_service = make_recorded_service(tmp_path, recording_engine, uid_range=(host.pw_uid, host.pw_uid))
    try:
        recorded_service.create_user(ROOT, "mallory-dir", "mallory-password")
        with pytest.raises(NotAuthorized, match=host.pw_name):
            recorded_service.actor_for_uid(host.pw_uid)
    finally:
        close_database()


def test_replaying_old_events_does_not_let_a_user_rewrite_the_recorded_states(
    recorded_service, recording_engine, users
):
    view = recorded_service.create_container(users["bob"], "nb", "tiny")
    labels = {"ipynbsrv.container": str(view.id), "ipynbsrv.instance": recorded_service.instance_id}
    recording_engine.history.append(EngineEvent("die", view.docker_id, "ipynbsrv-bob-nb", labels, 1000.0))
    mark = Setting.get_or_none(Setting.key == "engine.last_event")
    watch = recorded_service.watch_containers(users["bob-x"], since=0)
    assert list(watch) == []  # bob's container is not theirs to see
    assert recorded_service.get_container(ROOT, view.id).up
    after = Setting.get_or_none(Setting.key == "engine.last_event")
    assert (after.value if after else None) == (mark.value if mark else None)


def test_build_plan_names_the_missing_base_before_the_image(tmp_path, recording_engine):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2] / "dockerfiles"
    config = Config().replace(database={"path": str(tmp_path / "state" / "ipynbsrv.db")},
                              data={"root": str(tmp_path / "data")}, build={"dockerfiles": str(repo)})
    from ipynbsrv_tui.service import build_service

    recorded_service = build_service(config, engine_factory=lambda: recording_engine)
    try:
        recording_engine.stored["debian:bookworm-slim"] = ""
        recording_engine.stored["debian:bullseye-slim"] = ""
        lines = recorded_service.build_plan(ROOT, "ipython3-notebook")
        assert lines == ["ipynbsrv/base-ldap:latest is missing and will be built first, from base-ldap/.",
                         "ipynbsrv/ipython3-notebook:latest will be built from ipython3-notebook/."]
        recording_engine.stored["ipynbsrv/base-ldap:latest"] = ""
        assert recorded_service.build_plan(ROOT, "ipython3-notebook", tag="t/x:1") == [
            "t/x:1 will be built from ipython3-notebook/."]
    finally:
        close_database()


def test_build_defaults_name_the_base_image_a_build_without_args_uses(tmp_path, recording_engine):
    """Issue 28, item 9: the build form starts from these, so a forgotten BASE_IMAGE is shown, not
    silently the Dockerfile's default."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2] / "dockerfiles"
    config = Config().replace(database={"path": str(tmp_path / "state" / "ipynbsrv.db")},
                              data={"root": str(tmp_path / "data")},
                              build={"dockerfiles": str(repo), "base_image": "debian:trixie-slim"})
    from ipynbsrv_tui.service import build_service

    recorded_service = build_service(config, engine_factory=lambda: recording_engine)
    try:
        assert recorded_service.build_defaults(ROOT, "base-ldap") == {"BASE_IMAGE": "debian:trixie-slim"}
        assert recorded_service.build_defaults(ROOT, "ipython3-notebook") == {
            "BASE_IMAGE": "ipynbsrv/base-ldap:latest"}
        with pytest.raises(NotAuthorized):
            recorded_service.build_defaults(Actor("alice", 2001, False), "base-ldap")
    finally:
        close_database()


def test_snapshot_clone_and_commit_tags_follow_the_image_prefix(tmp_path, recording_engine):
    from ipynbsrv_tui.service import build_service

    config = Config().replace(database={"path": str(tmp_path / "state" / "ipynbsrv.db")},
                              data={"root": str(tmp_path / "data")}, notebooks={"port_range": (45100, 45160)},
                              build={"image_prefix": "adminflow"})
    recorded_service = build_service(config, engine_factory=lambda: recording_engine)
    try:
        recorded_service.register_image(ROOT, "tiny", "ipynbsrv-test/tiny:latest", is_public=True)
        recorded_service.create_user(ROOT, "bob", "bob-password")
        bob = recorded_service.actor_for_username("bob")
        view = recorded_service.create_container(bob, "nb", "tiny")
        assert recorded_service.snapshot_container(bob, view.id, "s1").image_ref.startswith(
            "adminflow-snapshots/"
        )
        assert recorded_service.clone_container(bob, view.id, "nb2").image_ref.startswith("adminflow-clones/")
        assert recorded_service.commit_container(bob, view.id, "mine").ref.startswith("adminflow-user/")
    finally:
        close_database()


def test_deleting_a_user_archives_their_containers_through_the_engine_first(
    recorded_service, recording_engine, users
):
    """The export is the engine's (no docker-py in the service); one that fails stops the delete
    before any container is gone, with the engine's own message."""
    import tarfile

    from ipynbsrv_tui.domain import Conflict

    bob = users["bob"]
    first = recorded_service.create_container(bob, "one", "tiny")
    second = recorded_service.create_container(bob, "two", "tiny")

    def refused(container_id, target):
        raise Conflict("Cannot archive the notebook: Swarm keeps no container of it on any node.")

    exporting = recording_engine.export
    recording_engine.export = refused
    with pytest.raises(Conflict, match="keeps no container"):
        recorded_service.delete_user(ROOT, "bob", containers="archive", data="delete")
    assert {c.name for c in Container.select()} == {"one", "two"} and len(recording_engine.containers) == 2
    recording_engine.export = exporting
    report = recorded_service.delete_user(ROOT, "bob", containers="archive", data="delete")
    archives = sorted(a for a in report.archived if a.endswith(".tar.gz"))
    assert [a.rsplit("/", 1)[1] for a in archives] == [
        f"bob-one-{first.id}.tar.gz",
        f"bob-two-{second.id}.tar.gz",
    ]
    with tarfile.open(archives[0]) as tar:
        assert tar.extractfile("etc/hostname").read().decode().endswith("-one")
    assert recording_engine.containers == {} and Container.select().count() == 0
