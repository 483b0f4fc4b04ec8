"""The session a scripting command runs in: the same service the terminal UI uses."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..config import load_config

if TYPE_CHECKING:
    from ..service import Session


def open_session(args: argparse.Namespace) -> Session:
    """Open the session for `args.config`: the service embedded in this process.

    The service (Docker SDK, ldap3, peewee) is imported here, not at start-up, so that
    `--help` and bad command lines answer at once.
    """
    from ..service import embedded_session

    return embedded_session(load_config(args.config))
