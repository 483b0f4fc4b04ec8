"""Integrity against the real engine (issue 9): reconcile keys, port binding, names, limits, quotas, busy
store.

Each test reproduces one hole through the real service, the real store and the real Docker
Engine; the cross-user cases through the broker with real peer uids are in test_cross_user.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from ipynbsrv_tui.domain import NotAuthorized, StoreBusy, ValidationError
from ipynbsrv_tui.store.models import AuditEvent, Container

pytestmark = pytest.mark.docker


def _plant(docker_client, image: str, labels: dict[str, str], name: str):
    """An engine container carrying our labels that no row of ours made (a stale or foreign one)."""
    return docker_client.containers.create(image, name=name, labels=labels, command=["sleep", "600"])


def test_reconcile_never_adopts_a_container_that_only_shares_a_row_id(
    notebook_service, people, registered_tiny, root_actor, docker_client, tiny_image
):
    """Item 1: a container labelled with the next row id (and then with another row's full labels) is
    foreign."""
    alice, bob = people["alice"], people["bob"]
    bobs = notebook_service.create_container(bob, "nb", "tiny", start=False)
    bob_labels = docker_client.api.inspect_container(bobs.docker_id)["Config"]["Labels"]
    next_id = bobs.id + 1
    stale = _plant(docker_client, tiny_image, {
        "ipynbsrv.managed": "true", "ipynbsrv.instance": notebook_service.instance_id,
        "ipynbsrv.owner": "alice", "ipynbsrv.container": str(next_id), "ipynbsrv.image": "tiny",
        "ipynbsrv.key": "0000000000000000",
    }, f"ipynbsrv-test-stale-{next_id}-{notebook_service.instance_id}")
    copy = _plant(docker_client, tiny_image, dict(bob_labels),
                  f"ipynbsrv-test-copy-{bobs.id}-{notebook_service.instance_id}")
    try:
        mine = notebook_service.create_container(alice, "nb", "tiny")
        assert mine.id == next_id and mine.docker_id != stale.id
        docker_client.api.stop(mine.docker_id, timeout=1)   # a real change for reconcile to repair
        report = notebook_service.reconcile(root_actor)
        foreign = [line for line in report.flagged if "foreign" in line]
        assert any(stale.name in line for line in foreign) and any(copy.name in line for line in foreign)
        assert Container.get_by_id(mine.id).docker_id == mine.docker_id  # still its own object
        assert Container.get_by_id(mine.id).state == "exited"
        assert Container.get_by_id(bobs.id).docker_id == bobs.docker_id  # not re-bound to the copy
        # start and delete act on alice's own object; the planted ones are never touched
        notebook_service.start_container(alice, mine.id)
        notebook_service.delete_container(alice, mine.id)
        for planted in (stale, copy):
            planted.reload()
            assert planted.status == "created"
    finally:
        stale.remove(force=True)
        copy.remove(force=True)


def test_every_published_port_is_bound_to_bind_address(
    notebook_service, root_actor, people, docker_client, tiny_image
):
    """Item 3: public ports (22) are published on bind_address like the notebook port, and listed."""
    notebook_service.register_image(root_actor, "withssh", tiny_image, public_ports="22", is_public=True)
    view = notebook_service.create_container(people["alice"], "ssh", "withssh")
    bindings = docker_client.api.inspect_container(view.docker_id)["HostConfig"]["PortBindings"]
    assert {key: [b["HostIp"] for b in value] for key, value in bindings.items()} == {
        "8888/tcp": ["127.0.0.1"], "22/tcp": ["127.0.0.1"]}
    assert set(view.public_ports) == {"22"} and view.public_ports["22"] == int(
        bindings["22/tcp"][0]["HostPort"]
    )
    ports = docker_client.api.port(view.docker_id, 22)
    assert ports and {p["HostIp"] for p in ports} == {"127.0.0.1"}


def test_engine_names_are_unambiguous_across_owners(
    notebook_service, root_actor, registered_tiny, docker_client
):
    """Item 11: bob-x/nb and bob/x-nb are two different engine names."""
    for name in ("bob-x", "bob"):
        notebook_service.create_user(root_actor, name, "long enough password")
    first = notebook_service.create_container(root_actor, "nb", "tiny", owner="bob-x", start=False)
    second = notebook_service.create_container(root_actor, "x-nb", "tiny", owner="bob", start=False)
    names = {docker_client.api.inspect_container(v.docker_id)["Name"] for v in (first, second)}
    assert len(names) == 2


def test_limits_within_ceilings_for_users_any_for_admins(
    notebook_service, people, registered_tiny, root_actor, docker_client
):
    """Item 6: 1000g is refused for a user (ceiling 8g), accepted for an admin; absurd sizes never reach
    the engine."""
    alice = people["alice"]
    with pytest.raises(NotAuthorized, match="8g"):
        notebook_service.create_container(alice, "big", "tiny", memory="1000g", start=False)
    with pytest.raises(NotAuthorized, match="4"):
        notebook_service.create_container(alice, "fast", "tiny", cpus=64, start=False)
    with pytest.raises(ValidationError, match="larger than the engine can represent"):
        notebook_service.create_container(
            root_actor, "huge", "tiny", memory="99999999999999999999t", owner="alice", start=False
        )
    assert notebook_service.list_containers(root_actor) == []
    ok = notebook_service.create_container(alice, "ok", "tiny", memory="512m", cpus=0.5, start=False)
    assert docker_client.api.inspect_container(ok.docker_id)["HostConfig"]["Memory"] == 512 * 1024**2
    admins = notebook_service.create_container(
        root_actor, "admins", "tiny", memory="1000g", owner="alice", start=False
    )
    assert admins.memory_limit == 1000 * 1024**3
    with pytest.raises(
        NotAuthorized, match="8g"
    ):  # a clone is a create: her ceilings apply to what it copies
        notebook_service.clone_container(alice, admins.id, "copy")
    assert {v.name for v in notebook_service.list_containers(alice)} == {"ok", "admins"}
    ours = [f"{key}={value}" for key, value in notebook_service.instance_labels.items()]
    assert not docker_client.images.list(
        filters={"label": [f"ipynbsrv.clone-of={admins.id}", *ours]}
    )  # none made
    shown = {image.name: image for image in notebook_service.list_images(alice)}["tiny"]
    assert (shown.max_memory, shown.max_cpus) == ("8g", 4.0)


def test_quotas_refuse_users_not_admins(
    notebook_service, people, registered_tiny, root_actor, service_config
):
    """Item 6: [quotas] containers_per_user / running_per_user, enforced in the service."""
    notebook_service.config = service_config.replace(quotas={"containers_per_user": 2, "running_per_user": 1})
    alice = people["alice"]
    first = notebook_service.create_container(alice, "one", "tiny")
    with pytest.raises(NotAuthorized, match="running_per_user"):
        notebook_service.create_container(alice, "two", "tiny")
    assert [v.name for v in notebook_service.list_containers(alice)] == ["one"]  # the refusal made nothing
    second = notebook_service.create_container(alice, "two", "tiny", start=False)
    with pytest.raises(NotAuthorized, match="running_per_user"):
        notebook_service.start_container(alice, second.id)
    with pytest.raises(NotAuthorized, match="containers_per_user"):
        notebook_service.create_container(alice, "three", "tiny", start=False)
    notebook_service.stop_container(alice, first.id)
    assert notebook_service.start_container(alice, second.id).state.value in ("running", "starting")
    assert notebook_service.create_container(
        root_actor, "three", "tiny", owner="alice", start=False
    )  # admins: any


def test_a_huge_description_is_refused_before_anything_is_made(
    notebook_service, people, registered_tiny, root_actor, docker_client
):
    """Item 2: the 1 MB description is refused at once; no row, no engine object; every list still works."""
    alice = people["alice"]
    with pytest.raises(ValidationError, match="most is 1000"):
        notebook_service.create_container(alice, "big", "tiny", description="x" * 1_000_000)
    assert notebook_service.list_containers(root_actor) == []
    labels = [f"ipynbsrv.instance={notebook_service.instance_id}"]
    assert docker_client.containers.list(all=True, filters={"label": labels}) == []
    for call in (
        lambda: notebook_service.snapshot_container(alice, 1, "s", description="y" * 1001),
        lambda: notebook_service.register_image(
            root_actor, "other", "ipynbsrv-test/tiny:latest", command="z" * 5000
        ),
        lambda: notebook_service.create_user(
            root_actor, "dave", "long enough password", display_name="d" * 200
        ),
    ):
        with pytest.raises(ValidationError):
            call()


def test_a_locked_database_is_one_clear_line_and_reconcile_agrees_afterwards(
    notebook_service, people, registered_tiny, root_actor, service_config, docker_client
):
    """Item 7: another process holds the write lock; every call fails with StoreBusy; nothing is half-done."""
    alice = people["alice"]
    view = notebook_service.create_container(alice, "lab", "tiny", start=False)
    holder = sqlite3.connect(service_config.database.resolved_path, timeout=0, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for call in (
            lambda: notebook_service.create_container(alice, "second", "tiny"),
            lambda: notebook_service.start_container(alice, view.id),
            lambda: notebook_service.reconcile(root_actor),
        ):
            with pytest.raises(StoreBusy, match="the database is busy|The database is busy") as caught:
                call()
            assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    finally:
        holder.rollback()
        holder.close()
    engine_state = docker_client.api.inspect_container(view.docker_id)["State"]["Status"]
    report = notebook_service.reconcile(root_actor)
    stored = {v.name: v for v in notebook_service.list_containers(root_actor)}
    assert set(stored) == {"lab"}  # the refused create left no row
    assert stored["lab"].state.value == engine_state or stored["lab"].state.value == "starting"
    assert not [line for line in report.flagged if "foreign" in line]
    labels = [f"ipynbsrv.instance={notebook_service.instance_id}"]
    assert len(docker_client.containers.list(all=True, filters={"label": labels})) == 1


def test_concurrent_creates_cannot_both_pass_the_quota(
    notebook_service, people, registered_tiny, service_config
):
    notebook_service.config = service_config.replace(quotas={"containers_per_user": 1, "running_per_user": 5})
    alice = people["alice"]
    outcomes: list[object] = []

    def create(name: str) -> None:
        try:
            outcomes.append(notebook_service.create_container(alice, name, "tiny", start=False))
        except NotAuthorized as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=create, args=(f"c{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(notebook_service.list_containers(alice)) == 1
    assert sum(isinstance(o, NotAuthorized) for o in outcomes) == 2
    refused = AuditEvent.select().where(
        (AuditEvent.outcome == "refused") & (AuditEvent.action == "container.create")
    )
    assert refused.count() == 2
    assert json.loads(Container.get().public_ports) == {}


def test_reconcile_cleans_up_after_a_killed_build(notebook_service, root_actor, docker_client, tiny_image):
    """Item 7: a build whose process died leaves a `running` row and a step container; reconcile
    marks the build failed and removes that container, and nothing made outside the build's time."""
    from ipynbsrv_tui.store.models import Build, utcnow

    began = utcnow()
    step = docker_client.containers.create(tiny_image, command=["sleep", "60"])  # as the builder's RUN step
    older = docker_client.containers.create(tiny_image, command=["sleep", "60"])
    try:
        build = Build.create(image_ref="x/killed:latest", context="/nowhere", started=began, status="running",
                             worker="1:not-a-live-process", containers=step.id)
        innocent = Build.create(image_ref="x/old:latest", context="/nowhere", status="failed", started=began,
                                finished=began, containers=older.id)
        Build.update(
            started=began.replace(year=began.year - 1), finished=began.replace(year=began.year - 1)
        ).where(Build.id == innocent.id).execute()
        report = notebook_service.reconcile(root_actor)
        assert any(f"build #{build.id}" in line and "interrupted" in line for line in report.repaired)
        assert Build.get_by_id(build.id).status == "failed"
        assert step.id not in {entry["Id"] for entry in docker_client.api.containers(all=True)}
        older.reload()  # made outside the old build's time: not its step container, never touched
    finally:
        for container in (step, older):
            try:
                container.remove(force=True)
            except Exception:  # removed by reconcile
                pass
