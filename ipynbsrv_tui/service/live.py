"""Keeping the store in step with the engine: live events, reconcile, health."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from peewee import fn

from ..backup.recovery import RECOVERED_KEY
from ..domain import (
    Actor,
    ContainerChange,
    ContainerInfo,
    ContainerState,
    DirectoryError,
    EngineError,
    EngineEvent,
    Health,
    IpynbsrvError,
    NotFound,
    Placement,
    ReconcileReport,
)
from ..store.models import Build, Container, Image, Setting, Snapshot, User, database_proxy, utcnow
from . import authz, workers
from .base import Component, Ports
from .containers import KEEP_LABEL, Containers, gone_advice, is_keep_ref, record_placement
from .readiness import Readiness
from .rebuild import Rebuilds, forget_rebuilds

EVENT_STATES = {
    "create": ContainerState.CREATED,
    "start": ContainerState.RUNNING,
    "restart": ContainerState.RUNNING,
    "unpause": ContainerState.RUNNING,
    "pause": ContainerState.PAUSED,
    "die": ContainerState.EXITED,
    "stop": ContainerState.EXITED,
    "destroy": ContainerState.MISSING,
    "schedule": ContainerState.RESTARTING,  # swarm mode: the task is being placed or started
}
PLACEMENT_ACTIONS = {"move", "lost"}  # swarm mode: the task moved, or its node stopped answering
LAST_EVENT_KEY = "engine.last_event"
RESTARTED_AFTER_RECOVERY = (
    "running",
    "paused",
    "starting",
    "restarting",
)  # what ran when the snapshot was made
HEALTH_TTL = 0.5
log = logging.getLogger(__name__)


class ContainerWatch:
    """A closeable iterator of ContainerChange, fed by engine events and by the readiness of
    notebooks (action "ready": the notebook answers now); `close()` ends it from any thread.

    The engine's stream is read by a pump thread; both sources meet in one queue, read (and
    applied to the store) by the iterating thread.
    """

    def __init__(self, service: Live, actor: Actor, since: float | None, record: bool = True) -> None:
        self._service = service
        self._actor = actor
        self._record = record
        self._stream = service.engine.events(since=since, labels=service.instance_labels)
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._closed = threading.Event()
        service.readiness.notices.subscribe(self._queue)
        self._pump = threading.Thread(target=self._read_engine, daemon=True, name="container-watch-events")
        self._pump.start()

    def close(self) -> None:
        self._closed.set()
        self._service.readiness.notices.unsubscribe(self._queue)
        self._stream.close()
        self._queue.put(("end", None))

    def _read_engine(self) -> None:
        try:
            for event in self._stream:
                self._queue.put(("event", event))
        except BaseException as exc:  # handed to the iterating thread, which raises it
            self._queue.put(("error", exc))
        self._queue.put(("end", None))

    def __iter__(self) -> Iterator[ContainerChange]:
        try:
            while not self._closed.is_set():
                kind, item = self._queue.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                if kind == "ready":
                    change = self._ready(item)
                else:
                    change = self._changed(item)
                if change is not None:
                    yield change
        finally:
            self._service.readiness.notices.unsubscribe(self._queue)

    def _ready(self, container_id: int) -> ContainerChange | None:
        row = Container.get_or_none(Container.id == container_id)
        if row is None or not authz.can_act_on_container(self._actor, row.owner.username):
            return None
        return ContainerChange(
            container_id, "ready", self._service.containers.get_container(self._actor, container_id)
        )

    def _changed(self, event: EngineEvent) -> ContainerChange | None:
        container_id = self._service.apply_event(event, record=self._record)
        if container_id is None:
            return None
        row = Container.get_or_none(Container.id == container_id)
        if row is None:
            owner = event.labels.get("ipynbsrv.owner", "")
            if self._actor.is_admin or owner == self._actor.username:
                return ContainerChange(container_id, event.action, None, owner=owner)
            return None
        if authz.can_act_on_container(self._actor, row.owner.username):
            return ContainerChange(
                container_id, event.action, self._service.containers.get_container(self._actor, container_id)
            )
        return None


class Live(Component):
    """Engine events into the store, reconcile of store and engine, and health for the header."""

    def __init__(self, ports: Ports, *, containers: Containers, readiness: Readiness,
                 rebuilds: Rebuilds) -> None:
        super().__init__(ports)
        self.containers = containers
        self.readiness = readiness
        self.rebuilds = rebuilds
        self._reconciling = threading.Lock()  # a rebuild's worker reconciles when it ends

    def watch_containers(self, actor: Actor, since: float | None = None) -> ContainerWatch:
        """Live container changes the actor may see; resumes from the last seen event when `since` is None.

        Only the resumed stream, or an admin's, records the events in the store: a replay from an
        older `since` would set every container back to the states it had then.
        """
        record = since is None or actor.is_admin
        if since is None:
            stored = Setting.get_or_none(Setting.key == LAST_EVENT_KEY)
            since = float(stored.value) if stored else time.time()
        return ContainerWatch(self, actor, since, record)

    def apply_event(self, event: EngineEvent, record: bool = True) -> int | None:
        """Record what an engine event means for the store; the store id it touched, or None.

        With `record` false nothing is written: only the store id is worked out.
        """
        if record:
            Setting.insert(key=LAST_EVENT_KEY, value=str(event.time)).on_conflict_replace().execute()
        state = EVENT_STATES.get(event.action)
        container_id = event.store_id
        if state is None and event.action not in PLACEMENT_ACTIONS:
            return None
        if container_id is None or event.labels.get("ipynbsrv.instance") != self.instance_id:
            return None
        row = Container.get_or_none(Container.id == container_id)
        if row is None:
            return container_id
        if row.key and event.labels.get("ipynbsrv.key") != row.key:
            return None  # another row's engine object (a stale or foreign one carrying this id)
        if row.docker_id and event.container_id and row.docker_id != event.container_id:
            return None  # an older engine object, e.g. the one a snapshot restore replaced
        if record and state is not None:
            changes: dict[Any, Any] = {Container.state: state.value, Container.state_changed: utcnow()}
            started = state == ContainerState.RUNNING and row.state not in (ContainerState.RUNNING.value,
                                                                            ContainerState.PAUSED.value)
            if started:
                changes[Container.last_activity] = (
                    None  # started behind our back: `starting` until it answers
                )
                changes[Container.started] = changes[Container.state_changed]
            Container.update(changes).where(Container.id == row.id).execute()
            if started:
                self.readiness.watch_readiness(row.id)
        if record and self.swarm_mode:
            record_placement(row.id, event.placement)
        return container_id

    def reconcile(self, actor: Actor) -> ReconcileReport:
        """Compare store and engine by labels; repair states and ids, flag what needs a person.

        An engine object is adopted for a row only when instance, owner, row id and key all match
        (a row made before keys existed: its own engine id). Everything else carrying our labels
        is reported as foreign and never acted on. A create that a dead process left half-done is
        finished (its engine object adopted) or rolled back (the row removed); leftover build-step
        containers of builds that ended or whose process died are removed.
        """
        if not actor.is_admin:
            raise self.refuse(actor, "reconcile", "", "Only admins may reconcile.")
        with self._reconciling:
            return self._reconcile(actor)

    def _reconcile(self, actor: Actor) -> ReconcileReport:
        started = time.perf_counter()
        engine_objects = self.engine.list_managed(labels=self.instance_labels)
        by_store_id: dict[int, list[ContainerInfo]] = {}
        for info in engine_objects:
            if info.store_id is not None:
                by_store_id.setdefault(info.store_id, []).append(info)
        repaired: list[str] = []
        flagged: list[str] = []
        query = Container.select(Container.id, Container.name, Container.docker_id, Container.state,
                                 User.username, Container.key, Container.worker, Container.node_id,
                                 Container.node_name, Container.node_lost).join(User).tuples()
        rows = cast(list[tuple[int, str, str, str, str, str, str, str, str, bool]], list(query))
        snapshots = dict(
            Snapshot.select(Snapshot.container, fn.COUNT(Snapshot.id)).group_by(Snapshot.container).tuples()
        )
        adopted: set[str] = set()
        updates: list[tuple[int, str, str, bool]] = []
        rollbacks: list[tuple[int, str]] = []
        placements: dict[int, Placement | None] = {}
        recovered = Setting.get_or_none(Setting.key == RECOVERED_KEY)  # set by `backup restore-installation`
        recreate: list[tuple[int, str, str]] = []
        for container_id, name, docker_id, state, owner, key, worker, node_id, node_name, node_lost in rows:
            label = f"{owner}/{name} (#{container_id})"
            found = _adoptable(by_store_id.get(container_id, []), owner, key, docker_id)
            if found is not None:
                adopted.add(found.id)
            if worker and workers.in_progress("container", container_id, worker):
                continue  # being created right now by a live process
            if worker and found is None:
                rollbacks.append((container_id, key))
                repaired.append(f"{label}: an interrupted create left no engine container; rolled back")
                continue
            if found is None and recovered is not None and state != ContainerState.MISSING.value:
                recreate.append((container_id, label, state))  # a restored installation: made again below
                continue
            if found is None:  # flagged every time, also when an engine event marked it missing already
                if state != ContainerState.MISSING.value:
                    updates.append((container_id, docker_id, ContainerState.MISSING.value, True))
                flagged.append(gone_advice(label, snapshots.get(container_id, 0)))
                continue
            new_state = found.state.value
            if worker:
                repaired.append(f"{label}: finished an interrupted create (engine id {found.id[:12]})")
            elif found.id != docker_id:
                repaired.append(f"{label}: engine id {docker_id[:12] or '-'} → {found.id[:12]}")
            if new_state != state:
                repaired.append(f"{label}: state {state} → {new_state}")
            if found.id != docker_id or new_state != state or worker:
                updates.append((container_id, found.id, new_state, new_state != state))
            if self.swarm_mode:
                _reconcile_placement(
                    label, (node_id, node_name, node_lost), found, repaired, flagged, placements
                )
        if self.swarm_mode:
            flagged.extend(
                f"node {node.name} is {node.state}: Swarm reschedules its notebooks on other eligible nodes"
                for node in self.engine.nodes(with_notebooks=False)
                if node.state != "ready"
            )
        for info in engine_objects:
            if info.id not in adopted:
                flagged.append(f"{info.name}: foreign container with our labels (owner {info.owner}, row "
                               f"{info.store_id}); it matches no row and was not touched")
        with database_proxy.atomic():
            now = utcnow()
            for container_id, docker_id, state, moved in updates:
                changes = {
                    Container.docker_id: docker_id,
                    Container.state: state,
                    Container.state_changed: now,
                    Container.worker: "",
                }
                if moved and state == ContainerState.RUNNING.value:
                    changes[Container.last_activity] = None  # `starting` until it answers
                    changes[Container.started] = now
                Container.update(changes).where(Container.id == container_id).execute()
            for container_id, key in rollbacks:
                Container.delete().where((Container.id == container_id) & (Container.key == key)).execute()
            for container_id, placement in placements.items():
                record_placement(container_id, placement)
        if recovered is not None and self._recreate_restored(actor, recreate, repaired, flagged):
            Setting.delete().where(Setting.key == RECOVERED_KEY).execute()
            forget_rebuilds()
        repaired.extend(self._remove_build_leftovers())
        repaired.extend(self._remove_keep_leftovers())
        report = ReconcileReport(len(rows), tuple(repaired), tuple(flagged), time.perf_counter() - started)
        self.audit(actor, "reconcile", detail=f"{len(repaired)} repaired, {len(flagged)} flagged")
        return report

    def _recreate_restored(self, actor: Actor, rows: list[tuple[int, str, str]], repaired: list[str],
                           flagged: list[str]) -> bool:
        """After a disaster recovery (DESIGN §17): make each notebook of the restored store again on
        this engine, with its port, token and URL, and start those that ran. An image the engine
        lacks is rebuilt from its recorded image folder in the background, and its notebooks are
        made again when that build ends. Whether all came back; until then each reconcile tries
        the rest again."""
        done = True
        waiting: dict[str, list[Container]] = {}
        for container_id, label, state in rows:
            row = Container.get_by_id(container_id)
            ref = row.image_ref or (row.image.ref if row.image else "")
            if ref and not self.engine.image_exists(ref):
                waiting.setdefault(ref, []).append(row)
                continue
            try:
                if not ref:
                    raise NotFound("it records no image: delete it and make it again from a registered image")
                self._make_again(row, state)
            except IpynbsrvError as exc:
                done = False
                flagged.append(f"{label}: not made again after the restore: {exc}")
                continue
            started = " and started" if state in RESTARTED_AFTER_RECOVERY else ""
            repaired.append(f"{label}: made again after the restore{started} (port {row.host_port}, "
                            "same token and URL)")
        for ref, notebooks in waiting.items():
            done = False
            registered = next((row.image for row in notebooks if row.image is not None), None)
            notice = self.rebuilds.request(actor, ref, registered, len(notebooks),
                                           on_built=lambda: self._after_rebuild(actor))
            if notice.waiting:
                repaired.append(notice.text)
            else:
                labels = ", ".join(f"{row.owner.username}/{row.name} (#{row.id})" for row in notebooks)
                flagged.append(f"{labels}: not made again after the restore: {notice.text}")
        return done

    def _make_again(self, row: Container, state: str) -> None:
        info = self.engine.create(self.containers.spec(row, row.image))
        Container.update(docker_id=info.id, worker="").where(Container.id == row.id).execute()
        row.docker_id = info.id
        self.containers.set_state(row, ContainerState.CREATED)
        if state in RESTARTED_AFTER_RECOVERY:
            self.engine.start(info.id)
            self.containers.set_state(
                row, ContainerState.RUNNING, started=True
            )  # `starting` until it answers
            self.readiness.watch_readiness(row.id)

    def _after_rebuild(self, actor: Actor) -> None:
        """A recovery's image rebuild succeeded: reconcile makes its notebooks again."""
        report = self.reconcile(actor)
        for line in report.repaired:
            log.info("reconcile after a rebuild repaired %s", line)
        for line in report.flagged:
            log.warning("reconcile after a rebuild flagged %s", line)

    def _is_step_container_of(self, build: Build, container_id: str) -> bool:
        """The container still exists, is not one of our notebooks, and was made while the build ran."""
        try:
            info = self.engine.inspect(container_id)
        except (NotFound, EngineError):
            return False
        if "ipynbsrv.managed" in info.labels or info.created is None:
            return False
        made = info.created.replace(tzinfo=None)
        started: datetime = build.started
        finished: datetime = build.finished or utcnow()
        return started - timedelta(seconds=2) <= made <= finished + timedelta(seconds=2)

    def _remove_build_leftovers(self) -> list[str]:
        """Remove the step containers and the untagged images of builds that ended or whose process
        died; mark the dead ones failed."""
        done: list[str] = []
        for build in Build.select().where(
            (Build.containers != "") | (Build.images != "") | (Build.status == "running")
        ):
            if build.status == "running" and workers.in_progress("build", build.id, build.worker):
                continue
            kept: list[str] = []  # not removed this time: the next reconcile tries again
            for container_id in filter(None, build.containers.split(",")):
                if not self._is_step_container_of(build, container_id):
                    continue
                try:
                    self.engine.remove(container_id, force=True)
                except IpynbsrvError:
                    kept.append(container_id)
                    continue
                done.append(f"build #{build.id}: removed its leftover step container {container_id[:12]}")
            changes: dict[str, object] = {"containers": ",".join(kept)}
            if build.images:
                changes["images"] = ",".join(self._remove_build_images(build, done))
            Build.update(**changes).where(Build.id == build.id).execute()
            if (
                build.status == "running"
                and Build.update(  # unless it ended meanwhile
                    status="failed",
                    finished=utcnow(),
                    worker="",
                    error="the build was interrupted (its process ended)",
                )
                .where((Build.id == build.id) & (Build.status == "running"))
                .execute()
            ):
                done.append(f"build #{build.id} ({build.image_ref}): interrupted; marked failed")
        return done

    def _remove_build_images(self, build: Build, done: list[str]) -> list[str]:
        """Remove the untagged images the build recorded as its own; those still in use stay listed."""
        images = build.images.split(",")
        remaining = self.engine.remove_leftover_images(images, self.instance_labels)
        removed = [
            image for image in images if image not in remaining and not self.engine.image_exists(image)
        ]
        if removed:
            names = ", ".join(image.removeprefix("sha256:")[:12] for image in removed)
            done.append(
                f"build #{build.id}: removed its leftover untagged image{'s' if len(removed) > 1 else ''} "
                f"{names}"
            )
        return remaining

    def _remove_keep_leftovers(self) -> list[str]:
        """Remove this instance's restart-with-new-mounts images (label ipynbsrv.kept-from) that no
        container, snapshot or registered image uses any more (a crash between commit and removal)."""
        prefix = self.config.build.image_prefix
        used = {ref for (ref,) in Container.select(Container.image_ref).tuples()}
        used |= {ref for (ref,) in Snapshot.select(Snapshot.image_ref).tuples()}
        used |= {ref for (ref,) in Image.select(Image.ref).tuples()}
        done: list[str] = []
        for info in self.engine.images():
            if KEEP_LABEL not in info.labels or info.labels.get("ipynbsrv.instance") != self.instance_id:
                continue
            if (
                not info.tags
                or not all(is_keep_ref(tag, prefix) for tag in info.tags)
                or used & set(info.tags)
            ):
                continue
            try:
                for tag in info.tags:  # not forced: an image a container was made from stays
                    self.engine.remove_image(tag)
            except IpynbsrvError:
                continue  # the next reconcile tries again
            done.append(f"removed the leftover restart image {', '.join(info.tags)}")
        return done

    def health(self, actor: Actor) -> Health:
        """Engine and directory reachability and the age of the user mirror, for the header.

        Every open UI asks once a second; the answer is shared for HEALTH_TTL seconds so that many
        clients of one broker cost one engine and one directory check.
        """
        cached: tuple[float, Health] | None = getattr(self, "_health_cache", None)
        if cached is not None and time.monotonic() - cached[0] < HEALTH_TTL:
            return cached[1]
        health = self._check_health()
        self._health_cache = (time.monotonic(), health)
        return health

    def _check_health(self) -> Health:
        try:
            version = self.engine.version()
            engine_ok, engine_detail = True, f"Docker {version.get('version', '?')}"
        except EngineError as exc:
            self.forget_engine()
            engine_ok, engine_detail = False, str(exc)
        try:
            self.directory.ping()
            directory_ok, directory_detail = True, self.directory.kind
        except DirectoryError as exc:
            directory_ok, directory_detail = False, str(exc)
        synced = Setting.get_or_none(Setting.key == "directory.synced_at")
        sync_error = Setting.get_or_none(Setting.key == "directory.sync_error")
        synced_at = datetime.fromisoformat(synced.value) if synced and synced.value else None
        return Health(
            mode=self.mode, host=self.host, engine_ok=engine_ok, engine_detail=engine_detail,
            directory_ok=directory_ok, directory_detail=directory_detail, directory_synced_at=synced_at,
            directory_stale=bool(sync_error and sync_error.value) or not directory_ok,
        )


def _adoptable(candidates: list[ContainerInfo], owner: str, key: str, docker_id: str) -> ContainerInfo | None:
    """The engine object that is this row's: same owner and key (legacy rows: same engine id). Of
    several such objects (a copy of its labels) only the one the row recorded is; else none."""
    matches = [info for info in candidates if info.owner == owner and (
        (key and info.labels.get("ipynbsrv.key") == key) or (not key and docker_id and info.id == docker_id))]
    recorded = [info for info in matches if info.id == docker_id]
    if recorded:
        return recorded[0]
    return matches[0] if len(matches) == 1 else None


def _reconcile_placement(label: str, stored: tuple[str, str, bool], info: ContainerInfo, repaired: list[str],
                         flagged: list[str], placements: dict[int, Placement | None]) -> None:
    """Swarm mode: where the row's task runs now, and whether its node is lost."""
    node_id, node_name, node_lost = stored
    placement = info.placement
    if placement is not None and placement.lost:
        flagged.append(f"{label}: node {placement.node_name} is lost (down); "
                       "Swarm reschedules the notebook on another eligible node")
    new_id = placement.node_id if placement else ""
    if new_id != node_id or (placement is not None and placement.lost != node_lost):
        if info.store_id is not None:
            placements[info.store_id] = placement
        if placement is not None and node_id and new_id != node_id:
            repaired.append(f"{label}: moved from node {node_name} to node {placement.node_name}")
        elif placement is None and node_id and info.state is ContainerState.RESTARTING:
            repaired.append(f"{label}: no longer on node {node_name}; Swarm is placing it on another node")
