"""Readiness (DESIGN §5): a notebook the engine runs reads `starting` until its Jupyter answers.

The store marks the first answer since a start by filling `Container.last_activity` (a start
clears it). A start made by this process is watched by a short-lived thread; the broker also
asks every starting notebook on a timer (`probe_starting`), which covers starts made elsewhere.
Open container watches hear of each answer through `ReadinessNotices`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

from ..domain import Actor, ContainerState
from ..store.models import Container, User, database_proxy
from . import authz, jupyter
from .base import Component

log = logging.getLogger("ipynbsrv.service")

PROBE_WORKERS = 4
PROBE_LIMIT = 200  # one round's bound, so that many notebooks that never answer cannot make it slow
READY_WAIT = 180.0  # how long a start's own watcher waits for the notebook to answer
READY_POLL = 0.05  # between two asks while a notebook usually starts (READY_QUICK seconds), then
READY_QUICK = 10.0  # once a second: quick to see it answer, cheap when it never does
READY_TIMEOUT = 1.0


def as_stored(moment: datetime) -> datetime:
    """A moment as the store keeps it: naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


class ReadinessNotices:
    """In-process fan-out of "container N answers now" to the open container watches."""

    def __init__(self) -> None:
        self._queues: set[queue.SimpleQueue[tuple[str, Any]]] = set()
        self._lock = threading.Lock()

    def subscribe(self, target: queue.SimpleQueue[tuple[str, Any]]) -> None:
        with self._lock:
            self._queues.add(target)

    def unsubscribe(self, target: queue.SimpleQueue[tuple[str, Any]]) -> None:
        with self._lock:
            self._queues.discard(target)

    def publish(self, container_id: int) -> None:
        with self._lock:
            targets = list(self._queues)
        for target in targets:
            target.put(("ready", container_id))



class Readiness(Component):
    """Whether started notebooks answer yet; the plain notebook rows the idle policy also reads."""

    _notices: ReadinessNotices | None = None
    _notices_lock = threading.Lock()

    @property
    def notices(self) -> ReadinessNotices:
        with Readiness._notices_lock:
            if self._notices is None:
                self._notices = ReadinessNotices()
            return self._notices

    # ------------------------------------------------------------------ readiness

    def probe_starting(self, actor: Actor) -> list[int]:
        """Ask the starting notebooks the actor may see once (the PROBE_LIMIT most recently started);
        the ids that answer now (and so read `running`)."""
        rows = self.notebook_rows(ContainerState.RUNNING, actor, starting_only=True)[:PROBE_LIMIT]
        if not rows:
            return []
        with ThreadPoolExecutor(max_workers=min(PROBE_WORKERS, len(rows))) as pool:
            answers = list(pool.map(lambda r: self.ask(r, kernels=False, timeout=READY_TIMEOUT), rows))
        ready = []
        for row, answer in zip(rows, answers, strict=True):
            if answer is not None and self._mark_answered(row["id"], answer.last_activity):
                ready.append(row["id"])
        return ready

    def watch_readiness(self, container_id: int) -> None:
        """Watch a notebook this process just started until it answers (then it reads `running`)."""
        threading.Thread(target=self._readiness_loop, args=(container_id,), daemon=True,
                         name=f"readiness-{container_id}").start()

    def _readiness_loop(self, container_id: int) -> None:
        try:
            rows = self.notebook_rows(
                ContainerState.RUNNING, None, container_id=container_id, starting_only=True
            )
            if not rows:
                return
            row = rows[0]
            deadline = time.monotonic() + READY_WAIT
            checked = started = time.monotonic()
            while time.monotonic() < deadline:
                answer = self.ask(row, kernels=False, timeout=READY_TIMEOUT)
                if answer is not None:
                    self._mark_answered(container_id, answer.last_activity)
                    return
                if time.monotonic() - checked > 1.0:  # stopped or deleted meanwhile: nothing to wait for
                    checked = time.monotonic()
                    if not self.notebook_rows(ContainerState.RUNNING, None, container_id=container_id,
                                               starting_only=True):
                        return
                time.sleep(READY_POLL if time.monotonic() - started < READY_QUICK else 1.0)
        except Exception:
            if database_proxy.obj is not None:  # else the store was closed under it: the process is ending
                log.exception("watching notebook %s for readiness failed", container_id)
        finally:
            if database_proxy.obj is not None and not database_proxy.is_closed():
                database_proxy.close()

    def _mark_answered(self, container_id: int, last: datetime | None) -> bool:
        """Record the first answer since the start; True (and the watches told) when this call recorded it."""
        moment = as_stored(last or datetime.now(UTC))
        changed = Container.update(last_activity=moment).where(
            (Container.id == container_id) & (Container.state == ContainerState.RUNNING.value)
            & Container.last_activity.is_null()
        ).execute()
        if changed:
            self.notices.publish(container_id)
        return bool(changed)

    # ------------------------------------------------------------------ helpers

    def notebook_rows(self, state: ContainerState, actor: Actor | None, *, container_id: int | None = None,
                       starting_only: bool = False, own_only: bool = False) -> list[dict[str, Any]]:
        """Plain rows of the notebooks in `state` that `actor` may see (None: all)."""
        query = (
            Container.select(
                Container.id,
                Container.name,
                Container.host_port,
                Container.base_url,
                Container.token,
                Container.docker_id,
                Container.last_activity,
                Container.state_changed,
                Container.node_address,
                User.username.alias("owner"),
            )
            .join(User)
            .where(Container.state == state.value)
        )
        if container_id is not None:
            query = query.where(Container.id == container_id)
        if starting_only:
            query = query.where(Container.last_activity.is_null()).order_by(Container.state_changed.desc())
        if actor is not None and (own_only or not actor.is_admin):
            query = query.where(User.username == actor.username)
        rows = cast("list[dict[str, Any]]", list(query.dicts()))
        if actor is not None:
            rows = [r for r in rows if authz.can_act_on_container(actor, r["owner"])]
        return rows

    def _probe_host(self) -> str:
        address = self.config.notebooks.bind_address
        return "127.0.0.1" if address in ("", "0.0.0.0", "::") else address

    def ask(self, row: dict[str, Any], *, kernels: bool, timeout: float) -> jupyter.JupyterActivity | None:
        host = (row.get("node_address") or self._probe_host()) if self.swarm_mode else self._probe_host()
        return jupyter.ask(host, row["host_port"], row["base_url"], row["token"],
                           kernels=kernels, timeout=timeout)
