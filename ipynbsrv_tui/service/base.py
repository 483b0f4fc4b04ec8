"""What every use-case component is wired to (its ports) and the base class that reads them.

`Ports` holds the configuration, the engine (the `Engine` protocol, connected lazily), the
directory, the host's data folders, the audit log and the change notifier; the service builds one
and hands it to every component (service/core.py). `Component` gives a use case short names for
its ports (`self.engine`, `self.audit(...)`); a component that needs another takes it in its
constructor.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..config import Config
from ..directory.base import Directory
from ..directory.sync import sync_status, sync_users
from ..domain import (
    Actor,
    ContainerChange,
    DirectoryError,
    EngineUnavailable,
    NotAuthorized,
    NotFound,
)
from ..store import audit as audit_log
from ..store.models import Image, Setting, User
from .hostdata import HostData

if TYPE_CHECKING:
    from ..engine.protocol import Engine

# Refusals also go to the log (the broker's stderr, i.e. its journal), one line each.
refusals = logging.getLogger("ipynbsrv.audit")
_sync_lock = threading.Lock()


class Ports:
    """The configuration, the engine, the directory, host data, audit and change notices: what the
    use cases talk to. The engine is connected lazily and reconnected after a failure."""

    def __init__(
        self,
        config: Config,
        directory: Directory,
        *,
        engine_factory: Callable[[], Engine] | None = None,
        mode: str = "embedded",
    ) -> None:
        self.config = config
        self.directory = directory
        self.mode = mode
        self.host = socket.gethostname()
        self.data = HostData(config.data.path)
        self._engine_factory = engine_factory or self._connect_engine
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._instance_id: str | None = None
        self._change_listeners: list[Callable[[ContainerChange], None]] = []
        self._last_sync_try: float | None = None

    def _connect_engine(self) -> Engine:
        from ..engine.connect import connect  # the Docker SDK loads on the first engine call

        return connect(self.config)

    @property
    def swarm_mode(self) -> bool:
        """[engine] mode = "swarm": notebooks are Swarm services (DESIGN §15)."""
        return self.config.engine.mode == "swarm"

    @property
    def engine(self) -> Engine:
        """The connected engine (EngineUnavailable with a hint when it cannot be reached)."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._engine_factory()
            return self._engine

    def forget_engine(self) -> None:
        """Drop the engine connection so the next call reconnects (after EngineUnavailable)."""
        with self._engine_lock:
            self._engine = None

    def engine_or_none(self) -> Engine | None:
        try:
            return self.engine
        except EngineUnavailable:
            return None

    def add_change_listener(self, listener: Callable[[ContainerChange], None]) -> None:
        """Call `listener` with the changes the engine's events cannot tell (a store row removed)."""
        self._change_listeners.append(listener)

    def announce(self, change: ContainerChange) -> None:
        for listener in self._change_listeners:
            listener(change)

    def audit(
        self, actor: Actor | str, action: str, target: str = "", outcome: str = "ok", detail: str = ""
    ) -> None:
        name = actor.username if isinstance(actor, Actor) else actor
        audit_log.audit(name, action, target, outcome, detail)
        if outcome == "refused":  # every refusal is also one log line: who, what, which object, why
            uid = actor.uid if isinstance(actor, Actor) else "?"
            what = f"{action} {target}" if target else action
            refusals.warning("refused %s (uid %s): %s: %s", name, uid, what, detail)

    def refuse(self, actor: Actor, action: str, target: str, message: str) -> NotAuthorized:
        """Record a refusal (audit log and the `ipynbsrv.audit` logger: who, what, which object) and
        return the error to raise."""
        self.audit(actor, action, target, "refused", message)
        return NotAuthorized(message)

    def limit_ceilings(self, image: Image, viewer: Actor | None) -> tuple[str, float | None]:
        """(max memory, max CPUs) a viewer may choose for a container of `image`: the image's own
        limits, else the configured ceilings; for admins (and no viewer) any: ("", None) (DESIGN §8)."""
        if viewer is None or viewer.is_admin:
            return "", None
        cfg = self.config.notebooks
        return image.memory or cfg.max_memory, image.cpus if image.cpus is not None else cfg.max_cpus

    def hide(self, actor: Actor, action: str, target: str, not_found: str) -> NotFound:
        """Record a refusal about another user's object and return the error to raise: the same
        NotFound, word for word, as for an object that does not exist (DESIGN §8)."""
        self.audit(actor, action, target, "refused", "belongs to another user")
        return NotFound(not_found)

    @property
    def instance_id(self) -> str:
        """This installation's id, labelled on its containers so two stores never share engine objects."""
        if self._instance_id is None:
            row, _ = Setting.get_or_create(key="instance.id", defaults={"value": uuid.uuid4().hex[:12]})
            self._instance_id = row.value
        return self._instance_id

    @property
    def instance_labels(self) -> dict[str, str]:
        return {"ipynbsrv.instance": self.instance_id}

    def public_host(self) -> str:
        return self.config.notebooks.public_host or self.host

    def sync_if_due(self, max_age: float) -> None:
        """Mirror an LDAP directory when the store never was, or was last more than `max_age` seconds
        ago (DESIGN §7: an empty store syncs on first use). Failures keep the last copy."""
        if self.directory.kind == "local":
            return
        status = sync_status()
        now = datetime.now(UTC)
        if status.synced_at is not None and (now - status.synced_at).total_seconds() < max_age:
            return
        with _sync_lock:
            if self._last_sync_try is not None and time.monotonic() - self._last_sync_try < min(max_age, 5.0):
                return  # another thread just tried (an unreachable directory is not asked for every call)
            self._last_sync_try = time.monotonic()
            try:
                sync_users(self.directory)
            except DirectoryError:
                pass  # recorded in directory.sync_error for the header

    def mirror_user(self, username: str) -> User:
        """The store row of a directory user, brought up to date.

        The local directory keeps its users in the store already; an LDAP directory is mirrored
        by the same sync as `users sync`, so memberships follow one rule.
        """
        if self.directory.kind != "local":
            sync_users(self.directory)
        row: User | None = User.get_or_none(User.username == username)
        if row is None:
            raise NotFound(f"User {username!r} is not in the directory.")
        is_admin = self.directory.is_admin(username)
        if row.is_admin != is_admin:
            User.update(is_admin=is_admin).where(User.id == row.id).execute()
            row.is_admin = is_admin
        return row


class Component:
    """A use-case component: its ports under short names, shared with every other component."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    @property
    def config(self) -> Config:
        return self.ports.config

    @config.setter
    def config(self, value: Config) -> None:
        self.ports.config = value

    @property
    def directory(self) -> Directory:
        return self.ports.directory

    @property
    def data(self) -> HostData:
        return self.ports.data

    @property
    def mode(self) -> str:
        return self.ports.mode

    @property
    def host(self) -> str:
        return self.ports.host

    @property
    def engine(self) -> Engine:
        return self.ports.engine

    @property
    def swarm_mode(self) -> bool:
        return self.ports.swarm_mode

    @property
    def instance_id(self) -> str:
        return self.ports.instance_id

    @property
    def instance_labels(self) -> dict[str, str]:
        return self.ports.instance_labels

    def forget_engine(self) -> None:
        self.ports.forget_engine()

    def engine_or_none(self) -> Engine | None:
        return self.ports.engine_or_none()

    def add_change_listener(self, listener: Callable[[ContainerChange], None]) -> None:
        self.ports.add_change_listener(listener)

    def announce(self, change: ContainerChange) -> None:
        self.ports.announce(change)

    def audit(
        self, actor: Actor | str, action: str, target: str = "", outcome: str = "ok", detail: str = ""
    ) -> None:
        self.ports.audit(actor, action, target, outcome, detail)

    def refuse(self, actor: Actor, action: str, target: str, message: str) -> NotAuthorized:
        return self.ports.refuse(actor, action, target, message)

    def hide(self, actor: Actor, action: str, target: str, not_found: str) -> NotFound:
        return self.ports.hide(actor, action, target, not_found)

    def limit_ceilings(self, image: Image, viewer: Actor | None) -> tuple[str, float | None]:
        return self.ports.limit_ceilings(image, viewer)

    def public_host(self) -> str:
        return self.ports.public_host()

    def sync_if_due(self, max_age: float) -> None:
        self.ports.sync_if_due(max_age)

    def _mirror_user(self, username: str) -> User:
        return self.ports.mirror_user(username)
