"""Web access (DESIGN §16, §12): what the proxy with its login check costs per request, and how
long a user waits from login to the first notebook page.

The real broker (`ipynbsrv-tui serve`, its own process, as in production) runs the real nginx (TLS,
auth_request to the broker on every request) in front of a real notebook (`ipynbsrv/ipython3-notebook:latest`,
or --image) on the engine. The same Jupyter API call (`GET …/api/status`) is made --requests times directly on
the notebook's loopback port (with its token, as `ssh -L` users do) and through nginx (with the session
cookie), alternating, each on one kept-alive connection; the overhead is proxy minus direct at p50 and p99.
Budget: p50 overhead ≤ 2 ms. Then, --logins times, a fresh browser-like client asks for the notebook, is sent
to the login page, posts the password and follows the redirect until Jupyter's page arrives. Prints `figure,
measured, budget` lines; exits 1 over budget.

    .venv/bin/python benchmarks/bench_web.py [--image REF] [--requests 2000] [--logins 10]
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.broker_support import free_port_range  # noqa: E402
from tests.integration.web_support import free_port, runtime_root  # noqa: E402

DEFAULT_IMAGE = "ipynbsrv/ipython3-notebook:latest"
BUDGET_P50_MS = 2.0
READY_TIMEOUT = 120.0


def figure(name: str, measured: str, budget: str = "-") -> None:
    print(f"{name}, {measured}, {budget}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"bench_web: GET {path} answered {response.status}")
    return elapsed


def tls_connection(port: int, source: str = "127.0.0.1") -> http.client.HTTPSConnection:
    """A TLS connection to nginx; each measured login comes from its own loopback address, as nginx
    limits login posts per address."""
    return http.client.HTTPSConnection(
        "127.0.0.1", port, context=ssl._create_unverified_context(), timeout=30, source_address=(source, 0)
    )


def post_login(conn: http.client.HTTPSConnection, port: int, form_path: str, password: str,
               next_path: str) -> http.client.HTTPResponse:
    """Fetch the login form (its CSRF cookie and token) and post alice's password; the 303 answer."""
    host = {"Host": f"127.0.0.1:{port}"}
    conn.request("GET", form_path, headers=host)
    answer = conn.getresponse()
    form = answer.read().decode()
    csrf_cookie = answer.headers["Set-Cookie"].split(";")[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    body = urlencode({"username": "alice", "password": password, "csrf": csrf, "next": next_path})
    conn.request("POST", "/_ipynbsrv/login", body=body, headers={
        **host, "Cookie": csrf_cookie, "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"https://127.0.0.1:{port}"})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 303, answer.status
    return answer


def login_to_first_page(port: int, path: str, password: str, source: str) -> float:
    """A fresh client: notebook → 302 login → form → POST → 303 → Jupyter's page, on one TLS connection."""
    started = time.perf_counter()
    conn = tls_connection(port, source)
    host = {"Host": f"127.0.0.1:{port}"}
    conn.request("GET", path, headers=host)
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 302, answer.status
    answer = post_login(conn, port, answer.headers["Location"], password, path)
    session = answer.headers["Set-Cookie"].split(";")[0]
    conn.request("GET", answer.headers["Location"], headers={**host, "Cookie": session})
    answer = conn.getresponse()
    page = answer.read()
    assert answer.status == 200 and b"jupyter-config-data" in page, answer.status
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=10)
    args = parser.parse_args()

    from ipynbsrv_tui.web.gateway import find_nginx

    if find_nginx() is None:
        print("bench_web: skipped: nginx is not installed (apt-get install nginx)")
        return 0
    try:
        import docker

        docker.from_env(timeout=120).images.get(args.image)
    except Exception as exc:
        print(
            f"bench_web: skipped: no engine or no image {args.image} ({type(exc).__name__}). Build it first."
        )
        return 0

    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.domain import Actor
    from ipynbsrv_tui.service import build_service

    folder = runtime_root()
    port = free_port()
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")}, data={"root": str(folder / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 3},
        broker={"socket": str(folder / "run" / "ipynbsrv.sock"), "reconcile_interval": 0},
        web={"enabled": True, "listen": f"127.0.0.1:{port}"},
    )
    config_file = folder / "config.toml"
    config_file.write_text(
        f'[database]\npath = "{config.database.path}"\n[data]\nroot = "{config.data.root}"\n'
        f"[notebooks]\nport_range = {list(config.notebooks.port_range)}\nstop_timeout = 3\n"
        f'[broker]\nsocket = "{config.broker.socket}"\nreconcile_interval = 0\n'
        f'[web]\nenabled = true\nlisten = "127.0.0.1:{port}"\n'
    )
    root = Actor("root", 0, True, ())
    service = build_service(config)
    service.create_user(root, "alice", "bench-password")
    service.register_image(root, "ipython3", args.image, is_public=True)
    view = None
    broker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ipynbsrv_tui.cli",
            "--config",
            str(config_file),
            "serve",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        view = service.create_container(service.actor_for_username("alice"), "bench", "ipython3")
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or broker.poll() is not None:
                    raise SystemExit("bench_web: the broker's nginx never listened") from None
                time.sleep(0.1)
        path = "/user/alice/bench/api/status"
        session_cookie = _session_cookie(port)
        proxy_headers = {"Host": f"127.0.0.1:{port}", "Cookie": session_cookie}
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                timed_get(tls_connection(port), path, proxy_headers)
                break
            except (SystemExit, OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise SystemExit("bench_web: the notebook never answered through nginx") from None
                time.sleep(0.5)

        direct = http.client.HTTPConnection("127.0.0.1", view.host_port, timeout=30)
        direct_headers = {"Authorization": f"token {view.token}"}
        proxy = tls_connection(port)
        for _ in range(50):  # warm both paths up
            timed_get(direct, path, direct_headers)
            timed_get(proxy, path, proxy_headers)
        direct_times, proxy_times = [], []
        for _ in range(args.requests):
            direct_times.append(timed_get(direct, path, direct_headers))
            proxy_times.append(timed_get(proxy, path, proxy_headers))
        direct.close()
        proxy.close()
        d50, d99 = percentile(direct_times, 0.5) * 1000, percentile(direct_times, 0.99) * 1000
        p50, p99 = percentile(proxy_times, 0.5) * 1000, percentile(proxy_times, 0.99) * 1000
        figure(
            f"notebook API call, direct loopback p50 / p99 ({args.requests} requests)",
            f"{d50:.2f} / {d99:.2f} ms",
        )
        figure("same call through nginx + auth_request, p50 / p99", f"{p50:.2f} / {p99:.2f} ms")
        overhead = p50 - d50
        figure("proxy overhead p50", f"{overhead:.2f} ms", f"<= {BUDGET_P50_MS:.0f} ms")
        figure("proxy overhead p99", f"{p99 - d99:.2f} ms")

        auth = auth_check_times(folder / "run" / "web" / "auth.sock", session_cookie, path, args.requests)
        figure("the broker's auth check alone (auth_request endpoint on its Unix socket), p50 / p99",
               f"{percentile(auth, 0.5) * 1000:.2f} / {percentile(auth, 0.99) * 1000:.2f} ms")

        logins = [login_to_first_page(port, "/user/alice/bench/tree", "bench-password", f"127.0.1.{i + 1}")
                  for i in range(args.logins)]
        figure(f"login -> first notebook page (median of {args.logins}, incl. scrypt check)",
               f"{statistics.median(logins) * 1000:.0f} ms")
        if overhead > BUDGET_P50_MS:
            print("bench_web: OVER BUDGET", file=sys.stderr)
            return 1
        return 0
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=30)
        if view is not None:
            try:
                service.delete_container(root, view.id)
            except Exception as exc:  # the figures are printed; say what was left behind
                print(f"bench_web: could not delete the notebook {view.name}: {exc}", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)


def auth_check_times(socket_path: Path, cookie: str, path: str, count: int) -> list[float]:
    """Seconds per auth_request answer, asked the way nginx asks (one kept-alive connection)."""
    request = (
        f"GET /_ipynbsrv/auth HTTP/1.1\r\nHost: broker\r\nX-Original-URI: {path}\r\nX-Ipynbsrv-Path: "
        f"{path}\r\nCookie: {cookie}\r\n\r\n"
    ).encode()
    times = []
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(socket_path))
        answers = sock.makefile("rb")
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(request)
            status = answers.readline()
            while answers.readline() not in (b"\r\n", b""):
                pass
            times.append(time.perf_counter() - started)
            if b" 200 " not in status:
                raise SystemExit(f"bench_web: the auth check answered {status!r}")
    return times


def _session_cookie(port: int) -> str:
    """Log alice in once and return `ipynbsrv_session=…`."""
    conn = tls_connection(port)
    answer = post_login(conn, port, "/_ipynbsrv/login", "bench-password", "/")
    conn.close()
    return answer.headers["Set-Cookie"].split(";")[0]


if __name__ == "__main__":
    sys.exit(main())
