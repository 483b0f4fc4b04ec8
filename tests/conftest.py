"""Shared fixtures: a real Docker Engine (DOCKER_HOST) and a real slapd, per DESIGN §11.

Before any test runs, the session is fenced off from a live installation on the same host
(DESIGN §11): a config that names no broker socket gets one in the session's temp folder
($IPYNBSRV_BROKER_SOCKET), an empty database path lands there too ($IPYNBSRV_DATA_DIR),
$IPYNBSRV_CONFIG is ignored, and tests/socket_guard.py refuses, records and fails any connect()
to a Unix socket outside the temp folders and the test Docker Engine's socket, in this process
and in every Python process a test starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests import socket_guard

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.docker_engine",
    "tests.fixtures.slapd",
    "tests.fixtures.notebook_service",
    "tests.fixtures.recorded_service",
    "tests.fixtures.notebook_images",
    "tests.fixtures.swarm_cluster",
    "tests.tui.fixtures_admin",
]

GUARD_SITE = Path(__file__).parent / "socket_guard_site"
_state: dict[str, object] = {}


def _docker_socket() -> str:
    url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return url.removeprefix("unix://") if url.startswith("unix://") else ""


def pytest_configure(config: pytest.Config) -> None:
    fence = Path(tempfile.mkdtemp(prefix="ipynbsrv-test-session-"))
    fence.chmod(0o755)
    record = fence / "refused-sockets"
    roots = [tempfile.gettempdir(), str(config.option.basetemp or ""), _docker_socket()]
    os.environ.pop("IPYNBSRV_CONFIG", None)
    os.environ["IPYNBSRV_BROKER_SOCKET"] = str(fence / "run" / "ipynbsrv.sock")
    os.environ["IPYNBSRV_DATA_DIR"] = str(fence / "data")
    os.environ[socket_guard.ALLOWED_VARIABLE] = os.pathsep.join(root for root in roots if root)
    os.environ[socket_guard.RECORD_VARIABLE] = str(record)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_SITE), os.environ.get("PYTHONPATH")]))
    socket_guard.install()
    _state.update(fence=fence, record=str(record), seen=0)


def pytest_unconfigure(config: pytest.Config) -> None:
    fence = _state.get("fence")
    if isinstance(fence, Path):
        shutil.rmtree(fence, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The swarm tests last, in their own order: the two-node cluster (two more dockerds, a
    registry) starts for them and is not running beside every other test that follows."""
    items.sort(key=lambda item: item.get_closest_marker("swarm") is not None)


@pytest.fixture(autouse=True)
def _no_foreign_socket():
    """Fail the test (in its teardown) when it, or a process it started, reached a foreign socket."""
    yield
    record = str(_state["record"])
    lines, _state["seen"] = socket_guard.recorded(record, int(_state["seen"]))  # type: ignore[call-overload]
    if lines:
        reached = "; ".join(line.split("\t")[-1] for line in lines)
        pytest.fail(
            f"this test reached a Unix socket it did not create: {reached} (see tests/socket_guard.py)",
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    record = _state.get("record")
    if not isinstance(record, str):
        return
    lines, _ = socket_guard.recorded(record)
    if lines:
        print(f"\nsocket guard: {len(lines)} connect() to sockets no test created:")
        for line in lines:
            print("  " + line.replace("\t", "  "))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Last of all, one short line per failure: CI shows only the end of the output, and with CI
    set pytest's own summary repeats each message whole (a broker log can fill the screen)."""
    result = yield
    failed = [report for kind in ("failed", "error") for report in terminalreporter.stats.get(kind, [])]
    if failed:
        terminalreporter.write_sep("=", f"{len(failed)} failing, one line each")
        for report in failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            reason = (crash.message if crash else str(report.longrepr)).strip().splitlines() or [""]
            where = f"{report.nodeid} ({report.when})" if report.when != "call" else report.nodeid
            terminalreporter.write_line(f"{where}: {' | '.join(reason[:2])[:200]}")
    return result
