"""Start the terminal UI: refuse without a terminal, then run the app."""

from __future__ import annotations

import argparse
import sys

NO_TTY_HINT = (
    "ipynbsrv-tui needs an interactive terminal.\n"
    "Over SSH, ask for one: ssh -t HOST ipynbsrv-tui\n"
    "For scripting, use a subcommand instead, e.g. `ipynbsrv-tui containers list --json`."
)


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def launch(args: argparse.Namespace) -> int:
    if not has_terminal():
        print(NO_TTY_HINT, file=sys.stderr)
        return 2
    from ..config import load_config
    from .app import IpynbsrvApp

    config = load_config(args.config)
    IpynbsrvApp(config).run()
    return 0
