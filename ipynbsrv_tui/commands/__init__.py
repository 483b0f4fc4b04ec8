"""Subcommand groups of the `ipynbsrv-tui` command line, one module each."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def command_groups() -> list[Register]:
    """The `register(subparsers)` function of every subcommand module (imported only now: starting
    the terminal UI needs none of them)."""
    from . import backup, collab, containers, images, kept, nodes, reconcile, serve, users

    return [
        images.register,
        containers.register,
        users.register,
        serve.register,
        reconcile.register,
        nodes.register,
        collab.register_groups,
        collab.register_shares,
        collab.register_notifications,
        backup.register,
        kept.register,
    ]
