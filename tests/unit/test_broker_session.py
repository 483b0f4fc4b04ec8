"""The broker server and RemoteSession together, over a real Unix socket, with a fake service.

The fake stands in for the service layer only (no Docker, no database); the identity still comes
from SO_PEERCRED, here the test process's own uid.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time

import pytest

from ipynbsrv_tui.broker import server as broker_server
from ipynbsrv_tui.broker.client import RemoteSession, connect_session
from ipynbsrv_tui.broker.protocol import BrokerBusy, BrokerUnavailable, ProtocolError, WrongInstallation
from ipynbsrv_tui.broker.server import BrokerServer
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import (
    Actor,
    BuildEvent,
    BuildEventKind,
    BuildStatus,
    BuildSummary,
    NotAuthorized,
    NotFound,
    ValidationError,
)


class FakeStream:
    """A closeable, cancellable iterator like the service's streams."""

    def __init__(self, items, block: bool = False, build_id: int | None = None) -> None:
        self.items = list(items)
        self.block = block
        self.ended = threading.Event()
        self.summary = None
        if build_id is not None:
            self.build_id = build_id

    def __iter__(self):
        yield from self.items
        if self.block:
            self.ended.wait(30)
        self.summary = BuildSummary(BuildStatus.CANCELLED if self.block else BuildStatus.SUCCEEDED,
                                    None, None, None, 0, 0, len(self.items), 0.0)

    def cancel(self) -> None:
        self.ended.set()

    close = cancel


class QueueStream:
    """A closeable iterator whose items the test puts in one by one."""

    def __init__(self) -> None:
        self.items: queue.Queue = queue.Queue()
        self.ended = threading.Event()

    def __iter__(self):
        while not self.ended.is_set():
            try:
                yield self.items.get(timeout=0.05)
            except queue.Empty:
                continue

    def close(self) -> None:
        self.ended.set()


class FakeService:
    """Answers a few session methods; `known_uids` decides who the broker lets in."""

    def __init__(self, known_uids) -> None:
        self.known_uids = known_uids
        self.admin = False
        self.streams: list = []

    def rights_epoch(self) -> int:
        return 0  # no count of rights changes: the broker's cached actors live ACTOR_TTL seconds

    def actor_for_uid(self, uid: int) -> Actor:
        if uid not in self.known_uids:
            raise NotFound(f"uid {uid} is not a known user.")
        return Actor("tester", uid, self.admin, ("users",))

    def watch_containers(self, actor: Actor, since: float | None = None) -> QueueStream:
        stream = QueueStream()
        self.streams.append(stream)
        return stream

    def list_users(self, actor: Actor, query: str = "") -> list[str]:
        return [f"{actor.username}:{query}"]

    def list_containers(self, actor: Actor, owner: str | None = None) -> list[str]:
        return [f"container-{i:05d}-" + "x" * 40 for i in range(3000)]

    def get_container(self, actor: Actor, container_id: int) -> str:
        if container_id != 1:
            raise NotAuthorized("That container belongs to another user.")
        return "mine"

    def health(self, actor: Actor) -> dict:
        raise RuntimeError("a bug in the service")

    def follow_logs(
        self, actor: Actor, container_id: int, tail: int = 200, timestamps: bool = False
    ) -> FakeStream:
        stream = FakeStream([f"line {i}" for i in range(tail)], block=True)
        self.streams.append(stream)
        return stream

    def build_image(self, actor: Actor, folder: str, tag: str | None = None, build_args=None, nocache=False):
        stream = FakeStream(
            [BuildEvent(BuildEventKind.STEP, "Step 1/1 : FROM x", 1, 1)], block=True, build_id=42
        )
        self.streams.append(stream)
        return stream


@pytest.fixture
def broker(tmp_path):
    config = Config().replace(
        broker={"socket": str(tmp_path / "run" / "broker.sock"), "max_message_bytes": 16384}
    )
    service = FakeService({os.getuid()})
    server = BrokerServer(service, config, background=False, max_connections=8)
    server.start()
    yield server, service, config
    server.stop()


def test_calls_run_as_the_peer_uid(broker):
    server, _, config = broker
    session = connect_session(config)
    assert session is not None and session.mode == "client"
    assert session.actor == Actor("tester", os.getuid(), False, ("users",))
    assert session.list_users("q") == ["tester:q"]
    assert session.get_container(1) == "mine"
    with pytest.raises(NotAuthorized, match="another user"):
        session.get_container(2)
    session.close()


def test_an_unknown_uid_is_refused(broker):
    server, service, config = broker
    service.known_uids = set()
    with pytest.raises(NotAuthorized, match=f"refuses uid {os.getuid()}"):
        connect_session(config)


def test_a_broker_serves_only_the_installation_its_config_names(broker, tmp_path, monkeypatch):
    """Issue 22 item 1: the hello names the broker's database; a config naming another is refused
    (one line: which installation the socket serves, what to change), or runs embedded when it may."""
    from ipynbsrv_tui import connect

    server, _, config = broker
    served = str(config.database.resolved_path)
    linked = tmp_path / "linked.db"
    linked.symlink_to(served)
    connect_session(
        config.replace(database={"path": str(linked)})
    ).close()  # the same database by another path
    other = config.replace(database={"path": str(tmp_path / "other.db")}, source=tmp_path / "other.toml")
    with pytest.raises(WrongInstallation) as refused:
        connect_session(other)
    message = str(refused.value)
    assert "\n" not in message
    for words in (config.broker.socket, f"database {served}", "the embedded defaults",
                  f"database {tmp_path / 'other.db'}", str(tmp_path / "other.toml"), "[broker] socket"):
        assert words in message, message
    monkeypatch.setattr("ipynbsrv_tui.service.embedded_session", lambda cfg: ("embedded", cfg.database.path))
    monkeypatch.setattr(connect, "may_embed", lambda cfg: True)
    assert connect.open_session(other) == ("embedded", str(tmp_path / "other.db"))
    monkeypatch.setattr(connect, "may_embed", lambda cfg: False)
    with pytest.raises(WrongInstallation):
        connect.open_session(other)


def test_a_broker_that_predates_hello_is_named_not_used(broker, monkeypatch):
    server, _, config = broker
    original = server._handle

    def old_handle(client, message):  # what a broker before issue 22 answered
        if message.get("call") == "hello":
            return server._reply_error(client, message.get("id"), ProtocolError("Unknown call 'hello'."))
        return original(client, message)

    monkeypatch.setattr(server, "_handle", old_handle)
    with pytest.raises(WrongInstallation, match="predates this ipynbsrv-tui.*restart it"):
        connect_session(config)


def test_no_socket_means_embedded_mode(tmp_path):
    config = Config().replace(broker={"socket": str(tmp_path / "absent.sock")})
    assert connect_session(config) is None
    stale = tmp_path / "stale.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()  # a socket file nobody listens on
    assert connect_session(Config().replace(broker={"socket": str(stale)})) is None


def test_long_lists_come_in_parts_under_the_limit(broker):
    _, _, config = broker
    with RemoteSession(config.broker.socket, max_message_bytes=16384) as session:
        rows = session.list_containers()
    assert (
        len(rows) == 3000 and rows[0].startswith("container-00000") and rows[-1].startswith("container-02999")
    )


def test_a_service_bug_is_reported_without_a_traceback_and_the_broker_keeps_serving(broker):
    _, _, config = broker
    with RemoteSession(config.broker.socket) as session:
        with pytest.raises(Exception) as caught:
            session.health()
        assert "RuntimeError: a bug in the service" in str(caught.value)
        assert "Traceback" not in str(caught.value)
        assert session.get_container(1) == "mine"


def test_a_wrongly_typed_argument_is_refused_before_the_service_and_the_broker_keeps_serving(broker):
    _, service, config = broker
    calls = []
    service.get_container = lambda actor, container_id: calls.append(container_id) or "mine"
    with RemoteSession(config.broker.socket) as session:
        with pytest.raises(ValidationError, match="container_id must be int, not list"):
            session.get_container([1, 2])
        with pytest.raises(ValidationError, match="tail must be int, not str"):
            session.follow_logs(1, tail="all")
        assert calls == []
        assert session.get_container(1) == "mine" and calls == [1]


def test_integers_outside_64_bits_are_refused_at_the_boundary_and_the_broker_keeps_serving(broker):
    _, service, config = broker
    calls = []
    service.get_container = lambda actor, container_id: calls.append(container_id) or "mine"
    with RemoteSession(config.broker.socket) as session:
        for huge in (10**30, -(2**63) - 1, 2**63):
            with pytest.raises(
                ValidationError, match="container_id must be int, not a whole number outside the 64-bit"
            ):
                session.get_container(huge)
        assert session.get_container(2**63 - 1) == "mine"
        assert calls == [2**63 - 1]


def test_many_threads_share_one_session_and_wait_while_the_broker_is_full(broker):
    _, _, config = broker
    session = RemoteSession(config.broker.socket, pool_size=4)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(30):
                assert session.list_users(f"{n}-{i}") == [f"tester:{n}-{i}"]
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.close()
    assert errors == []


def test_streams_end_when_the_client_closes_or_cancels(broker):
    _, service, config = broker
    session = RemoteSession(config.broker.socket)
    logs = session.follow_logs(1, tail=3)
    lines = []
    for line in logs:
        lines.append(line)
        if len(lines) == 3:
            logs.close()
    assert lines == ["line 0", "line 1", "line 2"]
    assert service.streams[-1].ended.wait(5), "closing the client ends the stream in the broker"

    build = session.build_image("folder")
    assert build.build_id == 42
    events = []
    for event in build:
        events.append(event)
        build.cancel()
    assert [e.kind for e in events] == [BuildEventKind.STEP]
    assert build.summary.status == BuildStatus.CANCELLED
    session.close()


def test_a_stream_ends_when_the_callers_rights_change(broker, monkeypatch):
    _, service, config = broker
    monkeypatch.setattr(broker_server, "ACTOR_TTL", 0.0)
    service.admin = True
    session = RemoteSession(config.broker.socket)
    watch = session.watch_containers()
    items = iter(watch)
    stream = service.streams[-1]
    stream.items.put("seen as an admin")
    assert next(items) == "seen as an admin"
    service.admin = False  # demoted while the stream is open
    stream.items.put("for admins only")
    with pytest.raises(NotAuthorized, match="rights changed"):
        next(items)
    assert stream.ended.wait(5), "the broker ends the service's stream"
    session.close()


def test_a_session_survives_a_broker_restart(broker, tmp_path):
    server, service, config = broker
    session = RemoteSession(config.broker.socket)
    assert session.get_container(1) == "mine"
    server.stop()
    assert not os.path.exists(config.broker.socket)
    with pytest.raises(BrokerUnavailable):
        session.get_container(1)
    again = BrokerServer(service, config, background=False)
    again.start()
    try:
        assert session.get_container(1) == "mine"
    finally:
        session.close()
        again.stop()


def test_connections_beyond_the_limit_are_told_to_wait(broker):
    server, _, config = broker
    held = [RemoteSession(config.broker.socket, pool_size=1) for _ in range(server.max_connections)]
    try:
        time.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(BrokerBusy, match="maximum of 8 connections"):
            RemoteSession(config.broker.socket, busy_wait=0.3)
        assert time.monotonic() - started < 2
    finally:
        for session in held:
            session.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            RemoteSession(config.broker.socket).close()
            break
        except BrokerUnavailable:
            time.sleep(0.05)
    else:
        pytest.fail("the broker did not free its connection slots")


def test_calls_and_streams_wait_while_the_broker_is_full(broker):
    """One retry rule for both: a request told BrokerBusy is sent again once a connection slot frees."""
    server, _, config = broker
    session = RemoteSession(config.broker.socket, pool_size=1, busy_wait=5)
    held = [RemoteSession(config.broker.socket, pool_size=1) for _ in range(server.max_connections - 1)]
    try:
        time.sleep(0.1)
        threading.Timer(0.3, held.pop().close).start()
        started = time.monotonic()
        stream = session.watch_containers()  # a second connection: waits for the slot
        assert 0.2 < time.monotonic() - started < 4
        stream.close()
        session.close()
        time.sleep(0.1)
        held += [RemoteSession(config.broker.socket, pool_size=1) for _ in range(2)]  # full again
        threading.Timer(0.3, held.pop(0).close).start()
        started = time.monotonic()
        with RemoteSession(config.broker.socket, pool_size=1, busy_wait=5) as late:  # a call: waits too
            assert late.get_container(1) == "mine"
        assert 0.2 < time.monotonic() - started < 4
    finally:
        for other in held:
            other.close()


def test_a_socket_made_by_another_user_is_refused(tmp_path, tmp_config):
    """Someone who creates the socket first in a shared folder must not pose as the broker."""
    import os
    import socket as socketlib

    from ipynbsrv_tui.broker.client import connect_session
    from ipynbsrv_tui.domain import NotAuthorized

    if os.geteuid() != 0:
        pytest.skip("needs root to hand the socket to another uid")
    path = tmp_path / "posing.sock"
    server = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    try:
        os.chown(path, 65534, 65534)
        with pytest.raises(NotAuthorized, match="belongs to uid 65534"):
            connect_session(tmp_config.replace(broker={"socket": str(path)}))
    finally:
        server.close()


# --------------------------------------------------------------------------- crowding (issue 20 item 5)

PEER = r"""
import json, os, socket, sys, time
os.setgroups([]); os.setgid(int(sys.argv[1])); os.setuid(int(sys.argv[1]))
path, plan = sys.argv[2], json.loads(sys.argv[3])

def connect():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    return sock

def answer(sock):
    data, started = b"", time.monotonic()
    try:
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        return {"seconds": time.monotonic() - started, "oserror": str(exc)}
    return {"seconds": time.monotonic() - started, "reply": json.loads(data) if data else None}

out = []
held = []
for step in plan:
    if step == "hold":
        held.append(connect())
    elif step == "wait-held":
        out.append([answer(sock) for sock in held]); held = []
    elif step == "pause":  # the broker's threads count a connection a moment after accept and answer
        time.sleep(0.5)
    else:
        sock = connect()
        if step != "silent":
            try:
                request = {"v": 1, "id": 7, "call": step, "args": [], "kwargs": {}}
                sock.sendall(json.dumps(request).encode() + b"\n")
            except OSError:
                pass  # refused before it read: its answer is waiting
        out.append(answer(sock))
print(json.dumps(out))
"""


@pytest.fixture
def shared_folder():
    """A folder other uids can reach (pytest's own tmp folders are root's 0700)."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="ipynbsrv-crowd-", dir="/tmp")
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _peer(uid: int, socket_path: str, plan: list[str]) -> list:
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("connects as other uids: run as root")
    done = subprocess.run(["/usr/bin/python3", "-c", PEER, str(uid), socket_path, json.dumps(plan)],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _crowd_broker(shared_folder, known, **options):
    config = Config().replace(broker={"socket": f"{shared_folder}/run/broker.sock"})
    server = BrokerServer(FakeService(known), config, background=False, **options)
    server.start()
    return server, config


def test_a_uid_that_is_no_user_is_answered_hello_at_most_and_closed_at_once(shared_folder, monkeypatch):
    monkeypatch.setattr(
        broker_server, "UNKNOWN_SECONDS", 3.0
    )  # room for a loaded machine between the connects
    server, _ = _crowd_broker(shared_folder, {0})
    try:
        third, silent, hello, other = _peer(60123, str(server.path), [
            "hold", "hold", "pause", "whoami", "wait-held", "pause", "hello", "pause", "whoami"])
    finally:
        server.stop()
    assert third["reply"]["error"]["type"] == "BrokerBusy"  # two at a time for a uid that is no user
    for held in silent:  # sent nothing: closed with the refusal, at once
        assert (
            held["reply"]["error"]["type"] == "NotAuthorized"
            and "refuses uid 60123" in held["reply"]["error"]["message"]
        )
        assert held["seconds"] < 5.0
    assert "database" in json.dumps(hello["reply"]["ok"])  # whose broker this is
    assert other["reply"]["error"]["type"] == "NotAuthorized" and other["seconds"] < 1.0


def test_a_user_that_sends_nothing_is_closed_after_the_first_request_deadline(shared_folder):
    server, _ = _crowd_broker(shared_folder, {0, 60124}, first_request_seconds=0.6)
    try:
        silent, answered = _peer(60124, str(server.path), ["silent", "whoami"])
    finally:
        server.stop()
    assert silent["reply"] is None and 0.4 < silent["seconds"] < 3.0  # closed, without an answer
    assert answered["reply"]["ok"]


def test_near_the_limit_an_account_with_its_fair_share_gets_no_more(shared_folder):
    server, _ = _crowd_broker(shared_folder, {0, 60125, 60126}, max_connections=24,  # a reserve of 3
                              first_request_seconds=3.0)
    held = [RemoteSession(str(server.path), pool_size=1) for _ in range(20)]  # root's: 4 slots left
    try:
        crowd = _peer(60125, str(server.path), ["hold", "hold", "pause", "whoami", "wait-held"])
        newcomer = _peer(60126, str(server.path), ["whoami"])
    finally:
        for session in held:
            session.close()
        server.stop()
    assert (
        crowd[0]["reply"]["error"]["type"] == "BrokerBusy" and "busy" in crowd[0]["reply"]["error"]["message"]
    )
    assert all(held["reply"] is None for held in crowd[1])  # let in, and closed for sending nothing
    assert newcomer[0]["reply"]["ok"]


def test_a_full_broker_reads_as_busy_not_as_not_running(broker, monkeypatch):
    """`containers list` against a full broker said "The notebook service is not running … Ask an
    admin to start it"; it is running, and full."""
    from ipynbsrv_tui import connect

    server, _, config = broker
    monkeypatch.setattr(connect, "may_embed", lambda cfg: False)
    held = [RemoteSession(config.broker.socket, pool_size=1) for _ in range(server.max_connections)]
    try:
        time.sleep(0.1)
        with pytest.raises(BrokerBusy) as refused:
            connect.open_session(config)
    finally:
        for session in held:
            session.close()
    assert not isinstance(refused.value, connect.ServiceNotRunning)
    assert "busy" in str(refused.value) and "not running" not in str(refused.value)
