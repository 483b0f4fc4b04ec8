"""Helpers for the broker tests: a broker subprocess, OS test accounts, clients running as other uids.

The project's venv lives under /root, which other uids cannot read, so a client running as a
test account uses the system Python (/usr/bin/python3) and a world-readable copy of only the
client side of the package (domain, broker.protocol, broker.client): that also proves that
ordinary users need nothing else.
"""

from __future__ import annotations

import ast
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ipynbsrv_tui.broker.client import RemoteSession
from ipynbsrv_tui.broker.protocol import decode

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "ipynbsrv_tui"
SYSTEM_PYTHON = "/usr/bin/python3"
FAKE_NOTEBOOK = Path(__file__).with_name("fake_notebook")
CLIENT_ENTRY = "broker/client.py"

CLIENT_SCRIPT = r"""
import json, os, sys
uid, gid, socket_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
expect = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None  # protocol.installation() of a config
os.setgroups([])
os.setgid(gid)
os.setuid(uid)
from ipynbsrv_tui.broker.client import RemoteSession
from ipynbsrv_tui.broker.protocol import encode, error_payload
from ipynbsrv_tui.domain import IpynbsrvError

ops = json.load(sys.stdin)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"docker", "peewee", "ldap3", "requests"})
try:
    session = RemoteSession(socket_path, expect=expect)
except IpynbsrvError as exc:
    print("RESULT " + json.dumps({"uid": os.getuid(), "connect_error": error_payload(exc), "heavy": heavy}))
    sys.exit(0)
results = []
held = []
for name, args, kwargs in ops:
    try:
        if name == "hold_connections":  # open sessions of one pooled connection each, and keep them
            for _ in range(args[0]):
                held.append(RemoteSession(socket_path, pool_size=1, busy_wait=0))
            results.append({"ok": len(held)})
            continue
        if name == "watch_for":  # the live changes seen in args[0] seconds
            import threading
            watch = session.watch_containers()
            seen = []
            reader = threading.Thread(target=lambda: seen.extend(watch), daemon=True)
            reader.start()
            print("watching", flush=True)
            reader.join(args[0])
            watch.close()
            reader.join(5)
            results.append({"ok": encode(seen)})
            continue
        # hold here until the test creates args[0] (e.g. after swapping the socket)
        if name == "wait_for_file":
            import time
            print("waiting", flush=True)
            deadline = time.monotonic() + 60
            while not os.path.exists(args[0]) and time.monotonic() < deadline:
                time.sleep(0.05)
            results.append({"ok": os.path.exists(args[0])})
            continue
        value = getattr(session, name)(*args, **kwargs)
        if name in ("follow_logs", "watch_containers"):
            stream = value
            value = next(iter(stream)) if name == "follow_logs" else "stream started"
            stream.close()
        results.append({"ok": encode(value)})
    except IpynbsrvError as exc:
        results.append({"error": error_payload(exc)})
session.close()
result = {"uid": os.getuid(), "actor": encode(session.actor), "results": results, "heavy": heavy}
print("RESULT " + json.dumps(result))
"""


def free_uid_range(size: int = 50) -> tuple[int, int]:
    """A uid range no OS account uses (for the directory's uid_range and the test accounts)."""
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    for _ in range(200):
        first = random.randrange(61000, 64000)
        if not taken & set(range(first, first + size)):
            return first, first + size - 1
    raise RuntimeError("no free uid range for test accounts")


def free_port_range(size: int = 40) -> tuple[int, int]:
    """A range of loopback ports that are free right now (the service still probes each one)."""
    for _ in range(200):
        first = random.randrange(46000, 48900)
        if all(_port_free(port) for port in range(first, first + size)):
            return first, first + size - 1
    raise RuntimeError("no free port range")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def notebook_status(url: str, token: str, timeout: float = 60) -> int:
    """The HTTP status of a notebook's api/status under `url` (its query dropped) with `token`,
    once it answers."""
    base = url.split("?", 1)[0]
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=2) as answer:
                return answer.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def world_readable_dir(prefix: str) -> Path:
    """A fresh folder under /tmp that every uid may traverse (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def client_files(entry: str = CLIENT_ENTRY) -> list[str]:
    """The package's files the client imports, following its relative imports from `entry`
    (the package's __init__ files included), so a module moved out of the client breaks no copy."""
    seen: set[str] = set()
    pending = [entry]
    while pending:
        relative = pending.pop()
        if relative in seen:
            continue
        seen.add(relative)
        parts = Path(relative).parent.parts
        for index in range(len(parts) + 1):
            pending.append(str(Path(*parts[:index], "__init__.py")))
        tree = ast.parse((PACKAGE / relative).read_text())
        typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and ast.unparse(node.test).endswith("TYPE_CHECKING") for inner in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level and id(node) not in typing_only:
                base = parts[: len(parts) - node.level + 1]
                names = [node.module] if node.module else [alias.name for alias in node.names]
                for name in names:
                    module = Path(*base, *name.split("."))
                    for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                        if (PACKAGE / candidate).is_file():
                            pending.append(str(candidate))
    return sorted(seen)


def copy_client_package(target: Path) -> Path:
    """Copy only the client side of ipynbsrv_tui under `target` (world-readable); returns its PYTHONPATH."""
    root = target / "client-lib"
    for relative in client_files():
        destination = root / "ipynbsrv_tui" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / relative, destination)
    (root / "run_client.py").write_text(CLIENT_SCRIPT)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@dataclass
class Account:
    """A directory user that is also an OS account with the same uid (removed at the end)."""

    name: str
    uid: int
    gid: int


def add_os_account(name: str, uid: int) -> Account:
    subprocess.run(
        [
            "useradd",
            "--no-create-home",
            "--no-user-group",
            "--shell",
            "/usr/sbin/nologin",
            "--uid",
            str(uid),
            name,
        ],
        check=True,
        capture_output=True,
    )
    return Account(name, uid, pwd.getpwnam(name).pw_gid)


def remove_os_account(name: str) -> None:
    subprocess.run(["userdel", name], check=False, capture_output=True)


@dataclass
class ClientRun:
    """What a client subprocess saw: its uid, the actor the broker named, one result per operation."""

    uid: int
    actor: object
    results: list
    heavy_modules: list
    connect_error: dict | None = None

    def ok(self, index: int):
        outcome = self.results[index]
        assert "ok" in outcome, f"operation {index} failed: {outcome}"
        return decode(outcome["ok"])

    def error(self, index: int) -> dict:
        outcome = self.results[index]
        assert "error" in outcome, f"operation {index} succeeded: {outcome}"
        return outcome["error"]


def start_client(lib: Path, account_uid: int, account_gid: int, socket_path: str, ops: list,
                 expect: dict | None = None) -> subprocess.Popen:
    """Start `ops` ([name, args, kwargs] each) through the broker as uid:gid, in a system-Python subprocess;
    given `expect` (the installation a config names), the client checks the broker serves it."""
    process = subprocess.Popen(
        [SYSTEM_PYTHON, str(lib / "run_client.py"), str(account_uid), str(account_gid), socket_path,
         *([json.dumps(expect)] if expect is not None else [])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
        env={"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    process.stdin.write(json.dumps(ops))
    process.stdin.close()
    process.stdin = None  # so that communicate() does not flush it again
    return process


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 30.0) -> None:
    """Read the client's output until a line with `text` (e.g. "watching")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if text in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"the client never printed {text!r}:\n{process.stderr.read()}")


def finish_client(process: subprocess.Popen, account_uid: int) -> ClientRun:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, f"client as uid {account_uid} failed:\n{stderr}"
    line = next(line for line in stdout.splitlines() if line.startswith("RESULT "))
    data = json.loads(line[len("RESULT "):])
    return ClientRun(
        uid=data["uid"], actor=decode(data.get("actor")), results=data.get("results", []),
        heavy_modules=data["heavy"], connect_error=data.get("connect_error"),
    )


def run_client(lib: Path, account_uid: int, account_gid: int, socket_path: str, ops: list,
               expect: dict | None = None) -> ClientRun:
    """Run `ops` through the broker as uid:gid and return what the client saw."""
    return finish_client(start_client(lib, account_uid, account_gid, socket_path, ops, expect), account_uid)


def write_config(folder: Path, *, port_range: tuple[int, int], uid_range: tuple[int, int],
                 idle_timeout: int = 0, idle_action: str = "stop", reconcile_interval: int = 3600,
                 max_message_bytes: int = 65536) -> Path:
    """A config.toml for a test broker: local directory, real engine, everything under `folder`."""
    state = folder / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    (folder / "run").mkdir(mode=0o755, exist_ok=True)
    (folder / "run").chmod(0o755)
    text = f"""
[database]
path = "{state / 'ipynbsrv.db'}"
[directory]
backend = "local"
uid_range = [{uid_range[0]}, {uid_range[1]}]
users_group = "ipynbsrv-test-users"
[data]
root = "{folder / 'data'}"
[notebooks]
port_range = [{port_range[0]}, {port_range[1]}]
idle_timeout = {idle_timeout}
idle_action = "{idle_action}"
stop_timeout = 5
[broker]
socket = "{folder / 'run' / 'broker.sock'}"
reconcile_interval = {reconcile_interval}
max_message_bytes = {max_message_bytes}
"""
    path = folder / "config.toml"
    path.write_text(text)
    return path


class BrokerProcess:
    """`ipynbsrv-tui serve` as a root subprocess on a test config; `stop()` sends SIGTERM."""

    def __init__(self, config_path: Path, socket_path: str, log_path: Path) -> None:
        self.config_path = config_path
        self.socket_path = socket_path
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> BrokerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ipynbsrv_tui.cli",
                "--config",
                str(self.config_path),
                "serve",
                "--log-level",
                "debug",
            ],
            stdout=log,
            stderr=log,
            cwd=REPO,
            env=dict(os.environ),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the broker exited with {self.process.returncode}:\n{self.log()}")
            if _answers(self.socket_path):
                return self
            time.sleep(0.05)
        raise AssertionError(f"the broker did not answer within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the broker ignored SIGTERM for {timeout} s:\n{self.log()}") from None
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
            probe.sendall(b'{"v":1,"id":1,"call":"ping"}\n')
            return b"pong" in probe.recv(4096)
        except OSError:
            return False


ENGINE_FORWARDER = r'''
import socket, sys, threading
listen, target = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX)
server.bind(listen)
server.listen(64)
print("ready", flush=True)
def pump(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
while True:
    client, _ = server.accept()
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(target)
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
'''


def start_engine_forwarder(listen: Path) -> subprocess.Popen:
    """A process relaying `listen` to the engine at DOCKER_HOST: killing it loses "the engine"
    for whoever was configured with `listen`, while the shared engine itself keeps running."""
    target = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    process = subprocess.Popen([sys.executable, "-c", ENGINE_FORWARDER, str(listen), target],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def status_line(app) -> str:
    """The text of a running app's header (StatusBar), e.g. "… │ engine ✓ local ✓ │ root (admin)"."""
    from ipynbsrv_tui.tui.widgets.statusbar import StatusBar

    return str(app.screen.query_one(StatusBar).render())


async def seconds_until(pilot, condition, timeout: float) -> float:
    """Seconds until `condition()` holds while the app runs; AssertionError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await pilot.pause(0.01)
    return time.monotonic() - started



CONNECTOR = r"""
import socket, sys
control = socket.socket(fileno=int(sys.argv[2]))
while control.recv(1):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    socket.send_fds(control, [b"c"], [sock.fileno()])
    sock.close()
"""


class ConnectAs:
    """Connections to the broker made by a process running as `uid`, handed to this (root) process.

    The broker knows a peer by the credentials of the process that connected (SO_PEERCRED at
    connect time), so a RemoteSession in the test process whose connections come from here is a
    real client session of that user: e.g. a console of theirs run in the test with Pilot.
    """

    def __init__(self, uid: int, gid: int, socket_path: str) -> None:
        self._control, child = socket.socketpair()
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", CONNECTOR, socket_path, str(child.fileno())], pass_fds=(child.fileno(),),
            user=uid, group=gid, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"},
        )
        child.close()

    def connect(self) -> socket.socket:
        self._control.sendall(b"c")
        _, fds, _, _ = socket.recv_fds(self._control, 1, 1)
        return socket.socket(fileno=fds[0])

    def session(self, socket_path: str):
        """A RemoteSession whose every connection is made as the account."""
        import itertools

        from ipynbsrv_tui.broker import client
        from ipynbsrv_tui.broker.protocol import SocketChannel

        def connect(answer_within: float | None = None):
            conn = object.__new__(client._Connection)
            sock = self.connect()
            sock.settimeout(answer_within)
            SocketChannel.__init__(conn, sock)
            conn.limit, conn.ids, conn.reused = client.DEFAULT_MAX_MESSAGE_BYTES, itertools.count(1), False
            return conn

        session = object.__new__(client.RemoteSession)
        session._connect = connect  # before __init__: its whoami goes through the account's connection
        session.__init__(socket_path)
        return session

    def close(self) -> None:
        self._control.close()
        self.process.wait(timeout=10)


def create_accounts(site: dict, root: RemoteSession) -> dict[str, Account]:
    """Create `site["names"]` (role → name) in the directory through the broker, as root, then as OS
    accounts with the same uids (removed at the site's end); role → account."""
    accounts = {}
    for role, name in site["names"].items():
        view = root.create_user(name, "correct horse battery", display_name=role.title())
        account = add_os_account(name, view.uid)
        site["accounts"].append(account)
        accounts[role] = account
    return accounts


def as_user(site: dict, broker: BrokerProcess, account: Account, *ops) -> ClientRun:
    """Run `ops` ((call, args, kwargs) each) in a client process under `account`'s uid."""
    return run_client(site["lib"], account.uid, account.gid, broker.socket_path, [list(op) for op in ops])
