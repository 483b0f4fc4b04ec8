"""The service layer against the real engine and the local directory: use cases and DESIGN §8."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from ipynbsrv_tui.domain import (
    AlreadyExists,
    Conflict,
    ContainerState,
    ImageMissing,
    NameInUse,
    NotAuthorized,
    NotFound,
    ValidationError,
)
from ipynbsrv_tui.store.models import AuditEvent, Container

pytestmark = pytest.mark.docker


def _owned(docker_client, service, owner: str) -> list:
    """Engine containers of `owner` made by this test's service (other tests may share the engine)."""
    labels = [f"ipynbsrv.owner={owner}", f"ipynbsrv.instance={service.instance_id}"]
    return docker_client.containers.list(all=True, filters={"label": labels})


def _engine_state(docker_client, docker_id: str) -> str:
    return docker_client.api.inspect_container(docker_id)["State"]["Status"]


def test_create_runs_the_notebook_as_specified(
    notebook_service, people, registered_tiny, docker_client, service_config
):
    alice = people["alice"]
    view = notebook_service.create_container(alice, "lab", "tiny", description="my [bold]lab[/bold]")
    # The engine runs it, but the tiny image serves no Jupyter: `starting`, its URL not ready (DESIGN §5).
    assert view.owner == "alice" and view.state == ContainerState.STARTING and not view.ready
    low, high = service_config.notebooks.port_range
    assert low <= view.host_port <= high
    attrs = docker_client.api.inspect_container(view.docker_id)
    user = notebook_service.get_user(people["carol"], "alice")
    assert attrs["Name"] == f"/ipynbsrv-{user.uid}-lab"  # a uid has no '-': unambiguous across owners
    labels = attrs["Config"]["Labels"]
    assert len(labels["ipynbsrv.key"]) == 16
    assert labels["ipynbsrv.managed"] == "true" and labels["ipynbsrv.owner"] == "alice"
    assert labels["ipynbsrv.container"] == str(view.id) and labels["ipynbsrv.image"] == "tiny"
    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    assert env["OWNER"] == "alice" and env["NB_UID"] == str(user.uid) and env["NB_GID"] == str(user.gid)
    assert env["BASE_URL"] == "/user/alice/lab/" and env["JUPYTER_TOKEN"] == view.token
    assert env["NOTEBOOK_PORT"] == "8888" and "LDAP_URI" not in env
    host = attrs["HostConfig"]
    assert host["PortBindings"]["8888/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(view.host_port)}]
    assert host["Memory"] == 2 * 1024**3 and host["NanoCpus"] == 1_000_000_000 and host["PidsLimit"] == 512
    assert "no-new-privileges" in " ".join(host["SecurityOpt"] or [])
    targets = {m["Destination"]: m["Source"] for m in attrs["Mounts"]}
    root = service_config.data.path
    assert targets == {
        "/home/alice": str(root / "homes" / "alice"),
        "/data/public": str(root / "public"),
    }  # each usable share is mounted on its own (DESIGN §14); alice has none
    home = root / "homes" / "alice"
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    if os.geteuid() == 0:
        assert (os.stat(home).st_uid, os.stat(home).st_gid) == (user.uid, user.gid)
    assert "my [bold]lab[/bold]" == notebook_service.get_container(alice, view.id).description


def test_port_is_stable_across_stop_start_and_restart(
    notebook_service, people, registered_tiny, docker_client
):
    alice = people["alice"]
    view = notebook_service.create_container(alice, "lab", "tiny")
    notebook_service.stop_container(alice, view.id)
    assert _engine_state(docker_client, view.docker_id) == "exited"
    notebook_service.start_container(alice, view.id)
    notebook_service.restart_container(alice, view.id)
    ports = docker_client.api.inspect_container(view.docker_id)["NetworkSettings"]["Ports"]
    assert ports["8888/tcp"][0]["HostPort"] == str(view.host_port)
    notebook_service.suspend_container(alice, view.id)
    assert _engine_state(docker_client, view.docker_id) == "paused"
    assert notebook_service.resume_container(alice, view.id).up
    second = notebook_service.create_container(alice, "other", "tiny")
    assert second.host_port != view.host_port


def test_authorization_matrix(notebook_service, people, registered_tiny, root_actor):
    """DESIGN §8: owner / other user / admin for every kind of action."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    box = notebook_service.create_container(bob, "box", "tiny")
    # another user: sees nothing of bob's, may do nothing to it
    assert [c.name for c in notebook_service.list_containers(alice)] == []
    for call in (
        lambda: notebook_service.get_container(alice, box.id),
        lambda: notebook_service.connection_info(alice, box.id),
        lambda: notebook_service.stop_container(alice, box.id),
        lambda: notebook_service.delete_container(alice, box.id),
        lambda: notebook_service.container_logs(alice, box.id),
        lambda: notebook_service.snapshot_container(alice, box.id, "s1"),
        lambda: notebook_service.clone_container(alice, box.id, "mine"),
        lambda: notebook_service.commit_container(alice, box.id, "stolen"),
    ):
        # another user's container reads exactly as one that does not exist (DESIGN §8)
        with pytest.raises(NotFound) as caught:
            call()
        assert str(caught.value) == f"Container {box.id} does not exist (it may have been deleted)."
    for call in (
        lambda: notebook_service.create_container(alice, "x", "tiny", owner="bob"),
        lambda: notebook_service.register_image(alice, "mine", "ipynbsrv-test/tiny:latest"),
        lambda: notebook_service.retire_image(alice, "tiny"),
        lambda: notebook_service.delete_image(alice, "tiny"),
        lambda: notebook_service.build_image(alice, "whatever"),
        lambda: notebook_service.create_user(alice, "mallory", "password123"),
        lambda: notebook_service.set_admin(alice, "alice", True),
        lambda: notebook_service.delete_user(alice, "bob"),
        lambda: notebook_service.set_password(alice, "bob", "password123"),
        lambda: notebook_service.reconcile(alice),
    ):
        with pytest.raises(NotAuthorized):
            call()
    refused = (
        AuditEvent.select().where((AuditEvent.actor == "alice") & (AuditEvent.outcome == "refused")).count()
    )
    assert refused == 18
    assert Container.get_by_id(box.id).state == ContainerState.RUNNING.value
    # the owner sees the token; an admin sees it too; list for the owner holds only their own
    assert notebook_service.connection_info(bob, box.id).token == box.token
    assert notebook_service.connection_info(carol, box.id).token == box.token
    assert [c.name for c in notebook_service.list_containers(bob)] == ["box"]
    assert {c.owner for c in notebook_service.list_containers(carol)} == {"bob"}
    # a user may change their own password, an admin may stop anyone's container
    notebook_service.set_password(alice, "alice", "new-password-1")
    assert notebook_service.stop_container(carol, box.id).state == ContainerState.EXITED
    notebook_service.delete_container(root_actor, box.id)


def test_image_access_private_shared_and_retired(notebook_service, people, root_actor, tiny_image):
    alice, bob = people["alice"], people["bob"]
    notebook_service.create_group(root_actor, "physics")
    notebook_service.add_member(root_actor, "physics", "alice")
    notebook_service.register_image(
        root_actor, "private", tiny_image, is_public=False, access_groups=["physics"]
    )
    alice = notebook_service.actor_for_username("alice")
    assert [i.name for i in notebook_service.usable_images(alice)] == ["private"]
    assert notebook_service.usable_images(bob) == []
    with pytest.raises(NotAuthorized):
        notebook_service.create_container(bob, "lab", "private")
    notebook_service.create_container(alice, "lab", "private", start=False)
    notebook_service.retire_image(root_actor, "private")
    with pytest.raises(ValidationError, match="retired"):
        notebook_service.create_container(alice, "lab2", "private")
    with pytest.raises(Conflict, match="alice/lab"):
        notebook_service.delete_image(root_actor, "private")
    with pytest.raises(Conflict, match=r"^1 container uses image 'private' \(alice/lab\)"):
        notebook_service.delete_image(root_actor, "private", check_only=True)  # the UI's question comes after
    lab = next(c for c in notebook_service.list_containers(root_actor) if c.name == "lab")
    notebook_service.delete_container(root_actor, lab.id)
    notebook_service.delete_image(root_actor, "private", check_only=True)
    assert [i.name for i in notebook_service.list_images(root_actor)] == [
        "private"
    ]  # a check deletes nothing


def test_register_validates_and_reads_label_defaults(notebook_service, root_actor, tiny_image):
    defaults = notebook_service.image_defaults(root_actor, tiny_image)
    assert defaults.notebook_port == 8888 and defaults.description == "tiny test image [/bin/sh -c]"
    with pytest.raises(ValidationError, match="image reference"):
        notebook_service.register_image(root_actor, "bad", "Not A Ref")
    with pytest.raises(ValidationError, match="out of range"):
        notebook_service.register_image(root_actor, "bad", tiny_image, notebook_port=70000)
    with pytest.raises(ValidationError, match="Memory size"):
        notebook_service.register_image(root_actor, "bad", tiny_image, memory="2x")
    with pytest.raises(ImageMissing, match="not present"):
        notebook_service.register_image(root_actor, "bad", "ipynbsrv-test/absent:1")
    notebook_service.register_image(root_actor, "tiny", tiny_image, memory="512m", cpus=0.5)
    with pytest.raises(AlreadyExists):
        notebook_service.register_image(root_actor, "tiny", tiny_image)
    view = notebook_service.update_image(root_actor, "tiny", description="edited", public_ports="22, 2222")
    assert view.description == "edited" and view.public_ports == (22, 2222) and view.memory == "512m"


def test_snapshot_restore_clone_commit_and_delete(notebook_service, people, registered_tiny, docker_client):
    alice = people["alice"]
    view = notebook_service.create_container(alice, "lab", "tiny")
    docker_client.containers.get(view.docker_id).exec_run(["sh", "-c", "echo one > /marker"])
    snap = notebook_service.snapshot_container(alice, view.id, "first")
    docker_client.containers.get(view.docker_id).exec_run(["sh", "-c", "echo two > /marker"])
    restored = notebook_service.restore_snapshot(alice, view.id, snap.id)
    assert restored.host_port == view.host_port and restored.token == view.token
    assert restored.docker_id != view.docker_id and restored.up
    marker = docker_client.containers.get(restored.docker_id).exec_run(["cat", "/marker"]).output
    assert marker.strip() == b"one"
    clone = notebook_service.clone_container(alice, view.id, "lab-copy")
    assert clone.clone_of == "lab" and clone.host_port != view.host_port
    assert docker_client.containers.get(clone.docker_id).exec_run(["cat", "/marker"]).output.strip() == b"one"
    image = notebook_service.commit_container(alice, view.id, "alice-env")
    assert image.owner == "alice" and not image.is_public
    assert [i.name for i in notebook_service.usable_images(alice) if i.name == "alice-env"] == ["alice-env"]
    notebook_service.delete_container(alice, clone.id)
    notebook_service.delete_container(alice, view.id)
    assert notebook_service.list_containers(alice) == []
    assert not _owned(docker_client, notebook_service, "alice")


def test_failed_create_leaves_nothing_behind(notebook_service, people, root_actor, docker_client, tiny_image):
    notebook_service.register_image(root_actor, "tiny", tiny_image)
    alice = people["alice"]
    blocker = docker_client.containers.create(tiny_image, name=f"ipynbsrv-{alice.uid}-taken")
    try:
        with pytest.raises(NameInUse):
            notebook_service.create_container(alice, "taken", "tiny")
        assert notebook_service.list_containers(alice) == []
        assert AuditEvent.select().where(AuditEvent.outcome == "failed").count() == 1
    finally:
        blocker.remove(force=True)


def test_reconcile_repairs_state_and_flags_missing(
    notebook_service, people, registered_tiny, root_actor, docker_client
):
    alice = people["alice"]
    one = notebook_service.create_container(alice, "one", "tiny")
    two = notebook_service.create_container(alice, "two", "tiny")
    docker_client.api.stop(one.docker_id, timeout=1)
    docker_client.api.remove_container(two.docker_id, force=True)
    report = notebook_service.reconcile(root_actor)
    assert report.checked == 2
    assert any("one" in line and "exited" in line for line in report.repaired)
    assert any("two" in line for line in report.flagged)
    assert Container.get_by_id(two.id).state == ContainerState.MISSING.value
    assert notebook_service.reconcile(root_actor).repaired == ()


def test_a_container_removed_behind_our_back_is_flagged_after_its_event_and_can_be_recreated(
        notebook_service, people, registered_tiny, root_actor, docker_client):
    """Issue 28, bug 3: `docker rm -f`; the destroy event marks the row missing first, and reconcile
    still flags it with what to do; start and restart say the same; recreate makes it again."""
    alice = people["alice"]
    view = notebook_service.create_container(alice, "gone", "tiny")
    raced = notebook_service.create_container(alice, "raced", "tiny")
    watch = notebook_service.watch_containers(alice)
    docker_client.api.remove_container(view.docker_id, force=True)
    for change in watch:
        if change.container_id == view.id and change.view and change.view.state == ContainerState.MISSING:
            break
    watch.close()
    report = notebook_service.reconcile(root_actor)
    flagged = [line for line in report.flagged if "alice/gone" in line]
    assert len(flagged) == 1, report.flagged
    assert "engine container is gone" in flagged[0] and "recreate" in flagged[0] and "delete" in flagged[0]
    for action in (notebook_service.start_container, notebook_service.restart_container):
        with pytest.raises(Conflict, match="engine container is gone"):
            action(alice, view.id)

    docker_client.api.remove_container(raced.docker_id, force=True)  # its event has not been applied
    with pytest.raises(Conflict, match="engine container is gone"):
        notebook_service.restart_container(alice, raced.id)
    assert Container.get_by_id(raced.id).state == ContainerState.MISSING.value

    recreated = notebook_service.recreate_container(alice, view.id)
    assert recreated.state == ContainerState.CREATED
    assert (recreated.token, recreated.host_port, recreated.url) == (view.token, view.host_port, view.url)
    assert (
        docker_client.api.inspect_container(recreated.docker_id)["Config"]["Labels"]["ipynbsrv.owner"]
        == "alice"
    )
    assert not [line for line in notebook_service.reconcile(root_actor).flagged if "alice/gone" in line]
    with pytest.raises(Conflict, match="nothing to recreate"):
        notebook_service.recreate_container(alice, view.id)
    assert notebook_service.start_container(alice, view.id).state in (
        ContainerState.STARTING,
        ContainerState.RUNNING,
    )


def test_watch_sees_engine_events_behind_our_back(notebook_service, people, registered_tiny, docker_client):
    alice = people["alice"]
    view = notebook_service.create_container(alice, "lab", "tiny")
    watch = notebook_service.watch_containers(alice)
    docker_client.api.stop(view.docker_id, timeout=1)
    seen = []
    for change in watch:
        seen.append(change.action)
        if change.view and change.view.state == ContainerState.EXITED:
            break
    watch.close()
    assert "die" in seen or "stop" in seen
    assert notebook_service.get_container(alice, view.id).state == ContainerState.EXITED


@pytest.mark.parametrize("choice", ["archive", "delete", "keep"])
def test_delete_user_choices(
    notebook_service, people, registered_tiny, root_actor, docker_client, service_config, choice
):
    alice = people["alice"]
    notebook_service.create_container(alice, "lab", "tiny")
    home = service_config.data.path / "homes" / "alice"
    (home / "notes.txt").write_text("hello")
    report = notebook_service.delete_user(root_actor, "alice", containers=choice, data=choice)
    remaining = _owned(docker_client, notebook_service, "alice")
    if choice == "keep":
        # the home leaves the namespace (a later account named alice starts empty), its files kept aside
        kept_homes = [Path(p) for p in report.kept if "/archive/kept/home-alice-" in p]
        assert len(remaining) == 1 and not home.exists() and len(kept_homes) == 1
        assert (kept_homes[0] / "notes.txt").read_text() == "hello"
        assert [u.active for u in notebook_service.list_users(root_actor) if u.username == "alice"] == [False]
    else:
        assert remaining == [] and not home.exists()
        assert "alice" not in [u.username for u in notebook_service.list_users(root_actor)]
    if choice == "archive":
        assert len(report.archived) == 2 and all(os.path.getsize(p) > 0 for p in report.archived)
    with pytest.raises(NotFound):
        notebook_service.directory.get_user("alice")
    events = [json.dumps(e.detail) for e in AuditEvent.select().where(AuditEvent.action == "user.delete")]
    assert len(events) == 1


def test_up_counts_from_the_start_not_from_a_suspend_or_resume(notebook_service, people, registered_tiny):
    """Issue 11 item 7: "Up" after suspend/resume was the time since the resume."""
    alice = people["alice"]
    view = notebook_service.create_container(alice, "up", "tiny")
    began = notebook_service.get_container(alice, view.id).started_at
    assert began is not None
    time.sleep(1.1)
    notebook_service.suspend_container(alice, view.id)
    assert (
        notebook_service.get_container(alice, view.id).started_at == began
    )  # paused is still up, as in `docker ps`
    notebook_service.resume_container(alice, view.id)
    assert notebook_service.get_container(alice, view.id).started_at == began
    notebook_service.restart_container(alice, view.id)
    assert notebook_service.get_container(alice, view.id).started_at > began
