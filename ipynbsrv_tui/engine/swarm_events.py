"""The event feed of swarm mode: changes of notebook services and their tasks as EngineEvents.

Swarm's own events say that a service or node changed, not what its task did (tasks have no
events), so the stream wakes on those events (or every `interval` seconds at the latest), lists
the managed services with their tasks and nodes, and reports each difference from the last list:
created, started, stopped, moved to another node, or on a node that was lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..domain import ContainerInfo, ContainerState, EngineEvent, IpynbsrvError
from .streams import ClosableStream

if TYPE_CHECKING:
    import docker

STATE_ACTIONS = {
    ContainerState.CREATED: "create",
    ContainerState.RUNNING: "start",
    ContainerState.PAUSED: "pause",
    ContainerState.EXITED: "die",
    ContainerState.RESTARTING: "schedule",
}


def changes(
    before: dict[str, ContainerInfo], after: dict[str, ContainerInfo], now: float
) -> list[EngineEvent]:
    """The events that turn list `before` into list `after` (both keyed by service id)."""
    events: list[EngineEvent] = []
    for service_id, info in after.items():
        old = before.get(service_id)
        if old is None:
            events.append(_event("create", info, now))
            if info.state is not ContainerState.CREATED:
                events.append(_event(STATE_ACTIONS.get(info.state, "update"), info, now))
            continue
        if old.state is not info.state:
            events.append(_event(STATE_ACTIONS.get(info.state, "update"), info, now))
        elif old.placement != info.placement and info.placement is not None:
            lost = info.placement.lost and not (old.placement and old.placement.lost)
            events.append(_event("lost" if lost else "move", info, now))
    for service_id, info in before.items():
        if service_id not in after:
            events.append(_event("destroy", info, now))
    return events


def _event(action: str, info: ContainerInfo, now: float) -> EngineEvent:
    return EngineEvent(
        action=action,
        container_id=info.id,
        name=info.name,
        labels=dict(info.labels),
        time=now,
        placement=info.placement,
    )


class SwarmSource(Protocol):
    """What the stream needs of the swarm engine: its manager's client and its list of services."""

    client: docker.DockerClient

    def list_managed(
        self, owner: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerInfo]: ...


class SwarmEventStream(ClosableStream):
    """Iterable of EngineEvents about managed services until `close()` (from any thread). One consumer
    only."""

    def __init__(
        self, engine: SwarmSource, labels: dict[str, str] | None = None, interval: float = 1.0
    ) -> None:
        super().__init__()
        self.last_error: IpynbsrvError | None = None
        self.reconnects = 0
        self._engine = engine
        self._labels = dict(labels or {})
        self._interval = interval
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._listener = threading.Thread(target=self._listen, name="swarm-events", daemon=True)
        self._listener.start()
        self._iterator = self._events()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            try:
                response.close()
            except Exception:  # closing a dropped connection may fail any way; we are done with it
                pass

    def _listen(self) -> None:
        """Wake the lister whenever Swarm reports a service or node change."""
        while not self.closed:
            try:
                stream = self._engine.client.api.events(filters={"type": ["service", "node"]}, decode=True)
                with self._lock:
                    if self.closed:
                        stream.close()
                        return
                    self._response = stream
                for _raw in stream:
                    self._wake.set()
            except Exception:  # the manager went away: the lister's own error reports it
                self.reconnects += 1
            self._closed.wait(1.0)

    def _snapshot(self) -> dict[str, ContainerInfo]:
        return {info.id: info for info in self._engine.list_managed(labels=self._labels)}

    def _events(self) -> Iterator[EngineEvent]:
        before: dict[str, ContainerInfo] | None = None
        while not self.closed:
            try:
                after = self._snapshot()
                self.last_error = None
            except IpynbsrvError as exc:
                self.last_error = exc
                self._closed.wait(self._interval)
                continue
            if before is not None:
                yield from changes(before, after, time.time())
            before = after
            self._wake.wait(self._interval)
            self._wake.clear()
            # Swarm reports a change before the task has moved on: look again shortly after.
            if not self.closed:
                self._closed.wait(0.2)
