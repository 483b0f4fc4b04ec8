"""Choosing the mode (DESIGN §2): the broker's session when its socket answers for the
installation the config names, else embedded.

A broker that serves another installation (its hello names another database) is never used:
an account that may run the service itself runs it embedded on its own installation; any other
is refused with one line saying which installation the socket serves and what to change.

Embedded mode needs the Docker Engine. An account that cannot use it (an ordinary user on an
installed host: the socket is root's) never falls back to embedded mode when the broker is down:
it is told that the notebook service is not running instead (`ServiceNotRunning`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from .broker.protocol import BrokerUnavailable, WrongInstallation

if TYPE_CHECKING:
    from .config import Config
    from .interface import ServiceSession

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"


class ServiceNotRunning(BrokerUnavailable):
    """The broker does not answer, and this account may not run the service itself."""


def docker_socket_usable(config: Config) -> bool:
    """Whether this process could talk to the Docker Engine itself (a unix socket it may open;
    an engine over TCP or SSH is assumed usable, its errors show in the header)."""
    url = config.docker.url or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_DOCKER_SOCKET}"
    parsed = urlparse(url)
    if parsed.scheme not in ("unix", ""):
        return True
    path = parsed.path or url
    return os.path.exists(path) and os.access(path, os.R_OK | os.W_OK)


def may_embed(config: Config) -> bool:
    """Embedded mode is for root, for who may use the engine, and for a bare checkout (`make run`,
    no config file); an ordinary account of an installation never gets it."""
    return config.source is None or os.geteuid() == 0 or docker_socket_usable(config)


def open_session(config: Config) -> ServiceSession:
    """Client mode when the broker's socket answers, otherwise the service in this process.

    Both implement `interface.ServiceSession`. The service (Docker SDK, ldap3, peewee) is imported only for
    embedded mode, so a client-mode start and `--help` stay fast. Raises ServiceNotRunning when
    the broker is down and this account cannot use the engine itself.
    """
    from .broker.client import connect_session

    try:
        remote = connect_session(config)
    except WrongInstallation:
        if not may_embed(config):
            raise
        remote = None
    if remote is not None:
        return remote
    if not may_embed(config):
        raise ServiceNotRunning(
            f"The notebook service is not running (no broker answers at {config.broker.socket}), and this "
            "account cannot use the Docker Engine itself. Ask an admin to start it (systemctl start "
            "ipynbsrv-broker, or `ipynbsrv-tui serve` as root where systemd is absent)."
        )
    from .service import embedded_session

    return embedded_session(config)
