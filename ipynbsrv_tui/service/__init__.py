"""Use cases: the only layer that combines store, engine and directory (DESIGN §3)."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import Config
from ..domain import Actor, NotFound
from .core import NotebookService
from .session import Session

if TYPE_CHECKING:
    from ..engine.protocol import Engine

__all__ = ["NotebookService", "Session", "build_service", "embedded_session"]


def build_service(
    config: Config, mode: str = "embedded", engine_factory: Callable[[], Engine] | None = None
) -> NotebookService:
    """Open the database and the directory and return the service (the engine connects lazily)."""
    from ..directory import open_directory
    from ..store.db import open_database

    open_database(config.database.resolved_path)
    return NotebookService(config, open_directory(config), engine_factory=engine_factory, mode=mode)


def embedded_session(config: Config) -> Session:
    """The service in this process, acting as the user running it.

    Embedded mode is for the admin who owns the Docker socket (DESIGN §2): whoever can use the
    socket is root-equivalent, so a caller the directory does not know yet (a fresh machine)
    acts as an admin. Known directory users get their own rights.
    """
    service = build_service(config)
    uid = os.getuid()

    def resolve() -> Actor:
        try:
            return service.actor_for_uid(uid)
        except NotFound:
            return Actor(pwd.getpwuid(uid).pw_name, uid, True, ())

    return Session(service, resolve(), resolve)
