"""The running console as its screens see it, so that the type checker follows `self.app.session`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App

if TYPE_CHECKING:
    from ..config import Config
    from ..interface import ServiceSession
    from .book import ContainerBook


class ConsoleApp(App[None]):
    """What every screen may read from the app: the configuration, the session (the service
    interface, embedded or through the broker) and the book of containers. `IpynbsrvApp` is one."""

    config: Config
    session: ServiceSession
    book: ContainerBook
