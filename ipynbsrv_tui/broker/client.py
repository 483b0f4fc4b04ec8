"""Client mode: the service interface over the broker's Unix socket.

Ordinary users run this, without access to Docker, the database or LDAP; it imports only the
stdlib, `ipynbsrv_tui.domain`, `ipynbsrv_tui.interface` and `ipynbsrv_tui.broker.protocol`.
The calls of `RemoteSession` are made from the interface's declarations (streaming ones are
written out below), so a call declared there is served here without another edit.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..domain import BuildEvent, ContainerChange, NotAuthorized
from ..interface import CALLS, STREAM_CALLS, Call, ServiceSession
from ..peercred import peer_credentials
from .protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    BrokerBusy,
    BrokerUnavailable,
    ProtocolError,
    SocketChannel,
    WrongInstallation,
    decode,
    dump_message,
    encode,
    error_from_payload,
    error_payload,
    installation,
    read_message,
    same_installation,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..domain import Actor

T = TypeVar("T")
_S = TypeVar("_S", bound="RemoteStream[Any]")
BROKER_UID_VARIABLE = "IPYNBSRV_BROKER_UID"


def trusted_broker_uids() -> frozenset[int]:
    """Who may serve as the broker, checked on every connection by the kernel's SO_PEERCRED: root,
    ourselves (our own broker cannot harm us), and the broker's service account when one is named
    in $IPYNBSRV_BROKER_UID."""
    uids = {0, os.getuid()}
    named = os.environ.get(BROKER_UID_VARIABLE, "").strip()
    if named.isdigit():
        uids.add(int(named))
    return frozenset(uids)


RESTART_HINT = (
    "The broker may be restarting: try again. If it persists, ask an admin to check it "
    "(systemctl status ipynbsrv-broker, or the broker's log where systemd is absent)."
)
RESTART_COMMAND = (
    "systemctl restart ipynbsrv-broker, or stop and start `ipynbsrv-tui serve` where systemd is absent"
)


class _Connection(SocketChannel):
    """One socket to the broker and its buffered reader; used by one thread at a time."""

    def __init__(self, path: str, limit: int, timeout: float | None) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            _, server_uid, _ = peer_credentials(sock)
        except (TimeoutError, BlockingIOError):  # it listens, but its queue of new connections is full
            sock.close()
            raise BrokerBusy(
                f"The notebook service is busy: the broker at {path} did not take the connection "
                f"within {timeout} s. Try again in a moment."
            ) from None
        except OSError as exc:
            sock.close()
            raise BrokerUnavailable(
                f"Cannot reach the ipynbsrv broker at {path}: {exc.strerror or exc}."
            ) from None
        if server_uid not in trusted_broker_uids():
            sock.close()
            raise NotAuthorized(
                f"The process listening on {path} runs as uid {server_uid}, not as root or the broker's "
                "account: refusing to talk to it (another user may have put it there). Ask an admin to "
                "check [broker] socket."
            )
        super().__init__(sock)
        self.limit = limit
        self.ids = itertools.count(1)
        self.reused = False

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(dump_message(message, self.limit))

    def receive(self) -> dict[str, Any] | None:
        return read_message(self.rfile, self.limit)

    def looks_alive(self) -> bool:
        """False when the broker closed this idle connection (it is readable: EOF or stray bytes)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


class _Retry(Exception):
    """A reused connection turned out dead before the broker read the request."""


class RemoteSession(ServiceSession):
    """The service interface carried out by the broker as the caller's uid.

    Thread-safe: each call borrows a connection from a small pool (`pool_size` idle connections
    are kept; 0 means one connection per call); each streaming call gets its own connection.
    `actor` is who the broker says we are; `mode` is "client". Given `expect` (`protocol.installation`
    of the config), the session is refused with WrongInstallation unless the broker serves it.
    """

    mode = "client"

    def __init__(
        self,
        socket_path: str,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        pool_size: int = 4,
        connect_timeout: float = 2.0,
        busy_wait: float = 3.0,
        expect: dict[str, Any] | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.limit = max_message_bytes
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.busy_wait = busy_wait
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            if expect is not None:
                self._check_installation(expect)
            self._actor: Actor = self._call("whoami", (), {}, answer_within=connect_timeout)
        except BaseException:
            self.close()
            raise

    @property
    def actor(self) -> Actor:
        return self._actor

    def adopt_rights(self, actor: Actor) -> None:
        """Show `actor` from now on (the broker itself always acts as who it finds us to be)."""
        self._actor = actor

    def _check_installation(self, expect: dict[str, Any]) -> None:
        """WrongInstallation unless the broker's hello names the database `expect` names."""
        try:
            served: dict[str, Any] = self._call("hello", (), {}, answer_within=self.connect_timeout)
        except ProtocolError:
            raise WrongInstallation(
                f"The broker at {self.socket_path} does not say which installation it serves (it predates "
                f"this ipynbsrv-tui): restart it after the upgrade ({RESTART_COMMAND})."
            ) from None
        if same_installation(expect, served):
            return
        theirs, ours = _describe(served), _describe(expect)
        change = f"use --config {served['config']} for that one, or " if served.get("config") else ""
        raise WrongInstallation(
            f"The broker at {self.socket_path} serves another installation ({theirs}), not this one "
            f"({ours}): {change}set [broker] socket to this installation's own broker."
        )

    # ------------------------------------------------------------------ calls

    def _call(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], answer_within: float | None = None
    ) -> Any:
        """One request and its answer; waits up to `busy_wait` seconds while the broker is full."""
        return self._while_busy(lambda: self._call_once(name, args, kwargs, answer_within))

    def _while_busy(self, attempt: Callable[[], T]) -> T:
        """`attempt()`, tried again with growing pauses while the broker is full (BrokerBusy), for up to
        `busy_wait` seconds; then its BrokerBusy goes to the caller."""
        deadline = time.monotonic() + self.busy_wait
        pause = 0.02
        while True:
            try:
                return attempt()
            except BrokerBusy:
                if time.monotonic() + pause >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _call_once(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], answer_within: float | None
    ) -> Any:
        conn = self._acquire(answer_within)
        try:
            try:
                outcome, value = self._roundtrip(conn, name, args, kwargs)
            except _Retry:
                conn.close()
                conn = self._connect(answer_within)
                outcome, value = self._roundtrip(conn, name, args, kwargs)
        except BaseException:
            conn.close()
            raise
        if outcome == "error" and isinstance(value, BrokerBusy):
            conn.close()
            raise value
        conn.sock.settimeout(None)
        self._release(conn)
        if outcome == "error":
            raise value
        return value

    def _roundtrip(
        self, conn: _Connection, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[str, Any]:
        msg_id = next(conn.ids)
        request = {"id": msg_id, "call": name, "args": encode(list(args)), "kwargs": encode(dict(kwargs))}
        try:
            conn.send(request)
        except (BrokenPipeError, ConnectionResetError):
            pending = _pending_error(conn)
            if pending is not None:
                return "error", pending
            if conn.reused:
                raise _Retry() from None
            raise BrokerUnavailable(
                f"The broker closed the connection before {name}. {RESTART_HINT}"
            ) from None
        except TimeoutError:
            raise BrokerUnavailable(f"The broker at {self.socket_path} does not answer.") from None
        parts: list[Any] = []
        while True:
            try:
                reply = conn.receive()
            except TimeoutError:
                raise BrokerUnavailable(f"The broker at {self.socket_path} does not answer.") from None
            except ConnectionResetError:
                reply = None
            if reply is None:
                if conn.reused and not parts:
                    raise _Retry()
                raise BrokerUnavailable(f"The broker closed the connection during {name}. {RESTART_HINT}")
            if reply.get("id") not in (msg_id, None):
                raise ProtocolError(f"The broker answered request {reply.get('id')!r} instead of {msg_id}.")
            if "part" in reply:
                parts.extend(decode(reply["part"]))
            elif "ok" in reply:
                value = decode(reply["ok"])
                if parts:
                    value = parts + list(value)
                return "ok", value
            elif "error" in reply:
                return "error", error_from_payload(reply["error"])
            else:
                raise ProtocolError("The broker sent a reply without a result or an error.")

    # ------------------------------------------------------------------ streams

    def watch_containers(self, since: float | None = None) -> RemoteStream[ContainerChange]:
        """Live ContainerChanges the broker lets us see; `close()` ends the iteration."""
        return self._stream(RemoteStream, "watch_containers", (), {"since": since})

    def watch_rights(self) -> RemoteStream[Actor]:
        """Who the broker finds us to be, each time our rights change; ends with RightsChanged when
        refused."""
        return self._stream(RemoteStream, "watch_rights", (), {})

    def follow_logs(self, container_id: int, tail: int = 200, timestamps: bool = False) -> RemoteStream[str]:
        """Log lines of a container as they come; `close()` ends the iteration."""
        return self._stream(
            RemoteStream, "follow_logs", (container_id,), {"tail": tail, "timestamps": timestamps}
        )

    def build_image(
        self,
        folder: str,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> RemoteBuildHandle:
        """Start a build (admins); iterate the handle for BuildEvents, `cancel()` stops the build."""
        kwargs = {"tag": tag, "build_args": build_args, "nocache": nocache}
        return self._stream(RemoteBuildHandle, "build_image", (folder,), kwargs)

    def _stream(self, cls: type[_S], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _S:
        return self._while_busy(lambda: self._stream_once(cls, name, args, kwargs))

    def _stream_once(self, cls: type[_S], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _S:
        conn = self._connect()
        try:
            msg_id = next(conn.ids)
            try:
                conn.send({"id": msg_id, "call": name, "args": encode(list(args)), "kwargs": encode(kwargs)})
            except OSError:
                pending = _pending_error(conn)
                if pending is None:
                    raise
                reply: dict[str, Any] | None = {"error": error_payload(pending)}
            else:
                reply = conn.receive()
        except OSError:
            conn.close()
            raise BrokerUnavailable(
                f"The broker closed the connection before {name}. {RESTART_HINT}"
            ) from None
        except BaseException:
            conn.close()
            raise
        if reply is None:
            conn.close()
            raise BrokerUnavailable(f"The broker closed the connection before {name}. {RESTART_HINT}")
        if "error" in reply:
            conn.close()
            raise error_from_payload(reply["error"])
        if "stream" not in reply:
            conn.close()
            raise ProtocolError(f"The broker did not start a stream for {name}.")
        return cls(conn, msg_id, decode(reply["stream"]) or {})

    # ------------------------------------------------------------------ pool

    def _connect(self, answer_within: float | None = None) -> _Connection:
        """A new connection; its calls wait `answer_within` seconds for an answer (None: no limit)."""
        if self._closed:
            raise BrokerUnavailable("This broker session is closed.")
        conn = _Connection(self.socket_path, self.limit, self.connect_timeout)
        conn.sock.settimeout(answer_within)
        return conn

    def _acquire(self, answer_within: float | None = None) -> _Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect(answer_within)
            if conn.looks_alive():
                conn.reused = True
                conn.sock.settimeout(answer_within)
                return conn
            conn.close()

    def _release(self, conn: _Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the pooled connections; streams already open end when closed themselves."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RemoteStream(Generic[T]):
    """The items of a streaming call, read from its own connection; `close()` from any thread ends it."""

    def __init__(self, conn: _Connection, msg_id: int, attributes: dict[str, Any]) -> None:
        self._conn = conn
        self._id = msg_id
        self._closed = False
        self.attributes = attributes
        self.summary: Any = None

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                try:
                    message = self._conn.receive()
                except OSError:
                    message = None
                if message is None:
                    if self._closed:
                        return
                    raise BrokerUnavailable(f"The broker ended the stream unexpectedly. {RESTART_HINT}")
                if "item" in message:
                    yield decode(message["item"])
                elif "end" in message:
                    self.summary = decode((message["end"] or {}).get("summary"))
                    return
                elif "error" in message:
                    raise error_from_payload(message["error"])
        finally:
            self._closed = True
            self._conn.close()

    def close(self) -> None:
        self._closed = True
        self._conn.shutdown()


class RemoteBuildHandle(RemoteStream[BuildEvent]):
    """A build running in the broker: iterate for BuildEvents; `summary` is set when it ends."""

    def __init__(self, conn: _Connection, msg_id: int, attributes: dict[str, Any]) -> None:
        super().__init__(conn, msg_id, attributes)
        self.build_id: int | None = attributes.get("build_id")
        self._send_lock = threading.Lock()

    def cancel(self) -> None:
        """Ask the broker to cancel the build; the iteration then ends with a cancelled summary."""
        with self._send_lock:
            try:
                self._conn.send({"id": self._id, "call": "cancel"})
            except OSError:
                self.close()


def _remote_call(call: Call) -> Callable[..., Any]:
    """A RemoteSession method for a declared call: the arguments go to the broker as given."""
    name = call.name

    def method(self: RemoteSession, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, args, kwargs)

    method.__name__ = name
    method.__qualname__ = f"RemoteSession.{name}"
    method.__doc__ = call.declaration.__doc__
    method.__wrapped__ = call.declaration  # type: ignore[attr-defined]  # inspect.signature shows the declared one
    return method


for _declared in CALLS.values():
    if not _declared.stream:
        setattr(RemoteSession, _declared.name, _remote_call(_declared))
if STREAM_CALLS - vars(RemoteSession).keys():  # a streaming call needs its RemoteStream written out above
    raise TypeError(
        f"RemoteSession lacks the streaming calls {sorted(STREAM_CALLS - vars(RemoteSession).keys())}"
    )


def _describe(named: dict[str, Any]) -> str:
    """An installation in words: its database and the config file naming it."""
    config = named.get("config")
    return f"database {named.get('database')}, " + (f"config {config}" if config else "the embedded defaults")


def _pending_error(conn: _Connection) -> BaseException | None:
    """The error the broker sent before closing on us (e.g. BrokerBusy), if one is waiting to be read."""
    try:
        conn.sock.settimeout(0.5)
        reply = conn.receive()
    except (OSError, ProtocolError):
        return None
    if reply is not None and "error" in reply:
        return error_from_payload(reply["error"])
    return None


def broker_socket_present(path: str) -> bool:
    """True when `path` is a Unix socket (the broker may be listening)."""
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def check_socket_owner(path: str) -> None:
    """Refuse a socket that neither root nor we made: in a folder others can write, another user
    could create it first and pose as the broker (and read what we send)."""
    owner = os.stat(path).st_uid
    if owner not in (0, os.getuid()):
        raise NotAuthorized(
            f"The broker socket {path} belongs to uid {owner}, not to root: refusing to talk to it. "
            "Ask an admin to check [broker] socket (keep it in a root-owned folder such as /run/ipynbsrv)."
        )


def connect_session(config: Config, *, timeout: float = 2.0) -> RemoteSession | None:
    """A RemoteSession when the broker at `config.broker.socket` answers for the installation the
    config names, else None (use embedded mode).

    A broker that answers but refuses us (a uid it does not know) raises that refusal
    (NotAuthorized with what to do): falling back to embedded mode would not help that user.
    A broker of another installation raises WrongInstallation (connect.open_session decides
    whether this account may run embedded instead). A broker that is full raises BrokerBusy
    (after the session's busy_wait): it is running, so neither embedded mode nor "not running".
    """
    path = config.broker.socket
    if not broker_socket_present(path):
        return None
    check_socket_owner(path)
    try:
        # The calls mypy sees as abstract are set on the class from the interface (see `_remote_call`).
        return RemoteSession(  # type: ignore[abstract]
            path, max_message_bytes=config.broker.max_message_bytes, connect_timeout=timeout,
            expect=installation(config.database.resolved_path, config.source),
        )
    except BrokerBusy:
        raise  # it runs, and is full: "busy, try again", never "not running"
    except BrokerUnavailable:
        return None
