"""Idle culling in tiers, resume on return, and the memory suspended notebooks hold (DESIGN §10).

`[notebooks] idle_timeout`, `idle_action` ("suspend" pauses, "stop" stops) and
`suspended_stop_after` (the second tier: a notebook suspended that long is stopped). Idleness is
Jupyter's own last activity, and a busy kernel is activity now (service/jupyter.py). A start or a
resume (by login, `u`, an admin, the web) is activity at its moment: Jupyter's clock does not
know of a resume, and a notebook resumed on return must not be paused again by the next round.
An owner who is present (an open TUI, a web request) is activity now. The broker only schedules
`cull_idle` and says who is present; the decisions are made here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain import Actor, ContainerState, ContainerView, CullReport, IpynbsrvError, SuspendedMemory
from ..store.models import Container
from . import jupyter
from .base import Component, Ports
from .containers import Containers
from .readiness import PROBE_WORKERS, Readiness, as_stored

log = logging.getLogger("ipynbsrv.service")


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)


class Idle(Component):
    """Idle culling in tiers, resume on login, the memory of suspended notebooks."""

    def __init__(self, ports: Ports, *, containers: Containers, readiness: Readiness) -> None:
        super().__init__(ports)
        self.containers = containers
        self.readiness = readiness

    # ------------------------------------------------------------------ idle culling

    def cull_idle(self, actor: Actor, now: datetime | None = None,
                  present: Mapping[str, datetime] | None = None) -> CullReport:
        """One round of the idle policy (admins; the broker runs it on a timer).

        Running notebooks idle longer than `idle_timeout` are suspended or stopped per
        `idle_action`; suspended notebooks paused longer than `suspended_stop_after` are stopped.
        A notebook's last activity is the latest of Jupyter's own (a busy kernel: now), the moment
        it was started or resumed, and the moment its owner was last present (`present`: user
        name → when they were last seen, e.g. now for an open TUI). One that does not answer is
        left alone. The last activity of each notebook is recorded.
        """
        if not actor.is_admin:
            raise self.refuse(actor, "container.cull", "", "Only admins may cull idle notebooks.")
        now = now or datetime.now(UTC)
        cfg = self.config.notebooks
        running = self.readiness.notebook_rows(ContainerState.RUNNING, None)
        answers = []
        if running:
            with ThreadPoolExecutor(max_workers=min(PROBE_WORKERS, len(running))) as pool:
                answers = list(
                    pool.map(
                        lambda r: self.readiness.ask(r, kernels=True, timeout=jupyter.HTTP_TIMEOUT), running
                    )
                )
        suspended: list[str] = []
        stopped: list[str] = []
        just_suspended: set[int] = set()
        for row, answer in zip(running, answers, strict=True):
            if answer is None:
                continue
            last = now if answer.busy else max(
                answer.last_activity or now,
                _aware(row["state_changed"]) or _EPOCH,  # started or resumed: a resume is activity
                _aware((present or {}).get(row["owner"])) or _EPOCH,
            )
            self._record_activity(row, last)
            idle = now - last
            if cfg.idle_timeout <= 0 or idle <= timedelta(seconds=cfg.idle_timeout):
                continue
            reason = f"idle for {int(idle.total_seconds())} s (since {last.isoformat(timespec='seconds')})"
            target = f"{row['owner']}/{row['name']}"
            try:
                if cfg.idle_action == "suspend":
                    self.containers.suspend_container(actor, row["id"])
                    suspended.append(f"{target}: {reason}")
                    just_suspended.add(row["id"])
                else:
                    self.containers.stop_container(actor, row["id"])
                    stopped.append(f"{target}: {reason}")
            except IpynbsrvError as exc:
                log.warning("idle culling could not %s %s: %s", cfg.idle_action, target, exc)
                continue
            self.audit(actor, "container.cull", target, detail=f"{cfg.idle_action}: {reason}")
        if cfg.suspended_stop_after > 0:
            limit = timedelta(seconds=cfg.suspended_stop_after)
            for row in self.readiness.notebook_rows(ContainerState.PAUSED, None):
                if row["id"] in just_suspended:
                    continue
                since = _aware(row["state_changed"]) or now
                if now - since <= limit:
                    continue
                target = f"{row['owner']}/{row['name']}"
                reason = f"suspended for {int((now - since).total_seconds())} s"
                try:
                    self._stop_paused(actor, row["id"])
                except IpynbsrvError as exc:
                    log.warning("idle culling could not stop suspended %s: %s", target, exc)
                    continue
                self.audit(actor, "container.cull", target, detail=f"stop: {reason}")
                stopped.append(f"{target}: {reason}")
        return CullReport(len(running), tuple(suspended), tuple(stopped))

    def _record_activity(self, row: dict[str, Any], last: datetime) -> None:
        stored = as_stored(last)
        if row["last_activity"] == stored:
            return
        first = row["last_activity"] is None
        Container.update(last_activity=stored).where(Container.id == row["id"]).execute()
        if first:
            self.readiness.notices.publish(row["id"])

    def _stop_paused(self, actor: Actor, container_id: int) -> ContainerView:
        """Stop a suspended notebook gracefully: resumed first, so Jupyter gets SIGTERM and saves."""
        row = self.containers.visible(actor, container_id, "container.stop")
        if row.state == ContainerState.PAUSED.value and row.docker_id:
            self.engine.unpause(row.docker_id)
        return self.containers.stop_container(actor, container_id)

    # ------------------------------------------------------------------ return and memory

    def resume_suspended(self, actor: Actor) -> list[ContainerView]:
        """Resume the actor's own suspended notebooks (their login does this at once); their views.

        A notebook that could not be resumed is left as it is and logged; the others still resume.
        """
        resumed = []
        for row in self.readiness.notebook_rows(ContainerState.PAUSED, actor, own_only=True):
            try:
                resumed.append(self.containers.resume_container(actor, row["id"]))
            except IpynbsrvError as exc:
                log.warning("resuming %s/%s on return failed: %s", row["owner"], row["name"], exc)
        return resumed

    def suspended_memory(self, actor: Actor) -> SuspendedMemory:
        """How many notebooks are suspended and the memory they hold (admins)."""
        if not actor.is_admin:
            raise self.refuse(
                actor,
                "container.suspended-memory",
                "",
                "Only admins see the memory of all suspended notebooks.",
            )
        rows = [r for r in self.readiness.notebook_rows(ContainerState.PAUSED, None) if r["docker_id"]]
        if not rows:
            return SuspendedMemory()
        engine = self.engine

        def usage(row: dict[str, Any]) -> int:
            try:
                return engine.memory_usage(row["docker_id"])
            except IpynbsrvError:
                return 0

        with ThreadPoolExecutor(max_workers=min(PROBE_WORKERS, len(rows))) as pool:
            total = sum(pool.map(usage, rows))
        return SuspendedMemory(len(rows), total)

    def stop_suspended(self, actor: Actor) -> list[str]:
        """Stop every suspended notebook (admins, after a confirmation); `owner/name` of each stopped."""
        if not actor.is_admin:
            raise self.refuse(
                actor, "container.stop-suspended", "", "Only admins may stop all suspended notebooks."
            )
        stopped = []
        for row in self.readiness.notebook_rows(ContainerState.PAUSED, None):
            target = f"{row['owner']}/{row['name']}"
            try:
                self._stop_paused(actor, row["id"])
            except IpynbsrvError as exc:
                log.warning("stopping suspended %s failed: %s", target, exc)
                continue
            stopped.append(target)
        self.audit(actor, "container.stop-suspended", detail=f"{len(stopped)} stopped")
        return stopped
