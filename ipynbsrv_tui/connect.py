"""Choosing the mode (DESIGN §2): the broker's session when its socket answers, else embedded."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config
    from .interface import ServiceSession


def open_session(config: Config) -> ServiceSession:
    """Client mode when the broker's socket answers, otherwise the service in this process.

    Both implement `interface.ServiceSession`. The service (Docker SDK, ldap3, peewee) is imported only for
    embedded mode, so a client-mode start and `--help` stay fast.
    """
    from .broker.client import connect_session

    remote = connect_session(config)
    if remote is not None:
        return remote
    from .service import embedded_session

    return embedded_session(config)
