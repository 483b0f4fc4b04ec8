"""A Session: the service bound to one actor, the interface the UI talks to in both modes."""

from __future__ import annotations

import functools

from ..domain import Actor
from .core import SESSION_METHODS, NotebookService


class Session:
    """`session.list_containers()` is `service.list_containers(actor)`; only SESSION_METHODS are reachable."""

    def __init__(self, service: NotebookService, actor: Actor) -> None:
        self.service = service
        self.actor = actor
        self.mode = service.mode

    def __getattr__(self, name: str):
        if name not in SESSION_METHODS:
            raise AttributeError(name)
        return functools.partial(getattr(self.service, name), self.actor)

    def close(self) -> None:
        """Nothing to release in embedded mode (the remote session closes its socket)."""
