"""The session a scripting command runs in: the same one the terminal UI uses."""

from __future__ import annotations

import argparse

from ..config import load_config
from ..connect import open_session as open_config_session
from ..interface import ServiceSession


def open_session(args: argparse.Namespace) -> ServiceSession:
    """The session for `args.config` (client mode when the broker answers, else embedded)."""
    return open_config_session(load_config(args.config))
