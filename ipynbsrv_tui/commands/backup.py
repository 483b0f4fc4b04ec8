"""`ipynbsrv-tui backup …`: set up and run backups (admins), browse and restore files (everyone; DESIGN
§17)."""

from __future__ import annotations

import argparse
import sys

from ..domain import BackupEntry
from ..logsafe import escape_controls
from .output import one_line_errors, print_json, print_table, say, when
from .session import open_session

PATH_HELP = ("a path as your notebooks show it: /home/<you>/…, /data/shares/<share>/…, ~/… "
             "or relative to your home")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `backup` group and its subcommands."""
    group = subparsers.add_parser("backup", help="backups: list snapshots, browse and restore your files; "
                                                 "init, run, status (admins)")
    sub = group.add_subparsers(dest="backup_command", metavar="SUBCOMMAND", required=True)

    listing = one_line_errors(sub.add_parser("list", help="the backup snapshots, newest first"))
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=cmd_list)

    files = one_line_errors(sub.add_parser(
        "files", help="what a snapshot holds at PATH (without PATH: your home and the shares you use)"))
    files.add_argument(
        "snapshot", help='a snapshot id (or its first characters) from `backup list`, or "latest"'
    )
    files.add_argument("path", nargs="?", default="", help=PATH_HELP)
    files.add_argument("--json", action="store_true", help="print JSON instead of a table")
    files.set_defaults(handler=cmd_files)

    restore = one_line_errors(sub.add_parser(
        "restore", help="bring back a file or folder into restored/<snapshot time>/ of its home or share "
                        "(never over anything)"))
    restore.add_argument("path", help=PATH_HELP)
    restore.add_argument(
        "--snapshot", default="latest", help='the snapshot to restore from (default: "latest")'
    )
    restore.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
    restore.set_defaults(handler=cmd_restore)

    init = one_line_errors(sub.add_parser("init", help="create the restic repository of [backup] (admins)"))
    init.set_defaults(handler=cmd_init)

    run = one_line_errors(sub.add_parser("run", help="back up now: homes, shares, the database (admins)"))
    run.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
    run.set_defaults(handler=cmd_run)

    recover = one_line_errors(sub.add_parser(
        "restore-installation",
        help="disaster recovery, as root with the broker stopped: bring back the database, homes, shares and "
             "public folders from the latest snapshot (admins)"))
    recover.add_argument(
        "--snapshot", default="", help="the snapshot (id or its first characters); default: the latest"
    )
    recover.add_argument("--force", action="store_true",
                         help="replace a database and data folders that exist already")
    recover.set_defaults(handler=cmd_restore_installation)

    status = one_line_errors(
        sub.add_parser("status", help="last run, last success, next run, problems (admins)")
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of lines")
    status.set_defaults(handler=cmd_status)


def cmd_list(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        snapshots = session.backup_snapshots()
    finally:
        session.close()
    if args.json:
        print_json(snapshots)
    else:
        print_table(("SNAPSHOT", "TIME"), [(s.short_id, when(s.time.astimezone())) for s in snapshots])
    return 0


def _size(entry: BackupEntry) -> str:
    return "-" if entry.kind == "dir" else str(entry.size)


def cmd_files(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        entries = session.backup_files(args.snapshot, args.path)
    finally:
        session.close()
    if args.json:
        print_json(entries)
    else:
        print_table(
            ("KIND", "SIZE", "MODIFIED", "PATH"),
            [
                (e.kind, _size(e), when(e.mtime.astimezone() if e.mtime else None), escape_controls(e.path))
                for e in entries
            ],
        )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        result = session.backup_restore(args.path, args.snapshot)
    finally:
        session.close()
    if args.json:
        print_json(result)
        return 0
    say(
        f"Restored {escape_controls(result.path)} from the backup of "
        f"{when(result.snapshot_time.astimezone())} ({result.snapshot}) to "
        f"{escape_controls(result.target)} ({result.files} files)."
    )
    if result.skipped:
        say(
            "Not restored (devices, fifos or sockets): "
            + ", ".join(escape_controls(p) for p in result.skipped)
        )
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        repository = session.backup_init()
    finally:
        session.close()
    say(f"Created the restic repository {repository}. Keep a copy of its password file somewhere safe: "
          "without it the backups cannot be read.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        report = session.backup_run()
    finally:
        session.close()
    if args.json:
        print_json(report)
        return 0
    say(
        f"Backed up in {report.seconds:.1f} s: snapshot {report.snapshot}, {report.files_new} new and "
        f"{report.files_changed} changed files, {report.bytes_added} bytes added; "
        f"{report.forgotten} old snapshots forgotten" + ("; repository checked." if report.checked else ".")
    )
    return 0


def cmd_restore_installation(args: argparse.Namespace) -> int:
    from ..backup.recovery import restore_installation
    from ..broker.client import connect_session
    from ..config import load_config

    config = load_config(args.config)
    running = connect_session(config, timeout=1.0)
    if running is not None:
        running.close()
        say(f"ipynbsrv-tui: the broker answers at {config.broker.socket}: stop it first "
              "(systemctl stop ipynbsrv), then restore.", file=sys.stderr)
        return 2
    report = restore_installation(config, args.snapshot, args.force)
    say(f"Restored snapshot {report.snapshot} of {report.time}: the database to {report.database}, "
          f"and {', '.join(report.folders)}.")
    say(
        "Next: start the broker (systemctl start ipynbsrv): its reconcile makes the notebooks again, after "
        "rebuilding the images this engine lacks. `ipynbsrv-tui reconcile` shows what it did and what "
        "needs you."
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        status = session.backup_status()
    finally:
        session.close()
    if args.json:
        print_json(status)
        return 0 if status.enabled and not status.last_error and not status.late else 1
    if not status.enabled:
        say("Backups are off ([backup] enabled = false).")
        return 1
    say(f"repository:   {status.repository}")
    say(f"schedule:     {status.schedule}" + (" (running now)" if status.running else ""))
    say(f"last run:     {when(status.last_run.astimezone() if status.last_run else None)}")
    say(f"last success: {when(status.last_success.astimezone() if status.last_success else None)}"
          + ("  LATE: no success for over 26 hours" if status.late else ""))
    say(f"last check:   {when(status.last_check.astimezone() if status.last_check else None)}")
    say(f"next run:     {when(status.next_run.astimezone() if status.next_run else None)}")
    if status.last_error:
        say(f"last error:   {escape_controls(status.last_error)}")
    return 0 if not status.last_error and not status.late else 1
