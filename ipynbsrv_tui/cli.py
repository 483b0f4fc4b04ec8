"""Entry point `ipynbsrv-tui` and its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import __version__
from .domain import IpynbsrvError
from .logsafe import escape_controls

if TYPE_CHECKING:
    from .config import Config

Handler = Callable[[argparse.Namespace], int]


def global_parser() -> argparse.ArgumentParser:
    """The options that come before any command; enough to start the terminal UI."""
    from .commands.output import one_line_errors

    parser = one_line_errors(argparse.ArgumentParser(
        prog="ipynbsrv-tui",
        description="Multi-user Jupyter notebooks on Docker. Without a command, starts the terminal UI.",
    ))
    parser.add_argument(
        "--config", metavar="FILE",
        help="the configuration file (TOML); default: $IPYNBSRV_CONFIG, else /etc/ipynbsrv/config.toml, "
             "else the embedded defaults",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Every command; loading them all costs a tenth of a second, so starting the UI does not (DESIGN §12)."""
    from .commands import command_groups
    from .commands.docs_links import add_links

    parser = global_parser()
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check-config", help="validate the configuration and print what is in effect")
    check.set_defaults(handler=cmd_check_config)

    for register in command_groups():
        register(commands)
    add_links(parser)
    return parser


def names_a_command(argv: list[str]) -> bool:
    """Whether `argv` holds more than the global options (a command, or a request for help)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif word.startswith("--config=") or word == "--version":
            continue
        else:
            return True
    return False


def cmd_check_config(args: argparse.Namespace) -> int:
    from .config import effective_toml, load_config

    config = load_config(args.config)
    sys.stdout.write(effective_toml(config))
    code = 0
    from .service.hostdata import HostData
    from .store.db import readable_by_others

    data = HostData(config.data.path)
    for message in (*readable_by_others(config.database.resolved_path), *data.readable_by_others()):
        print(f"ipynbsrv-tui: warning: {message}", file=sys.stderr)
    if config.web.enabled:
        from .web.checks import check_web

        for level, message in check_web(config):
            print(f"ipynbsrv-tui: {level}: {message}", file=sys.stderr)
            code = 2 if level == "error" else code
    if config.backup.enabled or config.backup.repository:
        from .backup.checks import check_backup

        for level, message in check_backup(config):
            print(f"ipynbsrv-tui: {level}: {message}", file=sys.stderr)
            code = 2 if level == "error" else code
    if config.engine.mode == "swarm":  # prove [data] root is the same folder on every node (DESIGN §15)
        from .engine.swarm import check_data_root

        image = probe_image(config)
        lines = (
            check_data_root(config, image)
            if image
            else [
                (
                    "warning",
                    (
                        "[data] root was not probed on the nodes: the probe runs with a registered "
                        "notebook image (one every node needs anyway), and none is registered yet. "
                        "Register one, then run check-config again."
                    ),
                )
            ]
        )
        for level, message in lines:
            print(f"ipynbsrv-tui: {level}: {message}", file=sys.stderr)
            code = 2 if level == "error" else code
    return code


def probe_image(config: Config) -> str | None:
    """The ref of the newest registered notebook image that is not retired (None: none, or no database
    yet)."""
    from pathlib import Path

    from .store import close_database, open_database
    from .store.models import Image

    if not Path(config.database.path).expanduser().exists():
        return None
    open_database(config.database.path, migrate=False)
    try:
        row = Image.select(Image.ref).where(Image.retired == False).order_by(Image.id.desc()).first()  # noqa: E712
        return str(row.ref) if row is not None else None
    finally:
        close_database()


def cmd_tui(args: argparse.Namespace) -> int:
    from .tui.launch import launch

    return launch(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser() if names_a_command(argv) else global_parser()
    args = parser.parse_args(argv)
    handler: Handler = getattr(args, "handler", cmd_tui)
    try:
        return handler(args)
    except IpynbsrvError as exc:  # it may quote what was typed or stored: one line, escaped
        sys.stderr.write(f"ipynbsrv-tui: {escape_controls(str(exc))}\n")
        return 2
    except KeyboardInterrupt:
        print("ipynbsrv-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """The reader of our output left (`ipynbsrv-tui … --json | head`): stop quietly, as `cat` does.

    stdout is pointed at /dev/null so that the interpreter's final flush cannot fail again.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


if __name__ == "__main__":
    sys.exit(main())
