"""Helpers for the web-access tests: a TLS client for nginx, a loopback upstream, a running gateway."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from ipynbsrv_tui.web.gateway import find_nginx
from tests.fixtures.services import unavailable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on 127.0.0.1:{port}")


def require_nginx() -> str:
    binary = find_nginx()
    if binary is None:
        unavailable("web", "nginx is not installed (apt-get install nginx)")
    return binary


def runtime_root() -> Path:
    """A folder nginx's workers (www-data when the tests run as root) can traverse, unlike pytest's tmp."""
    folder = Path(tempfile.mkdtemp(prefix="ipynbsrv-web-"))
    os.chmod(folder, 0o755)
    return folder


class Response:
    """What one request got back."""

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


@dataclass
class WebClient:
    """A browser-like client of nginx over TLS (self-signed: unverified) with its own cookie jar."""

    port: int
    source: str = "127.0.0.1"
    jar: dict[str, str] = field(default_factory=dict)

    def connection(self) -> http.client.HTTPSConnection:
        context = ssl._create_unverified_context()
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=30,
                                           source_address=(self.source, 0))

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> Response:
        conn = self.connection()
        try:
            all_headers = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
            if self.jar:
                all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
            conn.request(method, path, body=body, headers=all_headers)
            answer = conn.getresponse()
            response = Response(answer.status, answer.headers, answer.read())
        finally:
            conn.close()
        for cookie in response.cookies():
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in cookie or not value:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return response

    def login(self, username: str, password: str, next_url: str = "/") -> Response:
        form = self.request("GET", f"/_ipynbsrv/login?next={next_url}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        body = urlencode(
            {"username": username, "password": password, "csrf": csrf, "next": next_url}
        ).encode()
        return self.request("POST", "/_ipynbsrv/login", body, {
            "Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://127.0.0.1:{self.port}"})


class Upstream:
    """A notebook stand-in on a loopback port: records what nginx sent, streams, counts uploads, echoes
    websockets."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.uploaded = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _record(self) -> None:
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})

            def do_GET(self) -> None:
                self._record()
                if self.path.endswith("/stream"):
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in (b"first\n", b"second\n"):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.flush()
                        time.sleep(1.5)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    self.send_response(101)
                    self.send_header("Upgrade", "websocket")
                    self.send_header("Connection", "Upgrade")
                    self.end_headers()
                    data = self.rfile.read(4)  # echo four bytes back over the upgraded connection
                    self.wfile.write(data[::-1])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                body = f"hello from {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._record()
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = f"posted to {self.path}".encode()
                self.send_response(201)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                self._record()
                remaining = int(self.headers.get("Content-Length", 0))
                while remaining:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    outer.uploaded += len(chunk)
                    remaining -= len(chunk)
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
