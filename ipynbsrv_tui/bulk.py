"""One lifecycle action on several notebook containers (the 2015 admin's bulk actions).

Each container is asked of the service on its own, so authorization stays per container in the
service (DESIGN §8), and one that fails (refused, vanished meanwhile, an engine error) is reported
with its one-line reason while the others go on. The console and `ipynbsrv-tui containers stop
A B C` both use it. Stdlib and domain only: client mode imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .domain import ContainerView, IpynbsrvError

ACTIONS = ("start", "stop", "restart", "suspend", "resume")


class LifecycleCalls(Protocol):
    """The session calls a bulk action uses (the embedded and the remote session both have them)."""

    def start_container(self, container_id: int) -> ContainerView: ...
    def stop_container(self, container_id: int) -> ContainerView: ...
    def restart_container(self, container_id: int) -> ContainerView: ...
    def suspend_container(self, container_id: int) -> ContainerView: ...
    def resume_container(self, container_id: int) -> ContainerView: ...


@dataclass(frozen=True)
class Step:
    """One container to act on: `label` names it to a person (owner/name, or what was typed)."""

    label: str
    container_id: int
    action: str


@dataclass(frozen=True)
class Outcome:
    """What one step did: the container as it is now, or the one-line reason it failed."""

    step: Step
    view: ContainerView | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def line(self) -> str:
        """`alice/thesis (#3): exited`, or `alice/thesis (#3): <reason>` when it failed."""
        name = f"{self.step.label} (#{self.step.container_id})"
        if self.error:
            return f"{name}: {self.step.action} failed: {self.error}"
        state = self.view.state.value if self.view is not None else "done"
        return f"{name}: {state}"


def reason(exc: BaseException) -> str:
    """The first line of an error, as a person reads it (the service's own words when it has them)."""
    text = str(exc) if isinstance(exc, IpynbsrvError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def run_each(session: LifecycleCalls, steps: Iterable[Step]) -> list[Outcome]:
    """Do every step in order; a failure is recorded and the next step still runs."""
    outcomes: list[Outcome] = []
    for step in steps:
        if step.action not in ACTIONS:
            raise ValueError(f"unknown container action {step.action!r}")
        call: Callable[[int], ContainerView] = getattr(session, f"{step.action}_container")
        try:
            outcomes.append(Outcome(step, view=call(step.container_id)))
        except Exception as exc:  # one container's failure is reported, the others still run
            outcomes.append(Outcome(step, error=reason(exc)))
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> str:
    """`3 of 4 succeeded, 1 failed.`"""
    done = sum(1 for outcome in outcomes if outcome.ok)
    failed = len(outcomes) - done
    return f"{done} of {len(outcomes)} succeeded" + (f", {failed} failed." if failed else ".")
