"""`ipynbsrv-tui nodes …`: the Swarm nodes of a swarm-mode installation (admins; DESIGN §15)."""

from __future__ import annotations

import argparse

from ..domain import NodeView
from .output import one_line_errors, print_json, print_table, say
from .session import open_session

NODE_HELP = "the node: its ipynbsrv.node label, hostname or id (see `nodes list`)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `nodes` group and its subcommands."""
    group = subparsers.add_parser(
        "nodes", help="the swarm's nodes: list, drain, activate (swarm mode, admins)"
    )
    sub = group.add_subparsers(dest="nodes_command", metavar="SUBCOMMAND", required=True)

    listing = one_line_errors(
        sub.add_parser("list", help="nodes with state, availability, labels and notebooks")
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=cmd_list)

    drain = one_line_errors(sub.add_parser(
        "drain", help="place no notebook on the node; Swarm moves its notebooks to other eligible nodes"))
    drain.add_argument("node", help=NODE_HELP)
    drain.set_defaults(handler=cmd_availability, availability="drain")

    activate = one_line_errors(sub.add_parser("activate", help="let Swarm place notebooks on the node again"))
    activate.add_argument("node", help=NODE_HELP)
    activate.set_defaults(handler=cmd_availability, availability="active")


def _row(view: NodeView) -> tuple[object, ...]:
    labels = ",".join(f"{k}={v}" for k, v in sorted(view.labels.items()))
    role = f"{view.role} (leader)" if view.leader else view.role
    return (view.name, view.id[:12], role, view.state, view.availability, view.address, labels or "-",
            ", ".join(view.notebooks) or "-")


def cmd_list(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        views = session.list_nodes()
    finally:
        session.close()
    if args.json:
        print_json(views)
    else:
        print_table(("NODE", "ID", "ROLE", "STATE", "AVAILABILITY", "ADDRESS", "LABELS", "NOTEBOOKS"),
                    [_row(v) for v in views])
    return 0


def cmd_availability(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        if args.availability == "drain":
            view = session.drain_node(args.node)
            say(f"Drained node {view.name}: Swarm moves its notebooks to other eligible nodes.")
        else:
            view = session.activate_node(args.node)
            say(f"Activated node {view.name}: Swarm may place notebooks there again.")
    finally:
        session.close()
    return 0
