"""Start the terminal UI: refuse without a terminal, pick client or embedded mode, run the app."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

NO_TTY_HINT = (
    "ipynbsrv-tui needs an interactive terminal.\n"
    "Over SSH, ask for one: ssh -t HOST ipynbsrv-tui\n"
    "For scripting, use a subcommand instead, e.g. `ipynbsrv-tui containers list --json`."
)
# Under sshd's ForceCommand (SSH_ORIGINAL_COMMAND is set) a command given to ssh is ignored:
# only a terminal helps.
FORCED_NO_TTY_HINT = (
    "ipynbsrv-tui needs an interactive terminal, and this login runs only ipynbsrv-tui.\n"
    "Log in with one: ssh -t HOST"
)
NOT_RUNNING = (
    "ipynbsrv-tui: the notebook service is not running; it is retried every few seconds (ctrl+c leaves)."
)
BUSY = "ipynbsrv-tui: the notebook service is busy; it is retried every few seconds (ctrl+c leaves)."
RETRY_SECONDS = 3.0
EXIT_DEADLINE_SECONDS = 0.5


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _exit_deadline(code: int) -> None:
    """After the UI is gone, make sure a blocked background call cannot keep the process alive."""

    def finish() -> None:
        time.sleep(EXIT_DEADLINE_SECONDS)
        os._exit(code)

    threading.Thread(target=finish, name="ipynbsrv-exit-deadline", daemon=True).start()


def no_tty_hint(config_path: str | None = None) -> str:
    """What to do without a terminal. Under sshd's ForceCommand only a terminal helps: that is
    known from SSH_ORIGINAL_COMMAND (a command was given to ssh) or, for `ssh -T HOST` with none,
    from an ssh login in the group the sshd snippet forces ([directory] users_group)."""
    if "SSH_ORIGINAL_COMMAND" in os.environ or (
        "SSH_CONNECTION" in os.environ and _in_forced_group(config_path)
    ):
        return FORCED_NO_TTY_HINT
    return NO_TTY_HINT


def _in_forced_group(config_path: str | None) -> bool:
    import grp

    from ..config import load_config
    from ..domain import IpynbsrvError

    try:
        gid = grp.getgrnam(load_config(config_path).directory.users_group).gr_gid
    except (KeyError, IpynbsrvError):
        return False
    return gid in os.getgroups() or gid == os.getgid()


def wait_for_service(config, reason: str, headline: str = NOT_RUNNING):
    """The broker's session, once it answers and has room: retried every RETRY_SECONDS (ctrl+c or a
    hang-up leaves)."""
    from ..broker.client import connect_session
    from ..broker.protocol import BrokerBusy

    print(headline, file=sys.stderr, flush=True)
    print(f"  ({reason})", file=sys.stderr, flush=True)
    while True:
        time.sleep(RETRY_SECONDS)
        try:
            session = connect_session(config)
        except BrokerBusy:
            continue
        if session is not None:
            return session


def launch(args: argparse.Namespace) -> int:
    if not has_terminal():
        print(no_tty_hint(args.config), file=sys.stderr)
        return 2
    from ..config import load_config
    from ..connect import ServiceNotRunning, open_session
    from .early import EarlyCall
    from .returning import ReturnOnLogin

    config = load_config(args.config)
    from ..broker.protocol import BrokerBusy

    try:
        session = open_session(config)
    except ServiceNotRunning as exc:
        session = wait_for_service(config, str(exc))
    except BrokerBusy as exc:  # it runs and is full: wait for room, never "not running"
        session = wait_for_service(config, str(exc), BUSY)
    # Both before textual loads: the notebook is back sooner, and the first screen has its rows.
    returning = ReturnOnLogin(session).start()
    first_list = EarlyCall(session.list_containers, "ipynbsrv-first-list").start()
    from .app import IpynbsrvApp

    app = IpynbsrvApp(
        config, session, hangup_guard=True, tune_gc=True, returning=returning, first_list=first_list
    )
    try:
        app.run()
    finally:
        app.stop_streams()
        code = app.return_code or 0
        _exit_deadline(code)
        try:
            session.close()
        except Exception:  # closing a dead broker connection must not hide the real outcome
            pass
    return code
