"""Collaboration (DESIGN §14) on the local directory with a recording engine: groups, shares,
container mounts and groups, notifications, and what non-members get (not found)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from ipynbsrv_tui import validation
from ipynbsrv_tui.domain import AlreadyExists, EngineError, NotAuthorized, NotFound, ValidationError
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import Container, RetiredId
from tests.unit.test_service_security import ROOT, RecordingEngine, _service


class SpecEngine(RecordingEngine):
    """Keeps the spec of every container it creates."""

    def __init__(self) -> None:
        super().__init__()
        self.specs = []

    def create(self, spec):
        self.specs.append(spec)
        return super().create(spec)


@pytest.fixture
def engine() -> SpecEngine:
    return SpecEngine()


@pytest.fixture
def service(tmp_path, engine):
    yield _service(tmp_path, engine)
    close_database()


@pytest.fixture
def people(service):
    service.register_image(ROOT, "tiny", "ipynbsrv-test/tiny:latest", is_public=True)
    for name in ("alice", "bob", "carol"):
        service.create_user(ROOT, name, f"{name}-password")
    return {name: service.actor_for_username(name) for name in ("alice", "bob", "carol")}


def _lab(service, people):
    alice, bob = people["alice"], people["bob"]
    service.create_collab_group(alice, "lab")
    service.add_collab_member(alice, "lab", "bob")
    service.create_share(alice, "thesis", description="Our thesis")
    return alice, bob, people["carol"]


def test_groups_are_directory_groups_with_creator_admins_and_personal_groups(service, people):
    alice, bob, carol = _lab(service, people)
    lab = service.collab_group(alice, "lab")
    assert (lab.creator, lab.admins, lab.members) == ("alice", ("alice",), ("alice", "bob"))
    assert set(service.directory.get_group("lab").members) == {"alice", "bob"}
    assert service.directory.get_group("lab").gid == lab.gid
    personal = service.collab_group(carol, "carol")
    assert personal.is_personal and personal.members == ("carol",)
    assert "lab" not in [g.name for g in service.collab_groups(carol)]
    with pytest.raises(NotFound, match="No group named 'lab'"):
        service.collab_group(carol, "lab")
    with pytest.raises(NotFound):
        service.join_group(carol, "lab")
    with pytest.raises(NotAuthorized):
        service.add_collab_member(bob, "lab", "carol")  # a member, not a group admin
    service.add_collab_member(alice, "lab", "bob", admin=True)
    service.add_collab_member(bob, "lab", "carol")  # now bob is a group admin
    assert service.collab_group(carol, "lab").members == ("alice", "bob", "carol")
    assert {g.name for g in service.collab_groups(ROOT)} >= {"lab", "alice", "bob", "carol"}
    with pytest.raises(AlreadyExists):
        service.create_collab_group(carol, "alice")  # alice's personal group
    with pytest.raises(ValidationError):
        service.leave_group(carol, "carol")


def test_public_groups_are_joined_and_left(service, people):
    alice, carol = people["alice"], people["carol"]
    service.create_collab_group(alice, "open", public=True)
    assert "open" in [g.name for g in service.collab_groups(carol)]
    service.join_group(carol, "open")
    assert "carol" in service.directory.get_group("open").members
    notes = service.list_notifications(alice)
    assert notes[0].message == "carol joined open." and notes[0].sender == ""
    service.leave_group(carol, "open")
    assert "carol" not in service.directory.get_group("open").members
    assert service.list_notifications(alice)[0].message == "carol left open."
    with pytest.raises(NotAuthorized):
        service.delete_collab_group(carol, "open")
    service.delete_collab_group(alice, "open")
    with pytest.raises(NotFound):
        service.directory.get_group("open")


def test_a_share_is_a_setgid_folder_of_its_own_group_used_by_granted_groups(service, engine, people):
    alice, bob, carol = _lab(service, people)
    share = service.get_share(alice, "thesis")
    folder = service.data.share_of("thesis")
    info = os.stat(folder)
    assert stat.S_IMODE(info.st_mode) == 0o2770 and info.st_gid == share.gid
    assert share.group == "share-thesis" and share.members == ("alice",)
    with pytest.raises(NotFound, match="No share named 'thesis'"):
        service.get_share(bob, "thesis")
    change = service.grant_share(alice, "thesis", "lab")
    assert change.notified == ("bob",) and "restart" in change.note
    assert set(service.directory.get_group("share-thesis").members) == {"alice", "bob"}
    assert [s.name for s in service.list_shares(bob)] == ["thesis"]
    assert service.list_shares(carol) == []
    with pytest.raises(NotFound):
        service.get_share(carol, "thesis")
    with pytest.raises(NotFound):
        service.grant_share(carol, "thesis", "carol")
    with pytest.raises(NotAuthorized):
        service.revoke_share(bob, "thesis", "lab")

    view = service.create_container(bob, "nb", "tiny")
    spec = engine.specs[-1]
    targets = [m.target for m in spec.mounts]
    assert "/data/shares/thesis" in targets and "/data/shares" not in targets
    assert spec.group_add == (share.gid,) and spec.environment["NB_GROUPS"] == str(share.gid)
    service.create_container(carol, "nb", "tiny")
    assert not any(m.target.startswith("/data/shares") for m in engine.specs[-1].mounts)

    service.revoke_share(alice, "thesis", "lab")
    assert service.directory.get_group("share-thesis").members == ("alice",)
    assert service.list_shares(bob) == []
    assert view.id


def test_a_restart_after_a_grant_remakes_the_notebook_with_the_share_and_engine_failures_show(service, engine, people):
    """The share change goes through the engine contract (Engine.remake): the fake, like the real
    engines, is asked; an engine failure fails the restart instead of being swallowed."""
    alice, bob, _carol = _lab(service, people)
    view = service.create_container(bob, "nb", "tiny")
    assert not any(t.startswith("/data/shares") for t in engine.mount_targets(view.docker_id))
    service.grant_share(alice, "thesis", "lab")
    restarted = service.restart_container(bob, view.id)
    assert restarted.docker_id != view.docker_id and restarted.image_ref.startswith("ipynbsrv-keep/")
    assert "/data/shares/thesis" in engine.mount_targets(restarted.docker_id)
    assert service.restart_container(bob, view.id).docker_id == restarted.docker_id  # nothing changed: kept

    def broken(container_id):
        raise EngineError("the engine is gone")

    engine.mount_targets = broken
    service.revoke_share(alice, "thesis", "lab")
    with pytest.raises(EngineError, match="the engine is gone"):
        service.restart_container(bob, view.id)


def test_membership_changes_follow_to_granted_shares(service, people):
    alice, bob, carol = _lab(service, people)
    service.grant_share(alice, "thesis", "lab")
    service.add_collab_member(alice, "lab", "carol")
    assert "carol" in service.directory.get_group("share-thesis").members
    service.leave_group(carol, "lab")
    assert "carol" not in service.directory.get_group("share-thesis").members
    service.create_collab_group(carol, "desk")
    service.add_collab_member(carol, "desk", "alice")
    service.grant_share(alice, "thesis", "carol")  # a single user in a group with her, through her personal group
    assert "carol" in service.get_share(carol, "thesis").members


@pytest.mark.parametrize("containers", ["delete", "keep"])
def test_a_deleted_users_personal_group_goes_and_a_new_account_of_that_name_inherits_nothing(
        service, people, containers):
    alice, bob, carol = _lab(service, people)
    service.add_collab_member(alice, "lab", "carol")
    service.grant_share(alice, "thesis", "carol")  # through carol's personal group
    assert "carol" in service.get_share(carol, "thesis").members
    if containers == "keep":  # kept: carol stays as a disabled account that owns it
        service.create_container(carol, "nb", "tiny", start=False)
    service.delete_user(ROOT, "carol", containers=containers, data="delete")
    assert "carol" not in service.directory.get_group("share-thesis").members
    assert "carol" not in {g.name for g in service.directory.list_groups()}
    assert "carol" not in [v.name for v in service.collab_groups(ROOT)]
    if containers == "delete":  # the name is free again: a new carol starts with nothing shared
        service.create_user(ROOT, "carol", "carol-password")
        new_carol = service.actor_for_username("carol")
        assert service.list_shares(new_carol) == []
        assert "carol" not in service.directory.get_group("share-thesis").members
        assert service.collab_group(new_carol, "carol").members == ("carol",)  # a fresh personal group


@pytest.mark.parametrize("choice", ["keep", "archive", "delete"])
def test_deleting_a_share_keeps_archives_or_deletes_its_data(service, people, choice):
    alice, bob, carol = _lab(service, people)
    (service.data.share_of("thesis") / "x.txt").write_text("draft")
    with pytest.raises(NotFound):
        service.delete_share(carol, "thesis")
    gid = service.get_share(alice, "thesis").gid
    report = service.delete_share(alice, "thesis", data=choice)
    assert not service.data.share_of("thesis").exists()  # out of the namespace whatever the choice
    assert bool(report.archived) == (choice == "archive")
    assert bool(report.kept) == (choice == "keep")
    with pytest.raises(NotFound):
        service.directory.get_group("share-thesis")
    assert service.list_shares(ROOT) == []
    kept = service.list_kept(ROOT)
    if choice == "keep":
        (view,) = kept
        assert (view.path, view.owner, view.ids) == (report.kept, "share thesis", (f"gid {gid}",))
        assert (Path(report.kept) / "x.txt").read_text() == "draft"
        assert Path(report.kept).parent == service.data.archive / "kept"
        assert stat.S_IMODE(Path(report.kept).stat().st_mode) == 0o700
    else:
        assert kept == []
    # the next share of the name starts empty; while a kept folder has files with the gid, it is not handed out
    again = service.create_share(carol, "thesis")
    assert list(service.data.share_of("thesis").iterdir()) == []
    if choice == "keep":
        assert again.gid != gid


def test_a_retired_gid_waits_for_the_kept_folder_and_the_containers_that_ran_with_it(service, people):
    alice, bob, carol = _lab(service, people)
    gid = service.get_share(alice, "thesis").gid
    container = service.create_container(alice, "nb", "tiny")
    Container.update(state="running").where(Container.id == container.id).execute()
    report = service.delete_share(alice, "thesis", data="keep")
    assert report.restart_needed == ("alice/nb",)
    for name in ("g1", "g2"):  # the directory hands out other numbers meanwhile
        assert service.create_collab_group(bob, name).gid != gid
    with pytest.raises(NotAuthorized):
        service.purge_kept(bob, Path(report.kept).name)
    purged = service.purge_kept(ROOT, Path(report.kept).name)
    assert purged.ids == (f"gid {gid}",) and not Path(report.kept).exists()
    # alice's notebook has run since before the delete: it may still carry the gid
    assert RetiredId.select().where(RetiredId.number == gid).exists()
    Container.update(state="exited").where(Container.id == container.id).execute()
    assert service.release_retired_ids() == [f"gid {gid}"]


def test_deleting_a_group_or_a_user_retires_their_ids_and_a_kept_home_leaves_the_namespace(service, people):
    alice, bob, carol = _lab(service, people)
    lab_gid = service.collab_group(alice, "lab").gid
    container = service.create_container(alice, "nb", "tiny")
    Container.update(state="running").where(Container.id == container.id).execute()
    service.delete_collab_group(alice, "lab")
    carol_uid = service.get_user(ROOT, "carol").uid
    home = service.data.ensure_user("carol", carol_uid, 2000)
    (home / "notes.txt").write_text("carol's")
    report = service.delete_user(ROOT, "carol", containers="delete", data="keep")
    assert not service.data.home_of("carol").exists()
    retired = {(r.kind, r.number) for r in RetiredId.select()}
    assert {("gid", lab_gid), ("uid", carol_uid)} <= retired
    kept = {view.path: view for view in service.list_kept(ROOT)}
    assert kept[report.kept[0]].ids == (f"uid {carol_uid}",)
    assert (Path(report.kept[0]) / "notes.txt").read_text() == "carol's"
    service.create_user(ROOT, "carol", "carol-password")
    assert service.get_user(ROOT, "carol").uid != carol_uid
    assert not service.data.home_of("carol").exists() or not any(service.data.home_of("carol").iterdir())
    assert service.create_collab_group(alice, "lab").gid != lab_gid


def test_a_folder_kept_before_the_upgrade_is_moved_aside_not_given_to_the_next_share(service, people):
    stale = service.data.share_of("oldproj")
    stale.mkdir(parents=True)
    (stale / "secret.txt").write_text("alice's")
    service.create_share(people["carol"], "oldproj")
    assert list(service.data.share_of("oldproj").iterdir()) == []
    (kept,) = service.list_kept(ROOT)
    assert kept.name.startswith("share-oldproj-") and (Path(kept.path) / "secret.txt").read_text() == "alice's"


def test_deleting_a_share_while_someone_writes_into_it_takes_it_all(service, people):
    alice, bob, carol = _lab(service, people)
    folder = service.data.share_of("thesis")
    for index in range(200):
        (folder / f"old-{index}").write_text("x")
    stop = threading.Event()

    def write() -> None:
        index = 0
        while not stop.is_set():
            try:
                (folder / f"new-{index}").write_text("y")
            except OSError:
                pass  # the folder went
            index += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        report = service.delete_share(alice, "thesis", data="archive")
    finally:
        stop.set()
        writer.join()
    assert report.archived and report.removed and not report.kept
    assert service.list_shares(ROOT) == []
    assert not any(path.name.startswith("share-thesis") for path in service.data.kept_folders())


def test_notifications_reach_members_with_read_marks_and_limits(service, people):
    alice, bob, carol = _lab(service, people)
    assert service.unread_count(bob) == 1  # "bob joined lab (added by alice)"
    sent = service.send_notification(alice, "lab", "[bold]meeting[/] at 3", kind="share", target="thesis")
    inbox = service.list_notifications(bob)
    assert inbox[0].message == "[bold]meeting[/] at 3" and inbox[0].sender == "alice"
    assert service.list_notifications(alice) == [] or all(n.id != sent.id for n in service.list_notifications(alice))
    with pytest.raises(NotFound):
        service.send_notification(carol, "lab", "hello")
    with pytest.raises(NotFound):
        service.mark_read(carol, sent.id)
    service.unread_counts.interval = 0
    assert service.unread_count(bob) == 2
    assert service.mark_read(bob, sent.id) == 1
    assert service.unread_count(bob) == 1
    assert service.mark_read(bob) == 1 and service.unread_count(bob) == 0
    with pytest.raises(ValidationError, match="longer than 1000"):
        service.send_notification(alice, "lab", "x" * (validation.NOTIFICATION_MAX + 1))
    with pytest.raises(ValidationError):
        service.send_notification(alice, "lab", "bell \x07")
    with pytest.raises(ValidationError, match="longer than 26"):
        service.create_share(alice, "s" * 27)
    with pytest.raises(ValidationError):
        service.create_collab_group(alice, "g" * 33)


def test_sharing_an_image_with_a_group_notifies_and_lets_members_use_it(service, people):
    alice, bob, carol = _lab(service, people)
    service.register_image(ROOT, "private", "ipynbsrv-test/private:latest", is_public=False)
    with pytest.raises(NotAuthorized):
        service.create_container(bob, "nb", "private")
    with pytest.raises(NotFound):
        service.share_image(bob, "private", "lab")
    change = service.share_image(ROOT, "private", "lab")
    assert set(change.notified) == {"alice", "bob"}
    bob = service.actor_for_username("bob")
    service.create_container(bob, "nb", "private")
    assert service.list_notifications(bob)[0].kind == "image"


def test_unread_counts_read_the_database_at_most_once_a_second(service, people):
    alice, bob, carol = _lab(service, people)
    counts = service.unread_counts
    counts.interval = 1.0
    service.unread_count(bob)
    before = counts.queries
    for _ in range(1000):
        service.unread_count(bob)
    assert counts.queries == before


def test_co_admins_cannot_remove_or_demote_the_creator_or_delete_the_group(service, people):
    """Issue 20 item 4 (DESIGN §8): the creator manages the group; co-admins manage the others."""
    alice, bob, carol = _lab(service, people)
    service.add_collab_member(alice, "lab", "bob", admin=True)
    service.add_collab_member(bob, "lab", "carol", admin=True)
    for admin_only in (True, False):
        with pytest.raises(NotAuthorized, match="alice created lab: only they or an admin"):
            service.remove_collab_member(bob, "lab", "alice", admin_only=admin_only)
    with pytest.raises(NotAuthorized, match="Only alice, who created lab, or an admin may delete it"):
        service.delete_collab_group(bob, "lab")
    lab = service.collab_group(alice, "lab")
    assert lab.creator == "alice" and "alice" in lab.admins and "alice" in lab.members
    service.remove_collab_member(bob, "lab", "carol", admin_only=True)  # other co-admins: as before
    assert service.collab_group(bob, "lab").admins == ("alice", "bob")
    service.remove_collab_member(ROOT, "lab", "alice", admin_only=True)  # an admin may
    service.add_collab_member(ROOT, "lab", "alice", admin=True)
    service.remove_collab_member(alice, "lab", "alice", admin_only=True)  # the creator steps down
    service.delete_collab_group(alice, "lab")  # and, no longer a group admin, still may delete
    with pytest.raises(NotFound):
        service.collab_group(ROOT, "lab")


def test_a_taken_name_answers_one_neutral_line_and_personal_groups_need_a_shared_group(service, people):
    """Issue 20 item 6: whatever holds a name (a group, a user's personal group, a configured group,
    a group only the directory has, a share, a share's group), creating a group or share of that
    name answers the same line; and a grant to a user's personal group answers like one to a group
    one cannot see unless the two users are in a group together."""
    alice, bob, carol = _lab(service, people)
    service.directory.create_group("staff")  # in the directory only, not in the store
    service.directory.create_group("share-old")  # a share's group without the share
    answers = set()
    for create, name in [(service.create_collab_group, n) for n in ("lab", "bob", "staff", "ipynbsrv-users")] + [
            (service.create_share, n) for n in ("thesis", "old")]:
        with pytest.raises(AlreadyExists) as caught:
            create(carol, name)
        answers.add(str(caught.value).replace(repr(name), "<name>"))
    assert answers == {"The name <name> is taken: choose another name."}
    service.create_share(carol, "mine")
    outcomes = set()
    for name in ("bob", "nosuchuser", "lab"):  # bob shares no group with carol; lab is private
        with pytest.raises(NotFound) as caught:
            service.grant_share(carol, "mine", name)
        outcomes.add(str(caught.value).replace(repr(name), "<name>"))
    assert outcomes == {"No group named <name>."}
    assert "bob" not in service.get_share(carol, "mine").members
    service.add_collab_member(alice, "lab", "carol")  # now carol and bob are in lab together
    service.grant_share(carol, "mine", "bob")
    assert "bob" in service.get_share(carol, "mine").members


def test_messages_and_changes_that_notify_are_limited_per_sender_and_repeats_coalesce(service, people):
    """Issue 20 item 3: 1,500 messages to a group in 3 s, and 600 system notifications from granting
    and revoking one's share on another user's personal group, pushed real ones out of inboxes."""
    from ipynbsrv_tui.domain import RateLimited
    from ipynbsrv_tui.service import notifications

    alice, bob, carol = _lab(service, people)
    for n in range(notifications.MESSAGES_PER_WINDOW):
        service.send_notification(bob, "lab", f"message {n}")
    with pytest.raises(RateLimited, match=r"You sent 10 messages in the last 60 s, the most allowed: try again in \d+ s"):
        service.send_notification(bob, "lab", "one too many")
    service.send_notification(alice, "lab", "others still send")  # per sender
    for _ in range(3):
        service.send_notification(ROOT, "lab", "admins are not limited")
    assert sum(1 for n in service.list_notifications(alice) if n.sender == "bob") == 10

    service.add_collab_member(alice, "lab", "carol")  # carol is in a group with alice: her personal group is reachable
    before = len(service.list_notifications(carol))
    changes = notifications.CHANGES_PER_WINDOW - 2  # adding bob and carol were two
    for n in range(changes):
        (service.grant_share if n % 2 == 0 else service.revoke_share)(alice, "thesis", "carol")
    with pytest.raises(RateLimited, match="made 30 changes that notify others"):
        service.grant_share(alice, "thesis", "carol")
    inbox = service.list_notifications(carol)
    assert len(inbox) == before + 1  # the grants and revokes are one notification, counted
    assert inbox[0].repeats == changes and not inbox[0].read
    assert inbox[0].message == "alice revoked carol's access to the share thesis."  # the latest of them
    service.mark_read(carol, inbox[0].id)
    service.sender_limits.take = lambda *args: 0.0  # a minute later
    service.grant_share(alice, "thesis", "carol")
    again = service.list_notifications(carol)[0]
    assert again.id == inbox[0].id and again.repeats == changes + 1 and not again.read  # unread again


def test_a_user_mutes_a_sender_or_a_group(service, people):
    alice, bob, carol = _lab(service, people)
    service.add_collab_member(alice, "lab", "carol")
    assert service.mute(carol, "user", "alice") == ["user:alice"]
    assert service.mute(bob, "group", "lab") == ["group:lab"]
    service.send_notification(alice, "lab", "from alice")
    service.grant_share(alice, "thesis", "lab")  # a system notice of what alice did
    service.send_notification(carol, "lab", "from carol")
    carols = [n.message for n in service.list_notifications(carol)]
    bobs = [n.message for n in service.list_notifications(bob)]
    assert "from alice" not in carols and not any("shared thesis" in m for m in carols)
    assert "from alice" not in bobs and "from carol" not in bobs
    assert "from carol" in [n.message for n in service.list_notifications(alice)]
    assert service.mute(carol, "user", "alice", undo=True) == [] and service.list_mutes(bob) == ["group:lab"]
    service.send_notification(alice, "lab", "heard again")
    assert service.list_notifications(carol)[0].message == "heard again"
    with pytest.raises(NotFound, match="No user named 'nosuchuser'"):
        service.mute(carol, "user", "nosuchuser")
    with pytest.raises(NotFound, match="No group named 'bob' that you belong to"):
        service.mute(carol, "group", "bob")  # another user's personal group
    with pytest.raises(ValidationError):
        service.mute(carol, "everyone", "lab")


def test_a_restart_remakes_a_notebook_whose_share_was_made_again_under_its_name(service, engine, people):
    """A share deleted and made again under the same name has another gid: the mount targets are
    the same, so a restart that compared names only kept the old gid (and so no access to the new
    folder); it compares the gids too."""
    alice, bob, _carol = _lab(service, people)
    service.grant_share(alice, "thesis", "lab")
    view = service.create_container(bob, "nb", "tiny")
    old_gid = service.get_share(alice, "thesis").gid
    assert engine.specs[-1].environment["NB_GROUPS"] == str(old_gid)
    service.delete_share(alice, "thesis", data="delete")
    service.create_share(alice, "thesis")
    service.grant_share(alice, "thesis", "lab")
    new_gid = service.get_share(alice, "thesis").gid
    assert new_gid != old_gid  # the old one is retired while bob's notebook may carry it
    restarted = service.restart_container(bob, view.id)
    assert restarted.docker_id != view.docker_id
    assert engine.specs[-1].environment["NB_GROUPS"] == str(new_gid)
    assert engine.inspect(restarted.docker_id).labels["ipynbsrv.share-gids"] == f"thesis:{new_gid}"
    assert service.restart_container(bob, view.id).docker_id == restarted.docker_id  # nothing changed: kept
