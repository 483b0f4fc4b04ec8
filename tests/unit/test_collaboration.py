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
from ipynbsrv_tui.store.models import Container, RetiredId
from tests.fixtures.recorded_service import ROOT
from tests.unit.fake_engine import RecordingEngine


class SpecEngine(RecordingEngine):
    """Keeps the spec of every container it creates."""

    def __init__(self) -> None:
        super().__init__()
        self.specs = []

    def create(self, spec):
        self.specs.append(spec)
        return super().create(spec)


@pytest.fixture
def recording_engine() -> SpecEngine:
    return SpecEngine()


@pytest.fixture
def people(recorded_service):
    recorded_service.register_image(ROOT, "tiny", "ipynbsrv-test/tiny:latest", is_public=True)
    for name in ("alice", "bob", "carol"):
        recorded_service.create_user(ROOT, name, f"{name}-password")
    return {name: recorded_service.actor_for_username(name) for name in ("alice", "bob", "carol")}


def _lab(recorded_service, people):
    alice, bob = people["alice"], people["bob"]
    recorded_service.create_collab_group(alice, "lab")
    recorded_service.add_collab_member(alice, "lab", "bob")
    recorded_service.create_share(alice, "thesis", description="Our thesis")
    return alice, bob, people["carol"]


def test_groups_are_directory_groups_with_creator_admins_and_personal_groups(recorded_service, people):
    alice, bob, carol = _lab(recorded_service, people)
    lab = recorded_service.collab_group(alice, "lab")
    assert (lab.creator, lab.admins, lab.members) == ("alice", ("alice",), ("alice", "bob"))
    assert set(recorded_service.directory.get_group("lab").members) == {"alice", "bob"}
    assert recorded_service.directory.get_group("lab").gid == lab.gid
    personal = recorded_service.collab_group(carol, "carol")
    assert personal.is_personal and personal.members == ("carol",)
    assert "lab" not in [g.name for g in recorded_service.collab_groups(carol)]
    with pytest.raises(NotFound, match="No group named 'lab'"):
        recorded_service.collab_group(carol, "lab")
    with pytest.raises(NotFound):
        recorded_service.join_group(carol, "lab")
    with pytest.raises(NotAuthorized):
        recorded_service.add_collab_member(bob, "lab", "carol")  # a member, not a group admin
    recorded_service.add_collab_member(alice, "lab", "bob", admin=True)
    recorded_service.add_collab_member(bob, "lab", "carol")  # now bob is a group admin
    assert recorded_service.collab_group(carol, "lab").members == ("alice", "bob", "carol")
    assert {g.name for g in recorded_service.collab_groups(ROOT)} >= {"lab", "alice", "bob", "carol"}
    with pytest.raises(AlreadyExists):
        recorded_service.create_collab_group(carol, "alice")  # alice's personal group
    with pytest.raises(ValidationError):
        recorded_service.leave_group(carol, "carol")


def test_public_groups_are_joined_and_left(recorded_service, people):
    alice, carol = people["alice"], people["carol"]
    recorded_service.create_collab_group(alice, "open", public=True)
    assert "open" in [g.name for g in recorded_service.collab_groups(carol)]
    recorded_service.join_group(carol, "open")
    assert "carol" in recorded_service.directory.get_group("open").members
    notes = recorded_service.list_notifications(alice)
    assert notes[0].message == "carol joined open." and notes[0].sender == ""
    recorded_service.leave_group(carol, "open")
    assert "carol" not in recorded_service.directory.get_group("open").members
    assert recorded_service.list_notifications(alice)[0].message == "carol left open."
    with pytest.raises(NotAuthorized):
        recorded_service.delete_collab_group(carol, "open")
    recorded_service.delete_collab_group(alice, "open")
    with pytest.raises(NotFound):
        recorded_service.directory.get_group("open")


def test_a_share_is_a_setgid_folder_of_its_own_group_used_by_granted_groups(
    recorded_service, recording_engine, people
):
    alice, bob, carol = _lab(recorded_service, people)
    share = recorded_service.get_share(alice, "thesis")
    folder = recorded_service.data.share_of("thesis")
    info = os.stat(folder)
    assert stat.S_IMODE(info.st_mode) == 0o2770 and info.st_gid == share.gid
    assert share.group == "share-thesis" and share.members == ("alice",)
    with pytest.raises(NotFound, match="No share named 'thesis'"):
        recorded_service.get_share(bob, "thesis")
    change = recorded_service.grant_share(alice, "thesis", "lab")
    assert change.notified == ("bob",) and "restart" in change.note
    assert set(recorded_service.directory.get_group("share-thesis").members) == {"alice", "bob"}
    assert [s.name for s in recorded_service.list_shares(bob)] == ["thesis"]
    assert recorded_service.list_shares(carol) == []
    with pytest.raises(NotFound):
        recorded_service.get_share(carol, "thesis")
    with pytest.raises(NotFound):
        recorded_service.grant_share(carol, "thesis", "carol")
    with pytest.raises(NotAuthorized):
        recorded_service.revoke_share(bob, "thesis", "lab")

    view = recorded_service.create_container(bob, "nb", "tiny")
    spec = recording_engine.specs[-1]
    targets = [m.target for m in spec.mounts]
    assert "/data/shares/thesis" in targets and "/data/shares" not in targets
    assert spec.group_add == (share.gid,) and spec.environment["NB_GROUPS"] == str(share.gid)
    recorded_service.create_container(carol, "nb", "tiny")
    assert not any(m.target.startswith("/data/shares") for m in recording_engine.specs[-1].mounts)

    recorded_service.revoke_share(alice, "thesis", "lab")
    assert recorded_service.directory.get_group("share-thesis").members == ("alice",)
    assert recorded_service.list_shares(bob) == []
    assert view.id


def test_a_restart_after_a_grant_remakes_the_notebook_with_the_share_and_engine_failures_show(
    recorded_service, recording_engine, people
):
    """The share change goes through the engine contract (Engine.remake): the fake, like the real
    engines, is asked; an engine failure fails the restart instead of being swallowed."""
    alice, bob, _carol = _lab(recorded_service, people)
    view = recorded_service.create_container(bob, "nb", "tiny")
    assert not any(t.startswith("/data/shares") for t in recording_engine.mount_targets(view.docker_id))
    recorded_service.grant_share(alice, "thesis", "lab")
    restarted = recorded_service.restart_container(bob, view.id)
    assert restarted.docker_id != view.docker_id and restarted.image_ref.startswith("ipynbsrv-keep/")
    assert "/data/shares/thesis" in recording_engine.mount_targets(restarted.docker_id)
    assert (
        recorded_service.restart_container(bob, view.id).docker_id == restarted.docker_id
    )  # nothing changed: kept

    def broken(container_id):
        raise EngineError("the engine is gone")

    recording_engine.mount_targets = broken
    recorded_service.revoke_share(alice, "thesis", "lab")
    with pytest.raises(EngineError, match="the engine is gone"):
        recorded_service.restart_container(bob, view.id)


def test_membership_changes_follow_to_granted_shares(recorded_service, people):
    alice, bob, carol = _lab(recorded_service, people)
    recorded_service.grant_share(alice, "thesis", "lab")
    recorded_service.add_collab_member(alice, "lab", "carol")
    assert "carol" in recorded_service.directory.get_group("share-thesis").members
    recorded_service.leave_group(carol, "lab")
    assert "carol" not in recorded_service.directory.get_group("share-thesis").members
    recorded_service.create_collab_group(carol, "desk")
    recorded_service.add_collab_member(carol, "desk", "alice")
    recorded_service.grant_share(
        alice, "thesis", "carol"
    )  # a single user in a group with her, through her personal group
    assert "carol" in recorded_service.get_share(carol, "thesis").members


@pytest.mark.parametrize("containers", ["delete", "keep"])
def test_a_deleted_users_personal_group_goes_and_a_new_account_of_that_name_inherits_nothing(
        recorded_service, people, containers):
    alice, bob, carol = _lab(recorded_service, people)
    recorded_service.add_collab_member(alice, "lab", "carol")
    recorded_service.grant_share(alice, "thesis", "carol")  # through carol's personal group
    assert "carol" in recorded_service.get_share(carol, "thesis").members
    if containers == "keep":  # kept: carol stays as a disabled account that owns it
        recorded_service.create_container(carol, "nb", "tiny", start=False)
    recorded_service.delete_user(ROOT, "carol", containers=containers, data="delete")
    assert "carol" not in recorded_service.directory.get_group("share-thesis").members
    assert "carol" not in {g.name for g in recorded_service.directory.list_groups()}
    assert "carol" not in [v.name for v in recorded_service.collab_groups(ROOT)]
    if containers == "delete":  # the name is free again: a new carol starts with nothing shared
        recorded_service.create_user(ROOT, "carol", "carol-password")
        new_carol = recorded_service.actor_for_username("carol")
        assert recorded_service.list_shares(new_carol) == []
        assert "carol" not in recorded_service.directory.get_group("share-thesis").members
        assert recorded_service.collab_group(new_carol, "carol").members == (
            "carol",
        )  # a fresh personal group


@pytest.mark.parametrize("choice", ["keep", "archive", "delete"])
def test_deleting_a_share_keeps_archives_or_deletes_its_data(recorded_service, people, choice):
    alice, bob, carol = _lab(recorded_service, people)
    (recorded_service.data.share_of("thesis") / "x.txt").write_text("draft")
    with pytest.raises(NotFound):
        recorded_service.delete_share(carol, "thesis")
    gid = recorded_service.get_share(alice, "thesis").gid
    report = recorded_service.delete_share(alice, "thesis", data=choice)
    assert not recorded_service.data.share_of("thesis").exists()  # out of the namespace whatever the choice
    assert bool(report.archived) == (choice == "archive")
    assert bool(report.kept) == (choice == "keep")
    with pytest.raises(NotFound):
        recorded_service.directory.get_group("share-thesis")
    assert recorded_service.list_shares(ROOT) == []
    kept = recorded_service.list_kept(ROOT)
    if choice == "keep":
        (view,) = kept
        assert (view.path, view.owner, view.ids) == (report.kept, "share thesis", (f"gid {gid}",))
        assert (Path(report.kept) / "x.txt").read_text() == "draft"
        assert Path(report.kept).parent == recorded_service.data.archive / "kept"
        assert stat.S_IMODE(Path(report.kept).stat().st_mode) == 0o700
    else:
        assert kept == []
    # the next share of the name starts empty; while a kept folder has files with the gid, it is not handed
    # out
    again = recorded_service.create_share(carol, "thesis")
    assert list(recorded_service.data.share_of("thesis").iterdir()) == []
    if choice == "keep":
        assert again.gid != gid


def test_a_retired_gid_waits_for_the_kept_folder_and_the_containers_that_ran_with_it(
    recorded_service, people
):
    alice, bob, carol = _lab(recorded_service, people)
    gid = recorded_service.get_share(alice, "thesis").gid
    container = recorded_service.create_container(alice, "nb", "tiny")
    Container.update(state="running").where(Container.id == container.id).execute()
    report = recorded_service.delete_share(alice, "thesis", data="keep")
    assert report.restart_needed == ("alice/nb",)
    for name in ("g1", "g2"):  # the directory hands out other numbers meanwhile
        assert recorded_service.create_collab_group(bob, name).gid != gid
    with pytest.raises(NotAuthorized):
        recorded_service.purge_kept(bob, Path(report.kept).name)
    purged = recorded_service.purge_kept(ROOT, Path(report.kept).name)
    assert purged.ids == (f"gid {gid}",) and not Path(report.kept).exists()
    # alice's notebook has run since before the delete: it may still carry the gid
    assert RetiredId.select().where(RetiredId.number == gid).exists()
    Container.update(state="exited").where(Container.id == container.id).execute()
    assert recorded_service.release_retired_ids() == [f"gid {gid}"]


def test_deleting_a_group_or_a_user_retires_their_ids_and_a_kept_home_leaves_the_namespace(
    recorded_service, people
):
    alice, bob, carol = _lab(recorded_service, people)
    lab_gid = recorded_service.collab_group(alice, "lab").gid
    container = recorded_service.create_container(alice, "nb", "tiny")
    Container.update(state="running").where(Container.id == container.id).execute()
    recorded_service.delete_collab_group(alice, "lab")
    carol_uid = recorded_service.get_user(ROOT, "carol").uid
    home = recorded_service.data.ensure_user("carol", carol_uid, 2000)
    (home / "notes.txt").write_text("carol's")
    report = recorded_service.delete_user(ROOT, "carol", containers="delete", data="keep")
    assert not recorded_service.data.home_of("carol").exists()
    retired = {(r.kind, r.number) for r in RetiredId.select()}
    assert {("gid", lab_gid), ("uid", carol_uid)} <= retired
    kept = {view.path: view for view in recorded_service.list_kept(ROOT)}
    assert kept[report.kept[0]].ids == (f"uid {carol_uid}",)
    assert (Path(report.kept[0]) / "notes.txt").read_text() == "carol's"
    recorded_service.create_user(ROOT, "carol", "carol-password")
    assert recorded_service.get_user(ROOT, "carol").uid != carol_uid
    assert not recorded_service.data.home_of("carol").exists() or not any(
        recorded_service.data.home_of("carol").iterdir()
    )
    assert recorded_service.create_collab_group(alice, "lab").gid != lab_gid


def test_a_folder_kept_before_the_upgrade_is_moved_aside_not_given_to_the_next_share(
    recorded_service, people
):
    stale = recorded_service.data.share_of("oldproj")
    stale.mkdir(parents=True)
    (stale / "secret.txt").write_text("alice's")
    recorded_service.create_share(people["carol"], "oldproj")
    assert list(recorded_service.data.share_of("oldproj").iterdir()) == []
    (kept,) = recorded_service.list_kept(ROOT)
    assert (
        kept.name.startswith("share-oldproj-") and (Path(kept.path) / "secret.txt").read_text() == "alice's"
    )


def test_deleting_a_share_while_someone_writes_into_it_takes_it_all(recorded_service, people):
    alice, bob, carol = _lab(recorded_service, people)
    folder = recorded_service.data.share_of("thesis")
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
        report = recorded_service.delete_share(alice, "thesis", data="archive")
    finally:
        stop.set()
        writer.join()
    assert report.archived and report.removed and not report.kept
    assert recorded_service.list_shares(ROOT) == []
    assert not any(path.name.startswith("share-thesis") for path in recorded_service.data.kept_folders())


def test_notifications_reach_members_with_read_marks_and_limits(recorded_service, people):
    alice, bob, carol = _lab(recorded_service, people)
    assert recorded_service.unread_count(bob) == 1  # "bob joined lab (added by alice)"
    sent = recorded_service.send_notification(
        alice, "lab", "[bold]meeting[/] at 3", kind="share", target="thesis"
    )
    inbox = recorded_service.list_notifications(bob)
    assert inbox[0].message == "[bold]meeting[/] at 3" and inbox[0].sender == "alice"
    assert recorded_service.list_notifications(alice) == [] or all(
        n.id != sent.id for n in recorded_service.list_notifications(alice)
    )
    with pytest.raises(NotFound):
        recorded_service.send_notification(carol, "lab", "hello")
    with pytest.raises(NotFound):
        recorded_service.mark_read(carol, sent.id)
    recorded_service.unread_counts.interval = 0
    assert recorded_service.unread_count(bob) == 2
    assert recorded_service.mark_read(bob, sent.id) == 1
    assert recorded_service.unread_count(bob) == 1
    assert recorded_service.mark_read(bob) == 1 and recorded_service.unread_count(bob) == 0
    with pytest.raises(ValidationError, match="longer than 1000"):
        recorded_service.send_notification(alice, "lab", "x" * (validation.NOTIFICATION_MAX + 1))
    with pytest.raises(ValidationError):
        recorded_service.send_notification(alice, "lab", "bell \x07")
    with pytest.raises(ValidationError, match="longer than 26"):
        recorded_service.create_share(alice, "s" * 27)
    with pytest.raises(ValidationError):
        recorded_service.create_collab_group(alice, "g" * 33)


def test_sharing_an_image_with_a_group_notifies_and_lets_members_use_it(recorded_service, people):
    alice, bob, carol = _lab(recorded_service, people)
    recorded_service.register_image(ROOT, "private", "ipynbsrv-test/private:latest", is_public=False)
    with pytest.raises(NotAuthorized):
        recorded_service.create_container(bob, "nb", "private")
    with pytest.raises(NotFound):
        recorded_service.share_image(bob, "private", "lab")
    change = recorded_service.share_image(ROOT, "private", "lab")
    assert set(change.notified) == {"alice", "bob"}
    bob = recorded_service.actor_for_username("bob")
    recorded_service.create_container(bob, "nb", "private")
    assert recorded_service.list_notifications(bob)[0].kind == "image"


def test_unread_counts_read_the_database_at_most_once_a_second(recorded_service, people):
    alice, bob, carol = _lab(recorded_service, people)
    counts = recorded_service.unread_counts
    counts.interval = 1.0
    recorded_service.unread_count(bob)
    before = counts.queries
    for _ in range(1000):
        recorded_service.unread_count(bob)
    assert counts.queries == before


def test_co_admins_cannot_remove_or_demote_the_creator_or_delete_the_group(recorded_service, people):
    """Issue 20 item 4 (DESIGN §8): the creator manages the group; co-admins manage the others."""
    alice, bob, carol = _lab(recorded_service, people)
    recorded_service.add_collab_member(alice, "lab", "bob", admin=True)
    recorded_service.add_collab_member(bob, "lab", "carol", admin=True)
    for admin_only in (True, False):
        with pytest.raises(NotAuthorized, match="alice created lab: only they or an admin"):
            recorded_service.remove_collab_member(bob, "lab", "alice", admin_only=admin_only)
    with pytest.raises(NotAuthorized, match="Only alice, who created lab, or an admin may delete it"):
        recorded_service.delete_collab_group(bob, "lab")
    lab = recorded_service.collab_group(alice, "lab")
    assert lab.creator == "alice" and "alice" in lab.admins and "alice" in lab.members
    recorded_service.remove_collab_member(bob, "lab", "carol", admin_only=True)  # other co-admins: as before
    assert recorded_service.collab_group(bob, "lab").admins == ("alice", "bob")
    recorded_service.remove_collab_member(ROOT, "lab", "alice", admin_only=True)  # an admin may
    recorded_service.add_collab_member(ROOT, "lab", "alice", admin=True)
    recorded_service.remove_collab_member(alice, "lab", "alice", admin_only=True)  # the creator steps down
    recorded_service.delete_collab_group(alice, "lab")  # and, no longer a group admin, still may delete
    with pytest.raises(NotFound):
        recorded_service.collab_group(ROOT, "lab")


def test_a_taken_name_answers_one_neutral_line_and_personal_groups_need_a_shared_group(
    recorded_service, people
):
    """Issue 20 item 6: whatever holds a name (a group, a user's personal group, a configured group,
    a group only the directory has, a share, a share's group), creating a group or share of that
    name answers the same line; and a grant to a user's personal group answers like one to a group
    one cannot see unless the two users are in a group together."""
    alice, bob, carol = _lab(recorded_service, people)
    recorded_service.directory.create_group("staff")  # in the directory only, not in the store
    recorded_service.directory.create_group("share-old")  # a share's group without the share
    answers = set()
    for create, name in [
        (recorded_service.create_collab_group, n) for n in ("lab", "bob", "staff", "ipynbsrv-users")
    ] + [(recorded_service.create_share, n) for n in ("thesis", "old")]:
        with pytest.raises(AlreadyExists) as caught:
            create(carol, name)
        answers.add(str(caught.value).replace(repr(name), "<name>"))
    assert answers == {"The name <name> is taken: choose another name."}
    recorded_service.create_share(carol, "mine")
    outcomes = set()
    for name in ("bob", "nosuchuser", "lab"):  # bob shares no group with carol; lab is private
        with pytest.raises(NotFound) as caught:
            recorded_service.grant_share(carol, "mine", name)
        outcomes.add(str(caught.value).replace(repr(name), "<name>"))
    assert outcomes == {"No group named <name>."}
    assert "bob" not in recorded_service.get_share(carol, "mine").members
    recorded_service.add_collab_member(alice, "lab", "carol")  # now carol and bob are in lab together
    recorded_service.grant_share(carol, "mine", "bob")
    assert "bob" in recorded_service.get_share(carol, "mine").members


def test_messages_and_changes_that_notify_are_limited_per_sender_and_repeats_coalesce(
    recorded_service, people
):
    """Issue 20 item 3: 1,500 messages to a group in 3 s, and 600 system notifications from granting
    and revoking one's share on another user's personal group, pushed real ones out of inboxes."""
    from ipynbsrv_tui.domain import RateLimited
    from ipynbsrv_tui.service import notifications

    alice, bob, carol = _lab(recorded_service, people)
    for n in range(notifications.MESSAGES_PER_WINDOW):
        recorded_service.send_notification(bob, "lab", f"message {n}")
    with pytest.raises(
        RateLimited, match=r"You sent 10 messages in the last 60 s, the most allowed: try again in \d+ s"
    ):
        recorded_service.send_notification(bob, "lab", "one too many")
    recorded_service.send_notification(alice, "lab", "others still send")  # per sender
    for _ in range(3):
        recorded_service.send_notification(ROOT, "lab", "admins are not limited")
    assert sum(1 for n in recorded_service.list_notifications(alice) if n.sender == "bob") == 10

    recorded_service.add_collab_member(
        alice, "lab", "carol"
    )  # carol is in a group with alice: her personal group is reachable
    before = len(recorded_service.list_notifications(carol))
    changes = notifications.CHANGES_PER_WINDOW - 2  # adding bob and carol were two
    for n in range(changes):
        (recorded_service.grant_share if n % 2 == 0 else recorded_service.revoke_share)(
            alice, "thesis", "carol"
        )
    with pytest.raises(RateLimited, match="made 30 changes that notify others"):
        recorded_service.grant_share(alice, "thesis", "carol")
    inbox = recorded_service.list_notifications(carol)
    assert len(inbox) == before + 1  # the grants and revokes are one notification, counted
    assert inbox[0].repeats == changes and not inbox[0].read
    assert inbox[0].message == "alice revoked carol's access to the share thesis."  # the latest of them
    recorded_service.mark_read(carol, inbox[0].id)
    recorded_service.sender_limits.take = lambda *args: 0.0  # a minute later
    recorded_service.grant_share(alice, "thesis", "carol")
    again = recorded_service.list_notifications(carol)[0]
    assert again.id == inbox[0].id and again.repeats == changes + 1 and not again.read  # unread again


def test_a_user_mutes_a_sender_or_a_group(recorded_service, people):
    alice, bob, carol = _lab(recorded_service, people)
    recorded_service.add_collab_member(alice, "lab", "carol")
    assert recorded_service.mute(carol, "user", "alice") == ["user:alice"]
    assert recorded_service.mute(bob, "group", "lab") == ["group:lab"]
    recorded_service.send_notification(alice, "lab", "from alice")
    recorded_service.grant_share(alice, "thesis", "lab")  # a system notice of what alice did
    recorded_service.send_notification(carol, "lab", "from carol")
    carols = [n.message for n in recorded_service.list_notifications(carol)]
    bobs = [n.message for n in recorded_service.list_notifications(bob)]
    assert "from alice" not in carols and not any("shared thesis" in m for m in carols)
    assert "from alice" not in bobs and "from carol" not in bobs
    assert "from carol" in [n.message for n in recorded_service.list_notifications(alice)]
    assert recorded_service.mute(carol, "user", "alice", undo=True) == [] and recorded_service.list_mutes(
        bob
    ) == ["group:lab"]
    recorded_service.send_notification(alice, "lab", "heard again")
    assert recorded_service.list_notifications(carol)[0].message == "heard again"
    with pytest.raises(NotFound, match="No user named 'nosuchuser'"):
        recorded_service.mute(carol, "user", "nosuchuser")
    with pytest.raises(NotFound, match="No group named 'bob' that you belong to"):
        recorded_service.mute(carol, "group", "bob")  # another user's personal group
    with pytest.raises(ValidationError):
        recorded_service.mute(carol, "everyone", "lab")


def test_a_restart_remakes_a_notebook_whose_share_was_made_again_under_its_name(
    recorded_service, recording_engine, people
):
    """A share deleted and made again under the same name has another gid: the mount targets are
    the same, so a restart that compared names only kept the old gid (and so no access to the new
    folder); it compares the gids too."""
    alice, bob, _carol = _lab(recorded_service, people)
    recorded_service.grant_share(alice, "thesis", "lab")
    view = recorded_service.create_container(bob, "nb", "tiny")
    old_gid = recorded_service.get_share(alice, "thesis").gid
    assert recording_engine.specs[-1].environment["NB_GROUPS"] == str(old_gid)
    recorded_service.delete_share(alice, "thesis", data="delete")
    recorded_service.create_share(alice, "thesis")
    recorded_service.grant_share(alice, "thesis", "lab")
    new_gid = recorded_service.get_share(alice, "thesis").gid
    assert new_gid != old_gid  # the old one is retired while bob's notebook may carry it
    restarted = recorded_service.restart_container(bob, view.id)
    assert restarted.docker_id != view.docker_id
    assert recording_engine.specs[-1].environment["NB_GROUPS"] == str(new_gid)
    assert recording_engine.inspect(restarted.docker_id).labels["ipynbsrv.share-gids"] == f"thesis:{new_gid}"
    assert (
        recorded_service.restart_container(bob, view.id).docker_id == restarted.docker_id
    )  # nothing changed: kept
