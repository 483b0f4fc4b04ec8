"""The pieces of the idle policy that need no engine: asking a Jupyter-like HTTP server for its
activity (a real local server), the culling timer, and the [notebooks] idle keys."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ipynbsrv_tui.broker.background import culling_interval
from ipynbsrv_tui.config import parse_config
from ipynbsrv_tui.domain import ConfigError
from ipynbsrv_tui.service import jupyter

TOKEN = "t0ken"


class FakeJupyter(BaseHTTPRequestHandler):
    """Answers /nb/api/status and /nb/api/kernels like Jupyter Server, with the token header only."""

    kernels: list = []
    status_code = 200
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        FakeJupyter.seen.append(self.path)
        if self.headers.get("Authorization") != f"token {TOKEN}":
            self._answer(403, {"message": "Forbidden"})
        elif self.path.startswith("/nb/api/status"):
            self._answer(self.status_code, {"last_activity": "2026-11-29T01:00:00.000000Z", "kernels": 1})
        elif self.path.startswith("/nb/api/kernels"):
            self._answer(200, self.kernels)
        else:
            self._answer(404, {})

    def _answer(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeJupyter)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    FakeJupyter.kernels, FakeJupyter.status_code, FakeJupyter.seen = [], 200, []
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_the_last_activity_is_the_latest_of_status_and_kernels(server):
    FakeJupyter.kernels = [{"execution_state": "idle", "last_activity": "2026-11-29T02:00:00Z"}]
    answer = jupyter.ask("127.0.0.1", server, "/nb/", TOKEN)
    assert answer == jupyter.JupyterActivity(datetime(2026, 11, 29, 2, 0, tzinfo=UTC), busy=False)
    assert all("no_track_activity=1" in path for path in FakeJupyter.seen), "asking must never count as use"


def test_a_busy_kernel_is_reported(server):
    FakeJupyter.kernels = [{"execution_state": "idle"}, {"execution_state": "busy", "last_activity": "bad"}]
    answer = jupyter.ask("127.0.0.1", server, "/nb/", TOKEN)
    assert (
        answer is not None and answer.busy and answer.last_activity == datetime(2026, 11, 29, 1, tzinfo=UTC)
    )


def test_no_answer_means_none(server):
    assert jupyter.ask("127.0.0.1", server, "/nb/", "wrong") is None  # refused
    assert jupyter.ask("127.0.0.1", server, "/other/", TOKEN) is None  # not its base URL
    FakeJupyter.status_code = 503
    assert jupyter.ask("127.0.0.1", server, "/nb/", TOKEN) is None  # not serving yet
    with socket_closed() as port:
        assert jupyter.ask("127.0.0.1", port, "/nb/", TOKEN, timeout=0.5) is None


def test_readiness_asks_only_api_status(server):
    assert jupyter.ask("127.0.0.1", server, "/nb/", TOKEN, kernels=False) is not None
    assert [p.split("?")[0] for p in FakeJupyter.seen] == ["/nb/api/status"]


class socket_closed:
    """A loopback port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return self.port

    def __exit__(self, *exc_info) -> None:
        return None


@pytest.mark.parametrize(("idle", "suspended", "seconds"), [
    (0, 0, 0.0), (3, 0, 1.0), (600, 0, 60.0), (90, 0, 30.0), (0, 300, 60.0), (600, 30, 10.0),
])
def test_culling_runs_at_a_third_of_the_shorter_threshold(idle, suspended, seconds):
    assert culling_interval(idle, suspended) == seconds


def test_idle_keys_are_checked():
    config = parse_config(
        '[notebooks]\nidle_timeout = 3600\nidle_action = "suspend"\nsuspended_stop_after = 86400\n'
    )
    assert (config.notebooks.idle_action, config.notebooks.suspended_stop_after) == ("suspend", 86400)
    with pytest.raises(
        ConfigError, match=r"<config>:2: notebooks.idle_action = 'pause': expected one of 'stop', 'suspend'"
    ):
        parse_config('[notebooks]\nidle_action = "pause"\n')
    with pytest.raises(ConfigError, match=r"notebooks.suspended_stop_after = -1: expected seconds from 0"):
        parse_config("[notebooks]\nsuspended_stop_after = -1\n")
