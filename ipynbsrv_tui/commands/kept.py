"""`ipynbsrv-tui kept list|purge`: folders kept after their share, group or user was deleted
(admins; DESIGN §14). They are out of every namespace, under the data root's archive/kept."""

from __future__ import annotations

import argparse

from ..domain import KeptView, ValidationError
from .output import one_line_errors, print_json, print_table, say, when
from .session import open_session

HEADERS = ("NAME", "WAS", "RETIRED IDS", "SINCE", "PATH")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `kept` group: `list` and `purge`."""
    group = subparsers.add_parser(
        "kept", help="folders kept after a share, group or user was deleted (admins)"
    )
    sub = group.add_subparsers(dest="kept_command", metavar="SUBCOMMAND", required=True)
    listing = one_line_errors(sub.add_parser("list", help="the kept folders and the ids retired for them"))
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=cmd_list)
    purge = one_line_errors(
        sub.add_parser(
            "purge",
            help="delete a kept folder for good; its ids are free again once no running container has them",
        )
    )
    purge.add_argument("name", help="its NAME from `kept list`")
    purge.add_argument("--yes", action="store_true", help="really delete (required)")
    purge.add_argument("--json", action="store_true", help="print what was purged as JSON")
    purge.set_defaults(handler=cmd_purge)


def _row(view: KeptView) -> tuple[object, ...]:
    return (view.name, view.owner or "-", ", ".join(view.ids) or "-", when(view.since), view.path)


def cmd_list(args: argparse.Namespace) -> int:
    views = open_session(args).list_kept()
    if args.json:
        print_json(views)
    else:
        print_table(HEADERS, [_row(v) for v in views])
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    if not args.yes:
        raise ValidationError(f"Purging {args.name} deletes its files for good: add --yes to do it.")
    view = open_session(args).purge_kept(args.name)
    if args.json:
        print_json(view)
    else:
        say(f"Purged {view.path}.")
    return 0
