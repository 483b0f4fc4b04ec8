"""Keeping the store in step with the engine: live events, reconcile, health."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..domain import (
    Actor,
    ContainerChange,
    ContainerState,
    ContainerView,
    DirectoryError,
    EngineError,
    EngineEvent,
    Health,
    ReconcileReport,
)
from ..store.models import Container, Setting, database_proxy, utcnow
from . import authz
from .readiness import ReadinessMixin

EVENT_STATES = {
    "create": ContainerState.CREATED,
    "start": ContainerState.RUNNING,
    "restart": ContainerState.RUNNING,
    "unpause": ContainerState.RUNNING,
    "pause": ContainerState.PAUSED,
    "die": ContainerState.EXITED,
    "stop": ContainerState.EXITED,
    "destroy": ContainerState.MISSING,
}
LAST_EVENT_KEY = "engine.last_event"
HEALTH_TTL = 0.5


class ContainerWatch:
    """A closeable iterator of ContainerChange, fed by engine events and by the readiness of
    notebooks (action "ready": the notebook answers now); `close()` ends it from any thread.

    The engine's stream is read by a pump thread; both sources meet in one queue, read (and
    applied to the store) by the iterating thread.
    """

    def __init__(self, service: LiveMixin, actor: Actor, since: float | None, record: bool = True) -> None:
        self._service = service
        self._actor = actor
        self._record = record
        self._stream = service.engine.events(since=since, labels=service.instance_labels)
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._closed = threading.Event()
        service.notices.subscribe(self._queue)
        self._pump = threading.Thread(target=self._read_engine, daemon=True, name="container-watch-events")
        self._pump.start()

    def close(self) -> None:
        self._closed.set()
        self._service.notices.unsubscribe(self._queue)
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
            self._service.notices.unsubscribe(self._queue)

    def _ready(self, container_id: int) -> ContainerChange | None:
        row = Container.get_or_none(Container.id == container_id)
        if row is None or not authz.can_act_on_container(self._actor, row.owner.username):
            return None
        return ContainerChange(container_id, "ready", self._service.get_container(self._actor, container_id))

    def _changed(self, event: EngineEvent) -> ContainerChange | None:
        container_id = self._service.apply_event(event, record=self._record)
        if container_id is None:
            return None
        row = Container.get_or_none(Container.id == container_id)
        if row is None:
            if self._actor.is_admin or event.labels.get("ipynbsrv.owner") == self._actor.username:
                return ContainerChange(container_id, event.action, None)
            return None
        if authz.can_act_on_container(self._actor, row.owner.username):
            return ContainerChange(container_id, event.action, self._service.get_container(self._actor, container_id))
        return None


class LiveMixin(ReadinessMixin):
    """Engine events into the store, reconcile of store and engine, and health for the header."""

    if TYPE_CHECKING:  # from ContainersMixin

        def get_container(self, actor: Actor, container_id: int) -> ContainerView: ...

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
        if state is None or container_id is None or event.labels.get("ipynbsrv.instance") != self.instance_id:
            return None
        row = Container.get_or_none(Container.id == container_id)
        if row is None:
            return container_id
        if row.docker_id and event.container_id and row.docker_id != event.container_id:
            return None  # an older engine object, e.g. the one a snapshot restore replaced
        if record:
            changes: dict[Any, Any] = {Container.state: state.value, Container.state_changed: utcnow()}
            if state == ContainerState.RUNNING and row.state not in (ContainerState.RUNNING.value,
                                                                     ContainerState.PAUSED.value):
                changes[Container.last_activity] = None  # started behind our back: `starting` until it answers
            Container.update(changes).where(Container.id == row.id).execute()
        return container_id

    def reconcile(self, actor: Actor) -> ReconcileReport:
        """Compare store and engine by labels; repair states and ids, flag what needs a person."""
        if not actor.is_admin:
            raise self.refuse(actor, "reconcile", "", "Only admins may reconcile.")
        started = time.perf_counter()
        engine_objects = self.engine.list_managed(labels=self.instance_labels)
        by_store_id = {info.store_id: info for info in engine_objects if info.store_id is not None}
        repaired: list[str] = []
        flagged: list[str] = []
        rows = list(Container.select(Container.id, Container.name, Container.docker_id, Container.state,
                                     Container.owner).tuples())
        known_ids = {row[0] for row in rows}
        updates: list[tuple[int, str, str, bool]] = []
        for container_id, name, docker_id, state, _owner in rows:
            info = by_store_id.get(container_id)
            if info is None:
                if state != ContainerState.MISSING.value:
                    updates.append((container_id, docker_id, ContainerState.MISSING.value, True))
                    flagged.append(f"{name} (#{container_id}): no engine container; restore a snapshot or delete it")
                continue
            new_state = info.state.value
            if info.id != docker_id:
                repaired.append(f"{name} (#{container_id}): engine id {docker_id[:12] or '-'} → {info.id[:12]}")
            if new_state != state:
                repaired.append(f"{name} (#{container_id}): state {state} → {new_state}")
            if info.id != docker_id or new_state != state:
                updates.append((container_id, info.id, new_state, new_state != state))
        for info in engine_objects:
            if info.store_id not in known_ids:
                flagged.append(f"{info.name}: labelled container with no store row (owner {info.owner}); remove it or re-create its row")
        with database_proxy.atomic():
            now = utcnow()
            for container_id, docker_id, state, moved in updates:
                changes = {Container.docker_id: docker_id, Container.state: state, Container.state_changed: now}
                if moved and state == ContainerState.RUNNING.value:
                    changes[Container.last_activity] = None  # `starting` until it answers
                Container.update(changes).where(Container.id == container_id).execute()
        report = ReconcileReport(len(rows), tuple(repaired), tuple(flagged), time.perf_counter() - started)
        self.audit(actor, "reconcile", detail=f"{len(repaired)} repaired, {len(flagged)} flagged")
        return report

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
