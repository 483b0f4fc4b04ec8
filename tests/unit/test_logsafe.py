"""Log lines that untrusted text cannot forge (DESIGN §8): the broker's, where a web login name and
every command line argument a user sends end up."""

from __future__ import annotations

import subprocess
import sys

FORGED = "zz\n2026-12-06T20:00:00.000 INFO ipynbsrv.web: web: root logged in\x1b[2J"


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_the_brokers_log_escapes_control_characters_in_every_line():
    err = run(
        "import logging, sys\nfrom ipynbsrv_tui.commands.serve import LOG_DATES, LOG_FORMAT\nfrom "
        "ipynbsrv_tui.logsafe import install\ninstall('INFO', sys.stderr, LOG_FORMAT, "
        "LOG_DATES)\nlogging.getLogger('ipynbsrv.web').warning('web: failed login for %s from %s', "
        f"{FORGED!r}, '127.0.0.1')\nlogging.getLogger('ipynbsrv.audit').warning({FORGED!r})\ntry:\n    "
        f"raise ValueError({FORGED!r})\nexcept ValueError:\n    "
        "logging.getLogger('ipynbsrv.broker').exception('call failed')\n"
    )
    lines = err.splitlines()
    records = [line for line in lines if not line.startswith(" ")]
    assert len(records) == 3, lines
    assert "zz\\x0a2026-12-06" in records[0] and "\\x1b[2J" in records[0] and "\x1b" not in err
    assert all(line.startswith(("20", "    ")) for line in lines), lines
