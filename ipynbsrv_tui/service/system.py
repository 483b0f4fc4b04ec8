"""The service's system face (DESIGN §3): what the broker, its background loops and the web
gateway call for themselves, outside any one user's session.

The UI and the CLI use `interface.ServiceCalls` through a session (the broker serves each
request through `service.Session` too); this Protocol is the rest of what the service offers, so
that the broker's loops and the gateway hold the service by a type the checker follows.
`NotebookService` implements both faces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from ..domain import (
    Actor,
    BackupReport,
    BackupStatus,
    ContainerChange,
    ContainerView,
    CullReport,
    ReconcileReport,
)
from ..interface import Stream


class SystemCalls(Protocol):
    """The broker's and the web gateway's own calls; every authorization decision stays inside."""

    @property
    def mode(self) -> str: ...

    # ------------------------------------------------------------------ who is calling

    def actor_for_uid(self, uid: int) -> Actor: ...

    def actor_for_username(self, username: str) -> Actor: ...

    def rights_epoch(self) -> int: ...

    # ------------------------------------------------------------------ background work

    def add_change_listener(self, listener: Callable[[ContainerChange], None]) -> None: ...

    def watch_containers(self, actor: Actor, since: float | None = None) -> Stream[ContainerChange]: ...

    def list_containers(self, actor: Actor, owner: str | None = None) -> list[ContainerView]: ...

    def forget_engine(self) -> None: ...

    def reconcile(self, actor: Actor) -> ReconcileReport: ...

    def sync_if_due(self, max_age: float) -> None: ...

    def probe_starting(self, actor: Actor) -> list[int]: ...

    def cull_idle(
        self, actor: Actor, now: datetime | None = None, present: Mapping[str, datetime] | None = None
    ) -> CullReport: ...

    def backup_due(self, now: datetime | None = None) -> bool: ...

    def backup_watch(self, actor: Actor, now: datetime | None = None) -> BackupStatus: ...

    def backup_run(self, actor: Actor) -> BackupReport: ...

    # ------------------------------------------------------------------ the web gateway

    def web_login(self, username: str, password: str, address: str) -> Actor:
        """The actor behind a name and password from the web login (NotAuthorized, audited, if not)."""
        ...

    def credential_binding(self, username: str) -> str | None: ...

    def credential_stamp(self, username: str) -> str | None:
        """The directory's own stamp of the account's credentials (a change ends its web sessions)."""
        ...

    def web_may_open(self, actor: Actor, owner: str) -> bool:
        """Whether `actor` may reach a notebook of `owner` through the web (refusals: `web_refused`)."""
        ...

    def web_owns(self, username: str, owner: str) -> bool:
        """Whether the session's user owns a notebook of `owner` (the web's fast path, no actor lookup)."""
        ...

    def web_resumes(self, actor: Actor, owner: str) -> bool:
        """Whether `actor`'s web request resumes a suspended notebook of `owner` (its owner's does)."""
        ...

    def web_refused(self, username: str, target: str, reason: str) -> None:
        """Audit a web request refused before it reached a notebook (who, which address, why)."""
        ...

    def resume_container(self, actor: Actor, container_id: int) -> ContainerView: ...
