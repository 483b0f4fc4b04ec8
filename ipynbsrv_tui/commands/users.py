"""`ipynbsrv-tui users …`: directory users from scripts, through the same service as the UI."""

from __future__ import annotations

import argparse
import pwd
import sys

from ..config import load_config
from ..domain import UserView, ValidationError
from . import hostaccount
from .output import one_line_errors, print_json, print_table, read_password, say, when
from .session import open_session

CHOICES = "keep, archive or delete"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `users` group and its subcommands."""
    group = subparsers.add_parser("users", help="list, create, delete, change and sync directory users")
    sub = group.add_subparsers(dest="users_command", metavar="SUBCOMMAND", required=True)

    listing = one_line_errors(
        sub.add_parser("list", help="list the users (from the store's copy of the directory)")
    )
    listing.add_argument(
        "filter", nargs="?", default="", help="only users whose name, display name or email contains this"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=cmd_list)

    create = one_line_errors(
        sub.add_parser(
            "create",
            help="create a user in the directory",
            description="The password is read from --password-file (- = the first line of stdin, e.g. in a "
            "script), or asked twice when run in a terminal; it is never taken from the command line. "
            "--host-account also makes the matching login account on this host (as root).",
        )
    )
    create.add_argument("username")
    create.add_argument("--name", default="", help="display name")
    create.add_argument("--email", default="")
    create.add_argument("--admin", action="store_true", help="make the user an admin")
    create.add_argument("--uid", type=int, help="this uid instead of the next free one (1000 or more; a host "
                                                "account's uid only for the host account of the same name)")
    create.add_argument(
        "--gid", type=int, help="this primary gid instead of the users group's (1000 or more)"
    )
    create.add_argument(
        "--password-file", metavar="FILE", help="read the password from FILE's first line (- = stdin)"
    )
    create.add_argument("--json", action="store_true", help="print the new user as JSON")
    create.add_argument(
        "--host-account",
        action="store_true",
        help="also create the login account on this host: same name and uid, in the host group "
        "[directory] users_group (made when missing), same password; refused when the name or uid is taken",
    )
    create.set_defaults(handler=cmd_create)

    delete = one_line_errors(
        sub.add_parser("delete", help="delete a user, choosing what happens to their things")
    )
    delete.add_argument("username")
    delete.add_argument("--containers", default="archive",
                        help=f"the user's containers, snapshots and images: {CHOICES} (default archive)")
    delete.add_argument("--data", default="archive",
                        help=f"the user's home and public folder: {CHOICES} (default archive)")
    delete.add_argument("--yes", action="store_true", help="really delete (required)")
    delete.add_argument("--json", action="store_true", help="print the report as JSON")
    delete.set_defaults(handler=cmd_delete)

    admin = one_line_errors(
        sub.add_parser("admin", help="make a user an admin (--undo: an ordinary user again)")
    )
    admin.add_argument("username")
    admin.add_argument("--undo", action="store_true", help="take the admin right away")
    admin.add_argument("--json", action="store_true", help="print the user as JSON")
    admin.set_defaults(handler=cmd_admin)

    for verb, active, what in (("disable", False, "no login and no new notebooks; running ones are stopped"),
                               ("enable", True, "allow a disabled user again")):
        toggle = one_line_errors(sub.add_parser(verb, help=f"{verb} a user: {what}"))
        toggle.add_argument("username")
        toggle.add_argument("--json", action="store_true", help="print the user as JSON")
        toggle.set_defaults(handler=cmd_active, active=active)

    password = one_line_errors(sub.add_parser(
        "password", help="set a user's password",
        description="Read from --password-file (- = the first line of stdin), or asked twice in a terminal; "
                    "never taken from the command line.",
    ))
    password.add_argument("username")
    password.add_argument(
        "--password-file", metavar="FILE", help="read the password from FILE's first line (- = stdin)"
    )
    password.set_defaults(handler=cmd_password)

    sync = one_line_errors(
        sub.add_parser("sync", help="copy the directory's users and groups into the store")
    )
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    sync.set_defaults(handler=cmd_sync)


def _row(view: UserView) -> tuple[object, ...]:
    return (
        view.username, view.display_name, view.uid, "yes" if view.is_admin else "no",
        "active" if view.active else "disabled", view.containers, when(view.last_seen),
    )


def cmd_list(args: argparse.Namespace) -> int:
    views = open_session(args).list_users(args.filter)
    if args.json:
        print_json(views)
    else:
        print_table(("USERNAME", "NAME", "UID", "ADMIN", "STATUS", "CONTAINERS", "LAST SEEN"),
                    [_row(v) for v in views])
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    if args.host_account:
        hostaccount.check_can_create(args.username)
    password = read_password(args.password_file)
    session = open_session(args)
    view = session.create_user(
        args.username, password, display_name=args.name, email=args.email, is_admin=args.admin,
        uid=args.uid, gid=args.gid,
    )
    made = ""
    if args.host_account:
        try:
            made = hostaccount.create(view.username, view.uid, load_config(args.config).directory.users_group,
                                      password, display_name=args.name)
        except ValidationError as exc:  # nothing half-done: the directory user goes again
            session.delete_user(view.username, containers="delete", data="delete")
            raise ValidationError(f"{exc} The directory user {view.username} was removed again.") from None
    if args.json:
        print_json(view)
    else:
        say(f"Created user {view.username} (uid {view.uid}).")
        if made:
            say(f"Created the {made}.")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        raise ValidationError(f"Deleting user {args.username} cannot be undone: add --yes to do it.")
    report = open_session(args).delete_user(args.username, containers=args.containers, data=args.data)
    account = _host_account_left(report.username)
    if args.json:
        print_json(report)
        if account:
            say(f"kept: {account}", file=sys.stderr)
        return 0
    say(f"Deleted user {report.username} (containers: {report.containers}, data: {report.data}).")
    for title, items in (("archived", report.archived), ("removed", report.removed), ("kept", report.kept)):
        for item in items:
            say(f"  {title}: {item}")
    if account:
        say(f"  kept: {account}")
    return 0


def _host_account_left(username: str) -> str | None:
    """The host login account of that name, which deleting the directory user leaves (said, not hidden)."""
    try:
        entry = pwd.getpwnam(username)
    except KeyError:
        return None
    return (
        f"the host account {username} (uid {entry.pw_uid}, home {entry.pw_dir}); "
        f"userdel -r {username} removes it (deploy/uninstall.sh --purge removes every one users create made)"
    )


def cmd_admin(args: argparse.Namespace) -> int:
    view = open_session(args).set_admin(args.username, not args.undo)
    return _print_user(args, view, "an admin" if view.is_admin else "not an admin")


def cmd_active(args: argparse.Namespace) -> int:
    view = open_session(args).set_active(args.username, args.active)
    return _print_user(args, view, "enabled" if view.active else "disabled")


def cmd_password(args: argparse.Namespace) -> int:
    password = read_password(args.password_file)
    open_session(args).set_password(args.username, password)
    say(f"Set the password of {args.username}.")
    return 0


def _print_user(args: argparse.Namespace, view: UserView, state: str) -> int:
    if args.json:
        print_json(view)
    else:
        say(f"User {view.username} is {state}.")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    report = open_session(args).sync_users()
    if args.json:
        print_json(report)
    else:
        say(f"Synced: {report.summary() if hasattr(report, 'summary') else report}")
    return 0
