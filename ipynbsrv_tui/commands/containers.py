"""`ipynbsrv-tui containers …`: notebook containers from scripts, through the same service as the UI."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .. import bulk, validation
from ..domain import ConnectionInfo, ContainerView, IpynbsrvError, NotFound, ValidationError
from .output import one_line_errors, print_json, print_table, say, when
from .session import open_session

if TYPE_CHECKING:
    from ..interface import ServiceSession

CONTAINER_HELP = "the container: its number (#id), OWNER/NAME, or NAME among your own"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `containers` group and its subcommands."""
    group = subparsers.add_parser("containers", help="list, create and manage notebook containers")
    sub = group.add_subparsers(dest="containers_command", metavar="SUBCOMMAND", required=True)

    listing = one_line_errors(sub.add_parser("list", help="list the containers you may see"))
    listing.add_argument("--owner", help="only this user's containers (admins)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=cmd_list)

    create = one_line_errors(
        sub.add_parser("create", help="create (and start) a container from a registered image")
    )
    create.add_argument("name", help="container name, e.g. thesis")
    create.add_argument("--image", required=True, help="registered image name (see `images list`)")
    create.add_argument("--description", default="")
    create.add_argument("--memory", help="memory limit, e.g. 512m or 2g (default: the image's)")
    create.add_argument("--cpus", help="CPU limit, e.g. 0.5 (default: the image's)")
    create.add_argument("--owner", help="create it for this user (admins)")
    create.add_argument("--no-start", action="store_true", help="create it stopped")
    create.add_argument("--json", action="store_true", help="print the new container as JSON")
    create.set_defaults(handler=cmd_create)

    for action, text in (("start", "start"), ("stop", "stop (SIGTERM, then SIGKILL)"), ("restart", "restart"),
                         ("suspend", "suspend (pause, keeping its memory and kernels)")):
        parser = one_line_errors(
            sub.add_parser(
                action,
                help=f"{text} one or more containers; exit 0 when all succeeded, 1 when some, 2 when none",
            )
        )
        parser.add_argument("container", nargs="+", help=CONTAINER_HELP)
        parser.set_defaults(handler=cmd_lifecycle, action=action)

    resume = one_line_errors(sub.add_parser(
        "resume", help="resume suspended containers; without one, all your suspended notebooks"))
    resume.add_argument("container", nargs="*", help=CONTAINER_HELP)
    resume.set_defaults(handler=cmd_resume, action="resume")

    stop_suspended = one_line_errors(sub.add_parser(
        "stop-suspended", help="stop every suspended notebook, freeing their memory (admins)"))
    stop_suspended.add_argument("--yes", action="store_true", help="really stop them (required)")
    stop_suspended.set_defaults(handler=cmd_stop_suspended)

    delete = one_line_errors(
        sub.add_parser("delete", help="delete a container (its engine object and its row)")
    )
    delete.add_argument("container", help=CONTAINER_HELP)
    delete.add_argument("--yes", action="store_true", help="really delete (required)")
    delete.set_defaults(handler=cmd_delete)

    reach = one_line_errors(sub.add_parser(
        "open", help="how to open a notebook: its web address, or the ssh -L command when web access is off"))
    reach.add_argument("container", help=CONTAINER_HELP)
    reach.add_argument(
        "--json", action="store_true", help="print every way to reach it as JSON (includes the token)"
    )
    reach.set_defaults(handler=cmd_open)

    logs = one_line_errors(sub.add_parser("logs", help="print a container's log"))
    logs.add_argument("container", help=CONTAINER_HELP)
    logs.add_argument("--tail", default="200", help="how many of the last lines (default 200)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until interrupted")
    logs.set_defaults(handler=cmd_logs)


def resolve(session: ServiceSession, ref: str) -> ContainerView:
    """A container by `#id` / id, `owner/name`, or a name among the caller's own."""
    text = ref.strip().lstrip("#")
    if text.isdigit():
        return session.get_container(int(text))
    owner, _, name = text.rpartition("/")
    owner = owner or session.actor.username
    for view in session.list_containers(owner=owner if session.actor.is_admin else None):
        if view.owner == owner and view.name == name:
            return view
    raise NotFound(f"No container {owner}/{name}. List them with `ipynbsrv-tui containers list`.")


def _row(view: ContainerView) -> tuple[object, ...]:
    return (view.id, view.owner, view.name, view.image, view.state.value, view.host_port, when(view.created))


def _node(view: ContainerView) -> str:
    return f"{view.node} (lost)" if view.node_lost else (view.node or "-")


def cmd_list(args: argparse.Namespace) -> int:
    session = open_session(args)
    session.probe_starting()  # a notebook started by a process that has ended reads `running` once it answers
    views = session.list_containers(owner=args.owner)
    if args.json:
        print_json(views)
    else:
        headers = ("ID", "OWNER", "NAME", "IMAGE", "STATE", "PORT", "CREATED")
        if any(v.node for v in views):  # swarm mode: where each notebook runs
            print_table(headers + ("NODE",), [_row(v) + (_node(v),) for v in views])
        else:
            print_table(headers, [_row(v) for v in views])
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    session = open_session(args)
    cpus = validation.cpus(args.cpus) if args.cpus is not None else None
    view = session.create_container(
        args.name, args.image, description=args.description, memory=args.memory, cpus=cpus, owner=args.owner,
        start=not args.no_start,
    )
    if args.json:
        print_json(view)
    else:
        say(f"Created {view.owner}/{view.name} (#{view.id}), {view.state.value}, port {view.host_port}.")
        if view.url:
            print_how_to_open(session.connection_info(view.id))
    return 0


def print_how_to_open(info: ConnectionInfo) -> None:
    """The web address when web access is on (no token: the browser logs in), else the ssh -L way."""
    if info.web_url:
        say(f"Open {info.web_url} and log in with your directory password.")
    else:
        say(f"On your computer run:  {info.tunnel_command}")
        say(f"then open:  {info.local_url}")


def cmd_open(args: argparse.Namespace) -> int:
    session = open_session(args)
    view = resolve(session, args.container)
    info = session.connection_info(view.id)
    if args.json:
        print_json(info)
    else:
        print_how_to_open(info)
    return 0


def cmd_lifecycle(args: argparse.Namespace) -> int:
    """One line per container on stdout (it succeeded) or stderr (why not); one container keeps the
    single-command form: its failure is the command's error (exit 2)."""
    session = open_session(args)
    if len(args.container) == 1:
        view = resolve(session, args.container[0])
        updated = getattr(session, f"{args.action}_container")(view.id)
        say(f"{updated.owner}/{updated.name} (#{updated.id}) is {updated.state.value}.")
        return 0
    outcomes: list[bulk.Outcome] = []
    for ref in args.container:
        try:
            view = resolve(session, ref)
        except IpynbsrvError as exc:  # one unknown name does not stop the others
            outcomes.append(bulk.Outcome(bulk.Step(ref, 0, args.action), error=bulk.reason(exc)))
            say(f"ipynbsrv-tui: {ref}: {bulk.reason(exc)}", file=sys.stderr)
            continue
        outcome = bulk.run_each(session, [bulk.Step(f"{view.owner}/{view.name}", view.id, args.action)])[0]
        outcomes.append(outcome)
        if outcome.ok and outcome.view is not None:
            updated = outcome.view
            say(f"{updated.owner}/{updated.name} (#{updated.id}) is {updated.state.value}.", flush=True)
        else:
            say(f"ipynbsrv-tui: {outcome.line()}", file=sys.stderr)
    done = sum(1 for outcome in outcomes if outcome.ok)
    return 0 if done == len(outcomes) else (1 if done else 2)


def cmd_resume(args: argparse.Namespace) -> int:
    if args.container:
        return cmd_lifecycle(args)
    session = open_session(args)
    resumed = session.resume_suspended()
    if not resumed:
        say("You have no suspended notebooks.")
    for view in resumed:
        say(f"{view.owner}/{view.name} (#{view.id}) is {view.state.value}.")
    return 0


def cmd_stop_suspended(args: argparse.Namespace) -> int:
    session = open_session(args)
    if not args.yes:
        memory = session.suspended_memory()
        raise ValidationError(
            f"This stops {memory.count} suspended notebooks ({_mib(memory.bytes)}); their kernels and "
            "unsaved work are lost. Add --yes to do it."
        )
    stopped = session.stop_suspended()
    say(f"Stopped {len(stopped)} suspended notebooks" + (f": {', '.join(stopped)}." if stopped else "."))
    return 0


def _mib(size: int) -> str:
    return f"{size / 1048576:.0f} MiB"


def cmd_delete(args: argparse.Namespace) -> int:
    session = open_session(args)
    view = resolve(session, args.container)
    if not args.yes:
        raise ValidationError(f"Deleting {view.owner}/{view.name} cannot be undone: add --yes to do it.")
    session.delete_container(view.id)
    say(f"Deleted {view.owner}/{view.name} (#{view.id}).")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    try:
        tail = int(args.tail)
    except ValueError:
        raise ValidationError(f"--tail {args.tail!r} is not a number of lines, e.g. 200.") from None
    if tail < 0:
        raise ValidationError(f"--tail {tail} must be 0 or more.")
    session = open_session(args)
    view = resolve(session, args.container)
    if not args.follow:
        for line in session.container_logs(view.id, tail=tail):
            say(line.rstrip("\n"))
        return 0
    stream = session.follow_logs(view.id, tail=tail)
    try:
        for line in stream:
            say(line.rstrip("\n"), flush=True)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return 0
