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
EXIT_DEADLINE_SECONDS = 2.0


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _exit_deadline(code: int) -> None:
    """After the UI is gone, make sure a blocked background call cannot keep the process alive."""

    def finish() -> None:
        time.sleep(EXIT_DEADLINE_SECONDS)
        os._exit(code)

    threading.Thread(target=finish, name="ipynbsrv-exit-deadline", daemon=True).start()


def launch(args: argparse.Namespace) -> int:
    if not has_terminal():
        print(NO_TTY_HINT, file=sys.stderr)
        return 2
    from ..config import load_config
    from ..connect import open_session
    from .returning import ReturnOnLogin

    config = load_config(args.config)
    session = open_session(config)
    returning = ReturnOnLogin(session).start()  # before textual loads: the notebook is back sooner
    from .app import IpynbsrvApp

    app = IpynbsrvApp(config, session, hangup_guard=True, tune_gc=True, returning=returning)
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
