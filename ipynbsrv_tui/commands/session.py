"""The session a scripting command runs in: the same service the terminal UI uses."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..config import load_config

if TYPE_CHECKING:
    from ..broker.client import RemoteSession
    from ..service import Session


def open_session(args: argparse.Namespace) -> Session | RemoteSession:
    """Open the session for `args.config`: the broker's when its socket answers (client mode,
    DESIGN §2), else the service embedded in this process. Both have the same methods.

    The service (Docker SDK, ldap3, peewee) is imported only for embedded mode, not at
    start-up, so that `--help` and bad command lines answer at once.
    """
    from ..broker.client import connect_session

    config = load_config(args.config)
    remote = connect_session(config)
    if remote is not None:
        return remote
    from ..service import embedded_session

    return embedded_session(config)
