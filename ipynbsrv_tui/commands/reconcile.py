"""`ipynbsrv-tui reconcile`: compare the store with the engine, repair what can be, list the rest."""

from __future__ import annotations

import argparse

from .output import say
from .session import open_session


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `reconcile` subcommand."""
    parser = subparsers.add_parser(
        "reconcile",
        help="compare store and engine, repair states and ids, list what needs a person (admins)",
        description=(
            "Compare the containers the store asked for with those the Docker Engine has (by label), "
            "repair states and engine ids, and list the differences that need a person. Goes through "
            "the broker when it runs. Exit status 1 when something was flagged."
        ),
    )
    parser.set_defaults(handler=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        report = session.reconcile()
    finally:
        session.close()
    say(f"Checked {report.checked} containers in {report.seconds:.2f} s: "
          f"{len(report.repaired)} repaired, {len(report.flagged)} flagged.")
    for line in report.repaired:
        say(f"  repaired: {line}")
    for line in report.flagged:
        say(f"  flagged:  {line}")
    if session.mode == "embedded" and any(line.startswith("rebuilding image ") for line in report.repaired):
        say(
            "The broker is not running: this command waits for the image rebuilds, then makes their "
            "notebooks again (each is in the build history).",
            flush=True,
        )
    return 1 if report.flagged else 0
