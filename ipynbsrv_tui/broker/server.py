"""`ipynbsrv-tui serve`: the broker that runs the service for callers identified by SO_PEERCRED.

The broker is the only process holding the Docker socket, the database and the LDAP admin
credentials (DESIGN §2). It listens on a Unix socket (0666 inside a 0755 folder), learns each
caller's uid from the kernel, never from the caller, maps it to a directory user and runs every
call through the same service with that actor (DESIGN §8 is enforced there).
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import signal
import socket
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..domain import Actor, IpynbsrvError, NotAuthorized, NotFound, RightsChanged
from ..interface import CALLS
from ..peercred import peer_credentials
from ..service.core import NotebookService
from ..service.session import Session
from ..store.db import close_thread_database
from .arguments import compile_checks
from .background import BackgroundLoops
from .protocol import (
    CONTROL_CALLS,
    BrokerBusy,
    MessageTooLarge,
    ProtocolError,
    SocketChannel,
    dump_message,
    encode,
    error_payload,
    installation,
    read_message,
    request_fields,
)

if TYPE_CHECKING:
    from ..web.gateway import WebGateway

log = logging.getLogger("ipynbsrv.broker")

MAX_CONNECTIONS = 128
MAX_PER_UID = 16  # one account cannot take every connection (root is not limited)
# Near the limit (RESERVE_SLOTS free, at most an eighth of them), an account holding FAIR_SHARE
# connections or more gets no further one, so that someone who has none can still get in.
RESERVE_SLOTS = 16
FAIR_SHARE = 2
UNKNOWN_PER_UID = 2  # connections a uid that is no user may have open at once (each briefly)
FIRST_REQUEST_SECONDS = 5.0  # a connection that sends nothing this long after its accept is closed
UNKNOWN_SECONDS = 0.5  # what a uid that is no user gets to ask (only hello: whose broker this is)
UNKNOWN_CACHE_SECONDS = 2.0  # a uid found to be no user is not looked up again within this time
# ... and after that, while one of its connections looks it up again, the others are answered the
# last refusal: a flood costs one lookup per uid at a time, never one per connection.
UNKNOWN_REMEMBER_SECONDS = 60.0
IDLE_SECONDS = 600.0  # an idle connection is closed after this long
ACTOR_TTL = 30.0  # seconds a connection's resolved actor is trusted before it is looked up again
RIGHTS_POLL = 0.2  # seconds between two reads of the store's count of rights changes
UNCHECKED_STREAMS = frozenset({"watch_rights"})  # its items are the changes of rights themselves
DRAIN_SECONDS = 5.0  # on shutdown, how long calls in progress may take to finish
def system_actor() -> Actor:
    """The broker's own admin identity for its background work (it holds the Docker socket anyway)."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid{uid}"
    return Actor(name, uid, True, ())


class _Client(SocketChannel):
    """One accepted connection: its socket, its peer and what it is doing."""

    def __init__(self, sock: socket.socket, pid: int, uid: int) -> None:
        super().__init__(sock)
        self.pid = pid
        self.uid = uid
        self.actor: Actor | None = None
        self.actor_at = 0.0
        self.actor_epoch = -1
        self.busy = False
        self.stream: Any = None
        self.watching = False  # a live view of the containers is open: a TUI is on the screen

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)


class BrokerServer:
    """The Unix-socket server: a bounded thread per connection, plus the background loops.

    `start()` binds and returns; `serve_forever()` also waits for SIGTERM / SIGINT (or `stop()`)
    and then shuts down cleanly: stop accepting, end the streams, let calls in progress finish,
    remove the socket.
    """

    def __init__(
        self,
        service: NotebookService,
        config: Config,
        *,
        socket_path: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
        max_per_uid: int = MAX_PER_UID,
        idle_seconds: float = IDLE_SECONDS,
        first_request_seconds: float = FIRST_REQUEST_SECONDS,
        background: bool = True,
    ) -> None:
        self.service = service
        self.config = config
        self.path = Path(socket_path or config.broker.socket)
        self.installation = installation(config.database.resolved_path, config.source)
        self.limit = config.broker.max_message_bytes
        self.max_connections = max_connections
        self.max_per_uid = max_per_uid
        self._per_uid: dict[int, int] = {}
        self._in_use = 0
        self._unknown: dict[int, tuple[float, NotAuthorized]] = {}  # uid → when it was refused, and why
        self._resolving: dict[int, threading.Event] = {}  # uid → set when its lookup in progress ends
        self._warned: dict[int, float] = {}  # uid → when a refusal of its connections was last logged
        self.idle_seconds = idle_seconds
        self.first_request_seconds = first_request_seconds
        self._slots = threading.BoundedSemaphore(max_connections)
        self._clients: set[_Client] = set()
        self._last_seen: dict[str, datetime] = {}  # user name → when they last had a live view open
        self._clients_lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self._accept_thread: threading.Thread | None = None
        self._checks = compile_checks()
        self.background = (
            BackgroundLoops(service, config, system_actor(), self._stopping) if background else None
        )
        if self.background is not None:
            self.background.presence = self.present_users
        self.web: WebGateway | None = None
        self._epoch = (-1, 0.0)  # the store's count of rights changes, and when it was read

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Bind the socket (folder 0755, socket 0666), start accepting and the background loops."""
        self._prepare_folder()
        self._remove_stale_socket()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, 0o666)
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise IpynbsrvError(
                f"Cannot listen on {self.path}: {exc.strerror or exc}. Run the broker as root (or the "
                "service account that owns the folder), or set [broker] socket to a writable path."
            ) from None
        listener.settimeout(0.5)
        self._listener = listener
        self._inode = os.stat(self.path).st_ino
        self._accept_thread = threading.Thread(target=self._accept_loop, name="broker-accept", daemon=True)
        self._accept_thread.start()
        if self.background is not None:
            self.background.start()
        log.info("listening on %s (max %d connections)", self.path, self.max_connections)
        if self.config.web.enabled:
            self._start_web()

    def _start_web(self) -> None:
        """Web access (DESIGN §16): nginx and the login, next to the socket; a broker that cannot serve it
        stops."""
        from ..web.gateway import WebGateway

        hub = self.background.hub if self.background is not None else None
        self.web = WebGateway(self.service, self.config, system_actor(), hub)
        try:
            self.web.start()
        except Exception:
            self.web = None
            self.stop()
            raise

    def serve_forever(self) -> None:
        """Run until SIGTERM, SIGINT or `stop()`, then shut down cleanly."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda number, frame: self._stopping.set())
        while not self._stopping.wait(1.0):
            continue
        self.stop()

    def stop(self) -> None:
        """Stop accepting, end streams and idle connections, let busy calls finish, remove the socket."""
        if self._stopped.is_set():
            return
        self._stopping.set()
        log.info("shutting down")
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress
            except OSError:
                pass
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=2.0)
        self._remove_own_socket()
        if self.web is not None:
            self.web.stop()
        if self.background is not None:
            self.background.stop()
        with self._clients_lock:
            clients = list(self._clients)
        for client in clients:
            if client.stream is not None:
                _end_stream(client.stream)
            if not client.busy or client.stream is not None:
                client.shutdown()
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            with self._clients_lock:
                if not any(c.busy for c in self._clients):
                    break
            time.sleep(0.05)
        with self._clients_lock:
            clients = list(self._clients)
        for client in clients:
            client.shutdown()
        for thread in list(self._threads):
            thread.join(timeout=2.0)
        self._stopped.set()
        log.info("stopped")

    def present_users(self) -> dict[str, datetime]:
        """When each user was last here: now for those with a live view open (a TUI on their
        screen), else when their last one closed, and the time of each web user's last request.
        The idle policy counts it as their own notebooks' activity."""
        now = datetime.now(UTC)
        with self._clients_lock:
            for client in self._clients:
                if client.watching and client.actor is not None:
                    self._last_seen[client.actor.username] = now
            seen = dict(self._last_seen)
        if self.web is not None:
            for name, moment in self.web.present().items():
                seen[name] = max(moment, seen.get(name, moment))
        return seen

    def _left(self, client: _Client) -> None:
        """A live view closed: its user was here until now."""
        if client.watching and client.actor is not None:
            with self._clients_lock:
                self._last_seen[client.actor.username] = datetime.now(UTC)
        client.watching = False

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _prepare_folder(self) -> None:
        folder = self.path.parent
        if folder.is_dir():
            if not folder.stat().st_mode & stat.S_IXOTH:
                log.warning("%s is not searchable by other users (mode %o): they cannot reach the socket",
                            folder, stat.S_IMODE(folder.stat().st_mode))
            return
        try:
            folder.mkdir(parents=True, mode=0o755)
            os.chmod(folder, 0o755)
        except OSError as exc:
            raise IpynbsrvError(
                f"Cannot create the socket folder {folder}: {exc.strerror or exc}. Create it (mode 0755) "
                "or set [broker] socket in config.toml."
            ) from None

    def _remove_stale_socket(self) -> None:
        if not os.path.lexists(self.path):
            return
        if not stat.S_ISSOCK(os.lstat(self.path).st_mode):
            raise IpynbsrvError(
                f"{self.path} exists and is not a socket. Remove it or set [broker] socket elsewhere."
            )
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(str(self.path))
        except OSError:
            os.unlink(self.path)  # left behind by a broker that died
            return
        finally:
            probe.close()
        raise IpynbsrvError(
            f"Another broker is already listening on {self.path}. Stop it first (systemctl stop "
            "ipynbsrv-broker, or SIGTERM to its `ipynbsrv-tui serve`) or set [broker] socket elsewhere."
        )

    def _remove_own_socket(self) -> None:
        try:
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------------ connections

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self._over_unknown_cap(sock):
                continue
            if not self._slots.acquire(blocking=False):
                self._refuse_busy(sock)
                continue
            thread = threading.Thread(
                target=self._serve_client, args=(sock,), name="broker-client", daemon=True
            )
            self._threads.add(thread)
            thread.start()

    def _over_unknown_cap(self, sock: socket.socket) -> bool:
        """A uid refused within UNKNOWN_REMEMBER_SECONDS that holds its UNKNOWN_PER_UID connections already
        is answered here, in the accept loop, without a thread or a lookup: reconnecting in a loop costs
        the broker little (True when it was refused)."""
        try:
            _pid, uid, _gid = peer_credentials(sock)
        except OSError:
            sock.close()
            return True
        with self._clients_lock:
            known = self._unknown.get(uid)
            over = (known is not None and time.monotonic() - known[0] < UNKNOWN_REMEMBER_SECONDS
                    and self._per_uid.get(uid, 0) >= UNKNOWN_PER_UID)
        if over:
            self._refuse_busy(
                sock,
                BrokerBusy(
                    f"The notebook service is busy for your account: it has {UNKNOWN_PER_UID} connections "
                    "open to the broker. Try again in a moment."
                ),
            )
        return over

    def _refuse_busy(self, sock: socket.socket, error: BrokerBusy | None = None) -> None:
        if error is None:
            self._warn_once(-1, "refusing connections: %d connections in use", self.max_connections)
            error = BrokerBusy(
                f"The notebook service is busy: the broker is serving its maximum of {self.max_connections} "
                "connections. Try again in a moment."
            )
        try:
            sock.settimeout(0.2)
            sock.sendall(dump_message({"id": None, "error": error_payload(error)}, self.limit))
        except OSError:
            pass
        finally:
            sock.close()

    def _serve_client(self, sock: socket.socket) -> None:
        """One connection: who the peer is is settled at once (a uid that is no user is answered
        its hello at most, then closed), then a slot of the peer's uid, then the conversation."""
        client: _Client | None = None
        counted = False
        try:
            pid, uid, _gid = peer_credentials(sock)
            client = _Client(sock, pid, uid)
            refusal = self._resolve(client)
            refused = self._take_slot(uid, known=refusal is None)
            counted = refused is None
            if refused is not None:
                self._warn_once(uid, "refusing connections of uid %s: %s", uid, refused)
                self._refuse_busy(sock, refused)
                return
            with self._clients_lock:
                self._clients.add(client)
            if refusal is not None:
                self._answer_unknown(client, refusal)
                return
            self._conversation(client)
        except Exception:
            log.exception("connection failed")
        finally:
            if client is not None:
                with self._clients_lock:
                    self._clients.discard(client)
                    if counted:
                        self._in_use -= 1
                        remaining = self._per_uid.get(client.uid, 1) - 1
                        if remaining > 0:
                            self._per_uid[client.uid] = remaining
                        else:
                            self._per_uid.pop(client.uid, None)
                client.close()
            else:
                sock.close()
            close_thread_database()
            self._threads.discard(threading.current_thread())
            self._slots.release()

    def _warn_once(self, uid: int, message: str, *args: Any) -> None:
        """A warning about `uid`, at most once per UNKNOWN_CACHE_SECONDS (a flood is not a log flood)."""
        now = time.monotonic()
        with self._clients_lock:
            last = self._warned.get(uid, float("-inf"))
            if now - last < UNKNOWN_CACHE_SECONDS:
                return
            self._warned[uid] = now
            if len(self._warned) > 4096:
                self._warned = {u: t for u, t in self._warned.items() if now - t < UNKNOWN_CACHE_SECONDS}
        log.warning(message, *args)

    def _resolve(self, client: _Client) -> NotAuthorized | None:
        """Look the peer up at once (DESIGN §8): None for a user (the actor is kept for its first request),
        else the refusal. A uid is looked up by one connection at a time, and a refused uid is remembered,
        so that a flood of its connections costs one lookup every UNKNOWN_CACHE_SECONDS, not one per
        connection. A store or directory that cannot answer is not a refusal: the first request reports it."""
        if client.uid == 0:
            return None
        while True:  # one lookup of a uid at a time; its other connections wait for that one's answer
            now = time.monotonic()
            with self._clients_lock:
                known = self._unknown.get(client.uid)
                pending = self._resolving.get(client.uid)
                if known is not None and (now - known[0] < UNKNOWN_CACHE_SECONDS or pending is not None):
                    return known[1]
                if pending is None:
                    done = self._resolving[client.uid] = threading.Event()
                    break
            pending.wait(UNKNOWN_SECONDS)
        try:
            self._actor(client)
        except NotAuthorized as exc:
            with self._clients_lock:
                self._unknown[client.uid] = (now, exc)
                if len(self._unknown) > 4096:  # old entries go; they are only a cache
                    self._unknown = {
                        u: e for u, e in self._unknown.items() if now - e[0] < UNKNOWN_REMEMBER_SECONDS
                    }
            return exc
        except IpynbsrvError:
            return None
        finally:
            with self._clients_lock:
                del self._resolving[client.uid]
            done.set()
        with self._clients_lock:
            self._unknown.pop(client.uid, None)  # a user now (an admin made the account)
        return None

    def _take_slot(self, uid: int, *, known: bool) -> BrokerBusy | None:
        """Count a connection of `uid`, or the BrokerBusy to answer: each account has a cap (a uid
        that is no user a small one), and near the limit one with a fair share already waits."""
        with self._clients_lock:
            count = self._per_uid.get(uid, 0)
            if uid != 0:
                cap = self.max_per_uid if known else UNKNOWN_PER_UID
                if count >= cap:
                    return BrokerBusy(
                        f"The notebook service is busy for your account: it has {count} connections open "
                        "to the broker, the most one account may have. Close other ipynbsrv-tui sessions, "
                        "or try again in a moment."
                    )
                free = self.max_connections - self._in_use
                if free <= min(RESERVE_SLOTS, self.max_connections // 8) and count >= FAIR_SHARE:
                    return BrokerBusy(
                        f"The notebook service is busy: {self._in_use} of its {self.max_connections} "
                        f"connections are in use and your account has {count}. Try again in a moment."
                    )
            self._per_uid[uid] = count + 1
            self._in_use += 1
        return None

    def _answer_unknown(self, client: _Client, refusal: NotAuthorized) -> None:
        """A uid that is no user: its first request, if it comes within UNKNOWN_SECONDS, is
        answered — a hello with whose broker this is, anything else with the refusal — then the
        connection closes (an account that may run the service itself learns this way that the
        socket serves another installation)."""
        client.sock.settimeout(UNKNOWN_SECONDS)
        try:
            message = read_message(client.rfile, self.limit)
        except (ProtocolError, OSError):
            message = None
        msg_id = message.get("id") if isinstance(message, dict) else None
        if isinstance(message, dict) and message.get("call") == "hello":
            self._reply(client, {"id": msg_id, "ok": encode(self.installation)})
            return
        self._reply_error(client, msg_id, refusal)

    def _conversation(self, client: _Client) -> None:
        """Read requests and answer them until the peer leaves, errs badly, or the broker stops.
        The first request must come within `first_request_seconds`, later ones within `idle_seconds`."""
        client.sock.settimeout(self.first_request_seconds)
        while not self._stopping.is_set():
            try:
                message = read_message(client.rfile, self.limit)
            except MessageTooLarge as exc:
                self._reply_error(client, None, exc)
                return
            except ProtocolError as exc:
                if not self._reply_error(client, None, exc):
                    return
                continue
            except (TimeoutError, OSError):
                return
            if message is None or self._stopping.is_set():
                return
            client.sock.settimeout(self.idle_seconds)
            client.busy = True
            try:
                keep = self._handle(client, message)
            finally:
                client.busy = False
            if not keep:
                return

    def _handle(self, client: _Client, message: dict[str, Any]) -> bool:
        """Answer one request; False when the connection must end (a refusal, a finished stream)."""
        msg_id = message.get("id")
        try:
            msg_id, call, args, kwargs = request_fields(message)
            if call == "ping":
                return self._reply(client, {"id": msg_id, "ok": "pong"})
            if call == "hello":  # before the caller's account: whoever reached us learns whose broker this is
                return self._reply(client, {"id": msg_id, "ok": encode(self.installation)})
            try:
                actor = self._actor(client)
            except IpynbsrvError as exc:
                self._reply_error(client, msg_id, exc)
                return False
            if call == "whoami":
                return self._reply(client, {"id": msg_id, "ok": encode(actor)})
            if call in CONTROL_CALLS:
                raise ProtocolError(f"{call!r} is only meaningful on a stream's connection.")
            declared = CALLS.get(call)
            if declared is None:
                raise ProtocolError(
                    f"Unknown call {call!r}: the broker serves the service interface's calls only."
                )
            self._checks[call](args, kwargs)
            method = getattr(Session(self.service, actor), call)
            if declared.stream:
                handle = self._open_stream(call, method, actor, args, kwargs)
                self._stream(client, msg_id, call, handle, None if call in UNCHECKED_STREAMS else actor)
                return False
            return self._send_result(client, msg_id, method(*args, **kwargs))
        except IpynbsrvError as exc:
            return self._reply_error(client, msg_id, exc)
        except Exception as exc:
            return self._reply_error(client, msg_id, _unexpected(message.get("call"), client, exc))

    def _open_stream(
        self, call: str, method: Any, actor: Actor, args: list[Any], kwargs: dict[str, Any]
    ) -> Any:
        """The iterator to stream: live changes come from the shared hub when it is connected."""
        hub = self.background.hub if self.background is not None else None
        wants_replay = bool(args) or kwargs.get("since") is not None
        if call == "watch_containers" and hub is not None and hub.live and not wants_replay:
            log.debug("live changes for %s from the shared event stream", actor.username)
            return hub.subscribe(actor)
        return method(*args, **kwargs)

    def _rights_epoch(self) -> int:
        """The store's count of rights changes, read at most every RIGHTS_POLL seconds."""
        epoch, read_at = self._epoch
        now = time.monotonic()
        if now - read_at >= RIGHTS_POLL:
            try:
                epoch = self.service.rights_epoch()
            except IpynbsrvError:
                return epoch  # the store is briefly unreachable: the cached actors stay
            self._epoch = (epoch, now)
        return epoch

    def _actor(self, client: _Client) -> Actor:
        """Who the peer is: looked up again every ACTOR_TTL seconds, and at once after a change of rights."""
        now = time.monotonic()
        epoch = self._rights_epoch()
        if client.actor is not None and now - client.actor_at < ACTOR_TTL and client.actor_epoch == epoch:
            return client.actor
        try:
            actor: Actor = self.service.actor_for_uid(client.uid)
        except (NotFound, NotAuthorized) as exc:
            log.warning("refused uid %s (pid %s): %s", client.uid, client.pid, exc)
            message = f"The ipynbsrv broker refuses uid {client.uid} ({_user_name(client.uid)}): {exc}"
            if "ask an admin" not in message.lower():
                message += " Ask an admin to create your ipynbsrv account."
            raise NotAuthorized(message) from None
        client.actor, client.actor_at, client.actor_epoch = actor, now, epoch
        return actor

    # ------------------------------------------------------------------ replies

    def _reply(self, client: _Client, message: dict[str, Any]) -> bool:
        try:
            client.write(dump_message(message, self.limit))
        except OSError:
            return False
        return True

    def _reply_error(self, client: _Client, msg_id: Any, exc: BaseException) -> bool:
        return self._reply(client, {"id": msg_id, "error": error_payload(exc)})

    def _send_result(self, client: _Client, msg_id: Any, result: Any) -> bool:
        encoded = encode(result)
        try:
            return self._reply(client, {"id": msg_id, "ok": encoded})
        except MessageTooLarge:
            if not isinstance(encoded, list):
                raise
        budget = self.limit - 64
        chunk: list[Any] = []
        size = 0
        for item in encoded:
            length = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1
            if length > budget:
                raise MessageTooLarge(
                    f"One item of the answer is {length} bytes, over [broker] max_message_bytes."
                )
            if size + length > budget:
                if not self._reply(client, {"id": msg_id, "part": chunk}):
                    return False
                chunk, size = [], 0
            chunk.append(item)
            size += length
        return self._reply(client, {"id": msg_id, "ok": chunk})

    # ------------------------------------------------------------------ streams

    def _stream(self, client: _Client, msg_id: Any, call: str, handle: Any, actor: Actor | None) -> None:
        """Send the items of a closeable iterator, then an end marker; the peer may cancel or leave.

        The caller is looked up again as the stream goes on (every ACTOR_TTL seconds, and after
        any change of rights): when they were disabled or their rights changed, the stream ends
        with RightsChanged before another item goes out. `actor` None: not checked (watch_rights).
        """
        client.sock.settimeout(None)
        client.stream = handle
        client.watching = call == "watch_containers"
        done = threading.Event()
        watcher = threading.Thread(
            target=self._watch_peer, args=(client, handle, done), name="broker-stream-peer", daemon=True
        )
        try:
            attributes = {"build_id": handle.build_id} if hasattr(handle, "build_id") else {}
            if not self._reply(client, {"id": msg_id, "stream": encode(attributes)}):
                return
            watcher.start()
            if self._stopping.is_set():
                return
            for item in handle:
                if actor is not None:
                    self._check_rights(client, actor)
                if not self._reply(client, {"id": msg_id, "item": self._item(item)}):
                    return
            summary = getattr(handle, "summary", None)
            self._reply(client, {"id": msg_id, "end": {"summary": encode(summary)}})
        except IpynbsrvError as exc:
            self._reply_error(client, msg_id, exc)
        except Exception as exc:
            self._reply_error(client, msg_id, _unexpected(call, client, exc))
        finally:
            done.set()
            client.stream = None
            self._left(client)
            _end_stream(handle)
            client.shutdown()
            if watcher.is_alive():
                watcher.join(timeout=1.0)

    def _check_rights(self, client: _Client, actor: Actor) -> None:
        """NotAuthorized when the caller is refused now, or is not the user with the admin rights the
        stream began with."""
        try:
            current = self._actor(client)
        except NotAuthorized:
            raise
        except IpynbsrvError:
            return  # the store or directory is briefly unreachable: only a refusal ends the stream
        if (current.username, current.is_admin) != (actor.username, actor.is_admin):
            raise RightsChanged(
                "Your rights changed while this stream was open, so it was ended. Open it again."
            )

    def _item(self, item: Any) -> Any:
        if isinstance(item, str) and len(item) > self.limit // 8:
            return item[: self.limit // 8] + " … (line cut: longer than the broker's message limit)"
        return encode(item)

    def _watch_peer(self, client: _Client, handle: Any, done: threading.Event) -> None:
        """On a stream's connection: a `cancel` request cancels it; the peer leaving ends it."""
        while not done.is_set():
            try:
                message = read_message(client.rfile, self.limit)
            except (ProtocolError, OSError, ValueError):
                message = None
            if done.is_set():
                return
            if message is None:
                _end_stream(handle)
                return
            if message.get("call") == "cancel":
                _end_stream(handle)


def _end_stream(handle: Any) -> None:
    """Cancel a build or close a watch / log stream; harmless when it has ended already."""
    stop = getattr(handle, "cancel", None) or getattr(handle, "close", None)
    if stop is None:
        return
    try:
        stop()
    except Exception:
        log.debug("ending a stream failed", exc_info=True)


def _unexpected(call: Any, client: _Client, exc: Exception) -> IpynbsrvError:
    """A bug in the service, logged with its traceback and reported to the caller without one."""
    log.error("%s failed for uid %s", call, client.uid, exc_info=exc)
    return IpynbsrvError(
        f"The broker failed while running {call}: {type(exc).__name__}: {exc}. "
        "An admin finds the details in the broker's log (journalctl -u ipynbsrv-broker)."
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "no account on this host"

