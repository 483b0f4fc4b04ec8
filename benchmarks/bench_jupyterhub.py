"""JupyterHub, measured the way bench_web.py and bench_broker.py measure us (docs/performance.md,
"Compared with JupyterHub"): what its hub and proxy cost at rest, how long a login takes to the
first notebook page, and what its proxy adds to a Jupyter API call.

A real JupyterHub (its configurable-http-proxy, DummyAuthenticator, SimpleLocalProcessSpawner, one
user) is started in a temp folder on loopback. Its figures are printed as `figure, measured, -`
lines, next to the line of ours they compare with. Neither is a budget: the comparison is for
admins choosing between the two.

JupyterHub is not a dependency of this project. Install it beside, in a venv of its own:

    python3 -m venv /tmp/jh && /tmp/jh/bin/pip install jupyterhub jupyter_server
    (cd /tmp/jh && npm install configurable-http-proxy)
    .venv/bin/python benchmarks/bench_jupyterhub.py --hub /tmp/jh [--requests 2000] [--logins 10]

Without --hub (as `make bench` runs it) it says what to install and exits 0.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "benchmarks"))

from bench_broker import rss_mib, start_broker, write_config  # noqa: E402

from tests.integration.web_support import free_port  # noqa: E402

PASSWORD = "bench-password"
USER = "alice"
READY_TIMEOUT = 60.0

CONFIG = """
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.ConfigurableHTTPProxy.command = ["{chp}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.auth_token = "{proxy_token}"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{password}"
c.Authenticator.allowed_users = {{"{user}"}}
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = ["{singleuser}"]
c.Spawner.args = ["--allow-root"]
c.Spawner.home_dir_template = "{folder}/home/{{username}}"
c.JupyterHub.services = [{{"name": "bench", "api_token": "{service_token}"}}]
c.JupyterHub.load_roles = [{{"name": "bench", "scopes": ["admin:users", "admin:servers", "tokens"],
                            "services": ["bench"]}}]
"""


def figure(name: str, measured: str, ours: str) -> None:
    print(f"{name}, {measured}, ours: {ours}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def tree_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and every process below it (the hub starts the proxy), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            ppid = (
                int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if entry.name.isdigit()
                else None
            )
        except (OSError, IndexError, ValueError):
            ppid = None
        if ppid is not None:
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            total += rss_mib(current)
        except OSError:
            pass
    return total


def api(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + "/hub/api" + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else {}


def wait_ready(base: str, hub: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            raise SystemExit(f"bench_jupyterhub: jupyterhub exited {hub.returncode} (its log is above)")
        try:
            with urllib.request.urlopen(base + "/hub/api", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.02)
    raise SystemExit(f"bench_jupyterhub: the hub did not answer within {READY_TIMEOUT:.0f} s")


def browser_login(base: str, entry: str) -> float:
    """A fresh browser: `entry`, the login form, the password, every redirect (the hub's and the
    single-user server's OAuth) until the notebook's page arrives. Seconds."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    started = time.perf_counter()
    with opener.open(base + entry, timeout=60) as response:
        form = response.read().decode()
        login_url = response.geturl()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form)
    fields = {"username": USER, "password": PASSWORD, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
    with opener.open(login_url, data=urllib.parse.urlencode(fields).encode(), timeout=120) as response:
        page = response.read()
        final = response.geturl()
    deadline = time.monotonic() + READY_TIMEOUT
    while "/spawn-pending/" in final and time.monotonic() < deadline:  # what the page's script does
        time.sleep(0.05)
        with opener.open(f"{base}/user/{USER}/tree", timeout=60) as response:
            page = response.read()
            final = response.geturl()
    elapsed = time.perf_counter() - started
    if f"/user/{USER}/" not in final or not page:
        raise SystemExit(f"bench_jupyterhub: the login ended at {final}, not at the notebook")
    return elapsed


def timed_get(conn: http.client.HTTPConnection, path: str, token: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"token {token}"})
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"bench_jupyterhub: GET {path} answered {response.status}")
    return elapsed


def proxy_overhead(base_port: int, server: str, token: str, requests: int) -> tuple[float, float]:
    """The same API call on the single-user server's own port and through the proxy, alternating."""
    target = urllib.parse.urlsplit(server)
    path = f"/user/{USER}/api/status"
    direct = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
    proxied = http.client.HTTPConnection("127.0.0.1", base_port, timeout=30)
    direct_times, proxied_times = [], []
    for _ in range(50):  # both sides warm (the server checks a token with the hub once, then caches)
        timed_get(direct, path, token), timed_get(proxied, path, token)
    for _ in range(requests):
        direct_times.append(timed_get(direct, path, token))
        proxied_times.append(timed_get(proxied, path, token))
    p50 = statistics.median(proxied_times) - statistics.median(direct_times)
    p99 = percentile(proxied_times, 0.99) - percentile(direct_times, 0.99)
    return p50 * 1000, p99 * 1000


def our_broker() -> tuple[float, float]:
    """Our side, measured the same way in the same run: `ipynbsrv-tui serve` start → its first call
    answers (seconds), and its idle RSS 3 s later (MiB), on a temp config as bench_broker.py makes."""
    folder = Path(tempfile.mkdtemp(prefix="bench-jupyterhub-ours-"))
    folder.chmod(0o755)
    (folder / "run").mkdir(mode=0o755)
    (folder / "state").mkdir(mode=0o700)
    config = write_config(folder, 1)
    started = time.perf_counter()
    broker = start_broker(config, str(folder / "run" / "broker.sock"), folder / "broker.log")
    ready = time.perf_counter() - started
    try:
        time.sleep(3)
        return ready, rss_mib(broker.pid)
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(30)


def run(hub_prefix: Path, requests: int, logins: int) -> None:
    chp = hub_prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    for needed in (hub_prefix / "bin" / "jupyterhub", hub_prefix / "bin" / "jupyterhub-singleuser", chp):
        if not needed.exists():
            raise SystemExit(f"bench_jupyterhub: {needed} is missing (see this script's docstring)")
    folder = Path(tempfile.mkdtemp(prefix="bench-jupyterhub-"))
    port, api_port = free_port(), free_port()
    service_token, proxy_token = secrets.token_hex(16), secrets.token_hex(16)
    (folder / "jupyterhub_config.py").write_text(CONFIG.format(
        port=port, hub_port=free_port(), api_port=api_port, folder=folder, chp=chp,
        proxy_token=proxy_token, password=PASSWORD, user=USER,
        singleuser=hub_prefix / "bin" / "jupyterhub-singleuser", service_token=service_token))
    base = f"http://127.0.0.1:{port}"
    ours_ready, ours_rss = our_broker()  # first, with nothing of JupyterHub's running
    log = open(folder / "jupyterhub.log", "wb")
    env = {**os.environ, "PATH": f"{hub_prefix / 'bin'}:{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    hub = subprocess.Popen(
        [str(hub_prefix / "bin" / "jupyterhub"), "-f", str(folder / "jupyterhub_config.py")],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_ready(base, hub)
        hub_ready = time.perf_counter() - started
        time.sleep(3)
        hub_rss = tree_rss_mib(hub.pid)
        figure("JupyterHub: hub + proxy start → the hub's API answers", f"{hub_ready:.2f} s",
               f"`ipynbsrv-tui serve` start → its first call answers {ours_ready:.2f} s (this run)")
        figure("JupyterHub: hub + proxy idle RSS (no server running)", f"{hub_rss:.1f} MiB",
               f"broker idle RSS {ours_rss:.1f} MiB (this run; nginx, when web access is on, not counted)")
        first = browser_login(base, "/hub/spawn")
        figure(
            "JupyterHub: first login → notebook page (spawns a local single-user server, no container)",
            f"{first * 1000:.0f} ms",
            "no spawn at login: the notebook exists already (made by an admin or with `n`); "
            "a suspended one resumes and answers in 0.09–0.13 s (bench_return.py)",
        )
        times = [browser_login(base, f"/user/{USER}/tree") for _ in range(logins)]
        figure(f"JupyterHub: login → notebook page, server running (median of {logins})",
               f"{statistics.median(times) * 1000:.0f} ms",
               "153–369 ms, medians of 10, with an scrypt password check (bench_web.py)")
        token = api(base, service_token, "POST", f"/users/{USER}/tokens", {"note": "bench"})["token"]
        p50, p99 = proxy_overhead(port, single_user_target(api_port, proxy_token), token, requests)
        figure(
            f"JupyterHub: proxy minus direct, the same API call, p50 / p99 ({requests} alternating, plain "
            "HTTP)",
            f"{p50:.2f} / {p99:.2f} ms",
            "nginx with TLS and an auth_request to the broker on every request: p50 −0.6 to 1.2 ms "
            "(bench_web.py)",
        )
    finally:
        os.killpg(hub.pid, signal.SIGTERM)
        try:
            hub.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, signal.SIGKILL)
        log.close()


def single_user_target(api_port: int, proxy_token: str) -> str:
    """Where the proxy sends the user's requests: the single-user server's own address."""
    request = urllib.request.Request(f"http://127.0.0.1:{api_port}/api/routes",
                                     headers={"Authorization": f"token {proxy_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        routes = json.load(response)
    return routes[f"/user/{USER}"]["target"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", type=Path, help="a venv with jupyterhub and jupyter_server, and "
                        "node_modules/.bin/configurable-http-proxy in it")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=10)
    args = parser.parse_args()
    if args.hub is None:
        print("bench_jupyterhub: skipped, JupyterHub is not part of this project; "
              "to compare, see `benchmarks/bench_jupyterhub.py --help` and its docstring")
        return 0
    run(args.hub.resolve(), args.requests, args.logins)
    return 0


if __name__ == "__main__":
    sys.exit(main())
