"""DESIGN §11 / issue 22 item 2: no test reaches a live installation's broker.

The session (tests/conftest.py) gives every config that names no socket one of its own, and its
guard (tests/socket_guard.py) fails any test that connects to a Unix socket it did not create,
in the pytest process and in the processes a test starts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from ipynbsrv_tui.config import DEFAULT_BROKER_SOCKET, Config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_a_config_without_a_socket_names_one_in_the_sessions_temp_folder():
    for config in (Config(), parse_config('[database]\npath = "/x/ipynbsrv.db"\n')):
        assert config.broker.socket != DEFAULT_BROKER_SOCKET
        assert config.broker.socket.startswith(tempfile.gettempdir() + os.sep)


CHILD_TESTS = '''
import socket, subprocess, sys

OUTSIDE = {outside!r}


def test_connects_in_process():  # and swallows the refusal, as a client falling back to embedded mode does
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(OUTSIDE)
        except OSError:
            pass


def test_connects_from_a_process_it_starts():
    code = "import socket; socket.socket(socket.AF_UNIX).connect(%r)" % OUTSIDE
    subprocess.run([sys.executable, "-c", code], capture_output=True)


def test_its_own_socket_is_fine(tmp_path):
    path = str(tmp_path / "own.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)
'''


def test_the_guard_fails_a_test_that_reaches_a_socket_it_did_not_create():
    """A pytest session with this suite's conftest, whose temp folder is <folder>/i: a socket in
    <folder> (outside it) stands for a live broker's. It is never reached, and the tests that try fail."""
    tmp_path = Path(tempfile.mkdtemp(prefix="ipynbsrv-guard-"))  # short: a socket path is at most 107 bytes
    try:
        _child_session(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _child_session(tmp_path: Path) -> None:
    inner = tmp_path / "i"
    inner.mkdir()
    outside = tmp_path / "live.sock"
    (tmp_path / "test_child.py").write_text(textwrap.dedent(CHILD_TESTS.format(outside=str(outside))))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["TMPDIR"] = str(inner)
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(outside))
        live.listen()
        live.setblocking(False)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
             "--rootdir", str(tmp_path), "--basetemp", str(inner / "b"), str(tmp_path / "test_child.py")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        try:
            live.accept()
            reached = True
        except BlockingIOError:
            reached = False
    output = result.stdout + result.stderr
    assert not reached, "the guard let a test through to the live socket"
    assert result.returncode == 1, output
    assert "3 passed, 2 errors" in output, output
    message = f"this test reached a Unix socket it did not create: {outside}"
    # One per failing test in the ERRORS section; the short summary repeats it whole when CI is set.
    assert [line.startswith(message) for line in output.splitlines()].count(True) == 2, output
    assert "socket guard: 2 connect() to sockets no test created" in output, output
