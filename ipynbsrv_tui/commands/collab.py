"""`ipynbsrv-tui groups|shares|notifications …`: collaboration from scripts (DESIGN §14), through
the same service as the UI, so the same rules apply (non-members get "not found")."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..domain import CollabGroupView, NotificationView, ShareChange, ShareView, ValidationError
from .output import one_line_errors, print_json, print_table, say, when
from .session import open_session

CHOICES = "keep, archive or delete"


def _parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    handler: Callable[[argparse.Namespace], int],
    json_flag: bool = False,
) -> argparse.ArgumentParser:
    parser = one_line_errors(sub.add_parser(name, help=help_text))
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=handler)
    return parser


def register_groups(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`groups list|show|create|delete|add|remove|join|leave`."""
    group = subparsers.add_parser("groups", help="collaboration groups: create, join, add members")
    sub = group.add_subparsers(dest="groups_command", metavar="SUBCOMMAND", required=True)
    p = _parser(sub, "list", "the groups you belong to and public ones (admins: all)", groups_list, True)
    p.add_argument("filter", nargs="?", default="", help="only groups whose name contains this")
    p = _parser(sub, "show", "one group with its members, admins and shares", groups_show, True)
    p.add_argument("group")
    p = _parser(sub, "create", "create a group; you become its first admin", groups_create, True)
    p.add_argument("name")
    p.add_argument("--public", action="store_true", help="anyone may join it")
    p.add_argument("--description", default="")
    p = _parser(sub, "delete", "delete a group (its admins, admins)", groups_delete)
    p.add_argument("group")
    p.add_argument("--yes", action="store_true", help="really delete (required)")
    p = _parser(sub, "add", "add a member (group admins)", groups_add, True)
    p.add_argument("group")
    p.add_argument("user")
    p.add_argument("--admin", action="store_true", help="make them a group admin too")
    p = _parser(sub, "remove", "remove a member (group admins)", groups_remove, True)
    p.add_argument("group")
    p.add_argument("user")
    p.add_argument("--admin", action="store_true", help="only take their group-admin rights")
    p = _parser(sub, "join", "join a public group", groups_join, True)
    p.add_argument("group")
    p = _parser(sub, "leave", "leave a group", groups_leave)
    p.add_argument("group")


def register_shares(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`shares list|show|create|delete|grant|revoke`."""
    group = subparsers.add_parser("shares", help="shared folders: create, grant to groups")
    sub = group.add_subparsers(dest="shares_command", metavar="SUBCOMMAND", required=True)
    p = _parser(sub, "list", "the shares you own or may use (admins: all)", shares_list, True)
    p.add_argument(
        "filter", nargs="?", default="", help="only shares whose name or description contains this"
    )
    p = _parser(sub, "show", "one share with its grants and members", shares_show, True)
    p.add_argument("share")
    p = _parser(sub, "create", "create a share: /data/shares/NAME in your notebooks", shares_create, True)
    p.add_argument("name")
    p.add_argument("--description", default="")
    p = _parser(sub, "delete", "delete a share, choosing what happens to its files", shares_delete, True)
    p.add_argument("share")
    p.add_argument("--data", default="archive", help=f"its files: {CHOICES} (default archive)")
    p.add_argument("--yes", action="store_true", help="really delete (required)")
    p = _parser(sub, "grant", "let a group (or a user: their personal group) use a share", shares_grant, True)
    p.add_argument("share")
    p.add_argument("group")
    p = _parser(sub, "revoke", "end a group's access to a share", shares_revoke, True)
    p.add_argument("share")
    p.add_argument("group")
    p = _parser(
        sub, "image", "share an image you own with a group (--revoke: stop sharing)", shares_image, True
    )
    p.add_argument("image")
    p.add_argument("group")
    p.add_argument("--revoke", action="store_true")


def register_notifications(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`notifications list|send|read|mute|mutes`."""
    group = subparsers.add_parser("notifications", help="your notifications; send to your groups")
    sub = group.add_subparsers(dest="notifications_command", metavar="SUBCOMMAND", required=True)
    p = _parser(sub, "list", "your notifications, newest first", notes_list, True)
    p.add_argument("--unread", action="store_true", help="only unread ones")
    p = _parser(sub, "send", "send a message to a group you belong to", notes_send, True)
    p.add_argument("group")
    p.add_argument("message")
    p.add_argument("--about", default="", metavar="KIND:NAME",
                   help="what it is about: container:NAME, image:NAME, group:NAME or share:NAME")
    p = _parser(sub, "read", "mark a notification (or --all) as read", notes_read)
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--all", action="store_true")
    p = _parser(
        sub,
        "mute",
        "no more notifications from a user (their messages and what they do) or to a group",
        notes_mute,
        True,
    )
    p.add_argument("what", choices=("user", "group"))
    p.add_argument("name")
    p.add_argument("--undo", action="store_true", help="take the mute back")
    _parser(sub, "mutes", "the users and groups you muted", notes_mutes, True)


# ---------------------------------------------------------------------- groups


def _group_row(view: CollabGroupView) -> tuple[object, ...]:
    kind = "personal" if view.is_personal else ("public" if view.is_public else "private")
    return (view.name, view.gid, kind, view.creator, len(view.members), ", ".join(view.admins),
            "yes" if view.is_member else "no")


def _print_group(args: argparse.Namespace, view: CollabGroupView, done: str = "") -> int:
    if args.json:
        print_json(view)
        return 0
    if done:
        say(done)
    print_table(("GROUP", "GID", "KIND", "CREATOR", "MEMBERS", "ADMINS", "MEMBER"), [_group_row(view)])
    say(f"members: {', '.join(view.members) or '-'}")
    if view.shares:
        say(f"shares: {', '.join(view.shares)}")
    return 0


def groups_list(args: argparse.Namespace) -> int:
    views = open_session(args).collab_groups(args.filter)
    if args.json:
        print_json(views)
    else:
        print_table(
            ("GROUP", "GID", "KIND", "CREATOR", "MEMBERS", "ADMINS", "MEMBER"), [_group_row(v) for v in views]
        )
    return 0


def groups_show(args: argparse.Namespace) -> int:
    return _print_group(args, open_session(args).collab_group(args.group))


def groups_create(args: argparse.Namespace) -> int:
    view = open_session(args).create_collab_group(args.name, public=args.public, description=args.description)
    return _print_group(args, view, f"Created group {view.name} (gid {view.gid}).")


def groups_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        raise ValidationError(f"Deleting group {args.group} cannot be undone: add --yes to do it.")
    open_session(args).delete_collab_group(args.group)
    say(f"Deleted group {args.group}.")
    return 0


def groups_add(args: argparse.Namespace) -> int:
    view = open_session(args).add_collab_member(args.group, args.user, admin=args.admin)
    return _print_group(
        args,
        view,
        f"Added {args.user} to {args.group}{' as a group admin' if args.admin else ''}."
        " Their running notebooks see the group's shares at their next start.",
    )


def groups_remove(args: argparse.Namespace) -> int:
    view = open_session(args).remove_collab_member(args.group, args.user, admin_only=args.admin)
    what = f"Took {args.user}'s admin rights in" if args.admin else f"Removed {args.user} from"
    return _print_group(args, view, f"{what} {args.group}.")


def groups_join(args: argparse.Namespace) -> int:
    view = open_session(args).join_group(args.group)
    return _print_group(args, view, f"Joined {args.group}. Restart running notebooks to see its shares.")


def groups_leave(args: argparse.Namespace) -> int:
    open_session(args).leave_group(args.group)
    say(f"Left {args.group}.")
    return 0


# ---------------------------------------------------------------------- shares


def _share_row(view: ShareView) -> tuple[object, ...]:
    return (
        view.name,
        view.owner,
        view.group,
        ", ".join(view.grants) or "-",
        len(view.members),
        view.description,
    )


def _print_share(args: argparse.Namespace, view: ShareView, done: str = "") -> int:
    if args.json:
        print_json(view)
        return 0
    if done:
        say(done)
    print_table(("SHARE", "OWNER", "GROUP", "GRANTED TO", "MEMBERS", "DESCRIPTION"), [_share_row(view)])
    say(f"in notebooks: {view.path}; members: {', '.join(view.members) or '-'}")
    return 0


def _print_change(args: argparse.Namespace, change: ShareChange, done: str) -> int:
    if args.json:
        print_json(change)
        return 0
    say(done)
    if change.notified:
        say(f"notified: {', '.join(change.notified)}")
    if change.restart_needed:
        say(f"{change.note} ({', '.join(change.restart_needed)})")
    return 0


def shares_list(args: argparse.Namespace) -> int:
    views = open_session(args).list_shares(args.filter)
    if args.json:
        print_json(views)
    else:
        print_table(
            ("SHARE", "OWNER", "GROUP", "GRANTED TO", "MEMBERS", "DESCRIPTION"),
            [_share_row(v) for v in views],
        )
    return 0


def shares_show(args: argparse.Namespace) -> int:
    return _print_share(args, open_session(args).get_share(args.share))


def shares_create(args: argparse.Namespace) -> int:
    view = open_session(args).create_share(args.name, description=args.description)
    return _print_share(
        args, view, f"Created share {view.name}: restart running notebooks to see {view.path}."
    )


def shares_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        raise ValidationError(f"Deleting share {args.share} cannot be undone: add --yes to do it.")
    report = open_session(args).delete_share(args.share, data=args.data)
    if args.json:
        print_json(report)
        return 0
    say(f"Deleted share {report.share} (data: {report.data}).")
    for title, item in (("archived", report.archived), ("removed", report.removed), ("kept", report.kept)):
        if item:
            say(f"  {title}: {item}")
    if report.restart_needed:
        say(f"Running notebooks keep the folder until their next start: {', '.join(report.restart_needed)}")
    return 0


def shares_grant(args: argparse.Namespace) -> int:
    change = open_session(args).grant_share(args.share, args.group)
    return _print_change(args, change, f"Granted {change.group} on {change.share}.")


def shares_revoke(args: argparse.Namespace) -> int:
    change = open_session(args).revoke_share(args.share, args.group)
    return _print_change(args, change, f"Revoked {change.group} on {change.share}.")


def shares_image(args: argparse.Namespace) -> int:
    session = open_session(args)
    if args.revoke:
        change = session.unshare_image(args.image, args.group)
        return _print_change(args, change, f"Stopped sharing image {change.share} with {change.group}.")
    change = session.share_image(args.image, args.group)
    return _print_change(args, change, f"Shared image {change.share} with {change.group}.")


# ---------------------------------------------------------------------- notifications


def _note_row(view: NotificationView) -> tuple[object, ...]:
    about = f"{view.kind}:{view.target}" if view.target else view.kind
    message = f"{view.message} (×{view.repeats})" if view.repeats > 1 else view.message
    return (view.id, "" if view.read else "*", when(view.created), view.sender or "system",
            ",".join(view.groups), about, message)


def notes_list(args: argparse.Namespace) -> int:
    views = open_session(args).list_notifications(unread_only=args.unread)
    if args.json:
        print_json(views)
    else:
        print_table(("ID", "NEW", "WHEN", "FROM", "TO", "ABOUT", "MESSAGE"), [_note_row(v) for v in views])
    return 0


def notes_send(args: argparse.Namespace) -> int:
    kind, _, target = args.about.partition(":") if args.about else ("misc", "", "")
    if args.about and not target:
        raise ValidationError(f"--about {args.about!r} must be KIND:NAME, e.g. share:thesis.")
    view = open_session(args).send_notification(args.group, args.message, kind=kind, target=target)
    if args.json:
        print_json(view)
    else:
        say(f"Sent notification {view.id} to {args.group}.")
    return 0


def notes_read(args: argparse.Namespace) -> int:
    if args.id is None and not args.all:
        raise ValidationError("Give a notification id, or --all to mark every one as read.")
    changed = open_session(args).mark_read(None if args.all else args.id)
    say(f"Marked {changed} notification{'s' if changed != 1 else ''} as read.")
    return 0


def notes_mute(args: argparse.Namespace) -> int:
    mutes = open_session(args).mute(args.what, args.name, undo=args.undo)
    if args.json:
        print_json(mutes)
        return 0
    say(f"{'Unmuted' if args.undo else 'Muted'} {args.what} {args.name}.")
    say(f"muted: {', '.join(mutes) or '-'}")
    return 0


def notes_mutes(args: argparse.Namespace) -> int:
    mutes = open_session(args).list_mutes()
    if args.json:
        print_json(mutes)
    else:
        say(f"muted: {', '.join(mutes) or '-'}")
    return 0
