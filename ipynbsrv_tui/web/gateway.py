"""Web access as the broker runs it: nginx, the login endpoints, and routes kept in step.

The routes follow the notebooks: the broker's change hub (engine events: create, start, stop,
delete, a new port) wakes the route thread, which also looks every few seconds in case an
event was missed. When the rendered configuration changes, nginx reloads. Notebooks stay
reachable over `ssh -L` on their loopback ports whatever happens here.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from ..config import Config, web_base_url
from ..domain import Actor, ContainerChange, ContainerState, IpynbsrvError, NotAuthorized
from ..interface import Stream
from ..service.system import SystemCalls
from ..store.db import close_thread_database
from .auth_app import AuthContext, AuthServer, serve_in_thread
from .certs import check_pair, make_self_signed
from .nginx_conf import NginxSettings, Route, render
from .probe import answers
from .sessions import LoginThrottle, SessionStore
from .supervisor import NginxSupervisor

log = logging.getLogger("ipynbsrv.web")

POLL_SECONDS = 5.0
STAMPS_MAX = 100_000
LISTEN_CONFIRM_SECONDS = 3.5  # nginx tries to bind for about 2.5 s before it gives up
WORKER_USERS = ("www-data", "nobody")
# A starting notebook is routed too: nginx shows "starting" until Jupyter answers.
ROUTED_STATES = (ContainerState.RUNNING, ContainerState.STARTING)


def find_nginx() -> str | None:
    """The nginx binary: on PATH, or Debian's /usr/sbin/nginx (sbin is not on every user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin:/usr/local/sbin")


STREAM_MODULES = (
    "/usr/lib/nginx/modules/ngx_stream_module.so",
    "/usr/lib64/nginx/modules/ngx_stream_module.so",
)
STREAM_HINT = "apt-get install libnginx-mod-stream"


def find_stream_module(binary: str) -> str | None:
    """The stream module nginx loads ("" when it is built in); None when nginx has none."""
    for path in STREAM_MODULES:
        if os.path.exists(path):
            return path
    try:
        built = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    return "" if re.search(r"--with-stream(\s|$)", built) else None


def runtime_folder(config: Config) -> Path:
    """The broker's runtime folder for web access: next to its socket."""
    return Path(config.broker.socket).parent / "web"


def route_host(config: Config) -> str:
    address = config.notebooks.bind_address
    if address in ("", "0.0.0.0", "::", "localhost"):
        return "127.0.0.1"
    return f"[{address}]" if ":" in address else address


class ChangeSource(Protocol):
    """The broker's change hub, as the route thread reads it: the changes one actor may see."""

    def subscribe(self, actor: Actor) -> Stream[ContainerChange]: ...


class WebGateway:
    """nginx + the login endpoints + the route thread, for one broker. `start()` / `stop()`."""

    def __init__(self, service: SystemCalls, config: Config, actor: Actor, hub: ChangeSource | None = None,
                 poll_seconds: float = POLL_SECONDS, routes: Callable[[], list[Route]] | None = None) -> None:
        self.service = service
        self.config = config
        self.actor = actor
        self.hub = hub
        self.poll_seconds = poll_seconds
        self._routes_source = routes or self._notebook_routes
        self.folder = runtime_folder(config)
        self.conf = self.folder / "nginx.conf"
        self.auth_socket = self.folder / "auth.sock"
        self.sessions = SessionStore(secrets.token_bytes(32), config.web.session_hours * 3600.0)
        self.throttle = LoginThrottle()
        self.routes: list[Route] = []
        self.supervisor: NginxSupervisor | None = None
        self._stop_auth: Callable[[], None] | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._subscription: Stream[ContainerChange] | None = None
        self._threads: list[threading.Thread] = []
        self._render_lock = threading.Lock()
        self._seen: dict[str, float] = {}  # user name → when their last request came (time.time())
        self._stamps: dict[str, tuple[float, str | None]] = {}  # user name → (when asked, directory's stamp)
        self._stamps_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        binary = find_nginx()
        if binary is None:
            raise IpynbsrvError(
                "[web] enabled = true but nginx is not installed. Install it (apt-get install "
                "nginx) or set [web] enabled = false."
            )
        stream_module = find_stream_module(binary)
        if stream_module is None:
            raise IpynbsrvError(
                f"[web] enabled = true but nginx has no stream module (it counts connections per "
                f"address): {STREAM_HINT}, or set [web] enabled = false."
            )
        worker = self._worker_user()
        self._prepare_folder(worker)
        cert, key = self._certificate()
        allowed = {os.geteuid()} | ({worker.pw_uid} if worker else set())
        server = AuthServer(
            str(self.auth_socket), AuthContext(self, self.sessions, self.throttle, frozenset(allowed))
        )
        if worker is not None:
            os.chown(self.auth_socket, 0, worker.pw_gid)
        os.chmod(self.auth_socket, 0o660)
        self._stop_auth = serve_in_thread(server)
        web = self.config.web
        self.settings = NginxSettings(self.folder, web.listen, cert, key, self.auth_socket,
                                      worker.pw_name if worker else None, web.max_connections,
                                      web.connections_per_address, web.client_timeout, stream_module or None,
                                      self._public_root())
        self.routes = self._current_routes()
        self._write(render(self.settings, self.routes))
        self.supervisor = NginxSupervisor(binary, self.conf, self.folder, on_restart=self._confirm_in_thread,
                                          stale=(self.settings.front_socket,))
        problem = self.supervisor.check()
        if problem:
            self._stop_auth()
            raise IpynbsrvError(f"nginx refuses the generated configuration {self.conf}: {problem}")
        self.supervisor.start()
        self._confirm_in_thread(self.supervisor.pid)
        if self.hub is not None:
            self._subscription = self.hub.subscribe(self.actor)
            self._spawn("web-changes", self._changes_loop)
        self._spawn("web-routes", self._routes_loop)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._subscription is not None:
            self._subscription.close()
        for thread in self._threads:
            thread.join(timeout=3.0)
        if self.supervisor is not None:
            self.supervisor.stop()
            log.info("web: nginx stopped")
        if self._stop_auth is not None:
            self._stop_auth()

    def _confirm_in_thread(self, pid: int | None) -> None:
        self._spawn("web-listen", lambda: self._confirm_listening(pid))

    def _confirm_listening(self, pid: int | None) -> None:
        """Say "serving" only once nginx listens: when it cannot bind (another program holds the port)
        it gives up after a few seconds, and web access is down until that changes."""
        host, _, port = self.config.web.listen.rpartition(":")
        if self._stopping.wait(LISTEN_CONFIRM_SECONDS) or self.supervisor is None:
            return
        if self.supervisor.pid == pid and answers(host, int(port)):
            log.info("web: serving https on %s with %d route(s)", self.config.web.listen, len(self.routes))
        else:
            log.error(
                "web: web access is DOWN: nginx cannot listen on %s (see its messages above; another "
                "program may hold the port). Notebooks stay reachable over ssh -L.",
                self.config.web.listen,
            )

    def _spawn(self, name: str, target: Callable[[], object]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _public_root(self) -> Path | None:
        """The folder of users' public folders (HostData.public) when [web] public_folders is on."""
        if not self.config.web.public_folders:
            return None
        root = Path(self.config.data.root).resolve() / "public"
        if not re.match(r"^/[A-Za-z0-9_./+-]*$", str(root)):
            raise IpynbsrvError(
                f"[web] public_folders: nginx cannot be given the folder {str(root)!r} safely. Use a "
                "[data] root of letters, digits and _ . / + - only, or set public_folders = false."
            )
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _worker_user(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        for name in WORKER_USERS:
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        return None

    def _prepare_folder(self, worker: pwd.struct_passwd | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o711)  # nginx's workers reach the socket inside; nobody may list it
        # nginx's own: temp files, and the socket the stream layer hands connections over (whoever
        # reached it could claim any client address in the PROXY protocol header).
        for private in (self.folder / "tmp", self.folder / "front"):
            private.mkdir(exist_ok=True)
            os.chmod(private, 0o700)
            if worker is not None:
                os.chown(private, worker.pw_uid, worker.pw_gid)
        for stale in (self.auth_socket,):
            if stale.exists() or stale.is_socket():
                stale.unlink()

    def _certificate(self) -> tuple[Path, Path]:
        web = self.config.web
        if web.tls_cert or web.tls_key:
            if not (web.tls_cert and web.tls_key):
                raise IpynbsrvError(
                    "[web] needs both tls_cert and tls_key (or neither, for a self-signed pair)."
                )
            check_pair(web.tls_cert, web.tls_key)
            return Path(web.tls_cert), Path(web.tls_key)
        host = urlsplit(web_base_url(self.config)).hostname or "localhost"
        cert, key = make_self_signed(self.folder, host)
        log.warning("web: no [web] tls_cert: serving a self-signed certificate (%s); browsers will warn. "
                    "Set tls_cert and tls_key to a real certificate.", cert)
        return cert, key

    # ------------------------------------------------------------------ routes

    def _current_routes(self) -> list[Route]:
        return sorted(self._routes_source())

    def _notebook_routes(self) -> list[Route]:
        """A route for each running notebook (as the broker's admin actor sees them, tokens included)."""
        host = route_host(self.config)
        views = self.service.list_containers(self.actor)
        return sorted(
            Route(v.owner, v.name, host, v.host_port, v.token or "")
            for v in views if v.state in ROUTED_STATES and v.host_port and v.token
        )

    def _write(self, text: str) -> None:
        temporary = self.conf.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the tokens
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, self.conf)

    def refresh_routes(self) -> bool:
        """Rewrite the configuration and reload nginx when the running notebooks changed."""
        with self._render_lock:
            routes = self._current_routes()
            if routes == self.routes:
                return False
            self._write(render(self.settings, routes))
            added = len(set(routes) - set(self.routes))
            removed = len(set(self.routes) - set(routes))
            self.routes = routes
            if self.supervisor is not None:
                self.supervisor.reload()
            log.info("web: routes changed (+%d -%d, %d now); nginx reloaded", added, removed, len(routes))
            return True

    def _changes_loop(self) -> None:
        if self._subscription is None:
            return
        try:
            for _change in self._subscription:
                self._wake.set()
        except IpynbsrvError as exc:
            log.debug("web: change stream ended: %s", exc)

    def _routes_loop(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                if self._stopping.is_set():
                    return
                try:
                    self.refresh_routes()
                except IpynbsrvError as exc:
                    log.warning("web: could not refresh the routes: %s", exc)
                except Exception:
                    log.exception("web: refreshing the routes failed")
        finally:
            close_thread_database()

    # ------------------------------------------------------------------ WebBackend

    def authenticate(self, username: str, password: str, address: str) -> Actor:
        """The directory checks the password (LDAP bind, or the local scrypt hash); then the account must
        be active."""
        try:
            return self.service.web_login(username, password, address)
        except NotAuthorized:
            log.warning("web: failed login for %r from %s", username, address)
            raise

    def current_actor(self, username: str) -> Actor:
        return self.service.actor_for_username(username)

    def session_binding(self, username: str) -> str | None:
        """The store's binding (row, uid, credential version) and the directory's credential stamp,
        asked now; None when the account is gone or disabled in either."""
        stored = self.service.credential_binding(username)
        if stored is None:
            return None
        stamp = self._directory_stamp(username, fresh=True)
        return None if stamp is None else f"{stored}|{stamp}"

    def session_valid(self, username: str, binding: str) -> bool:
        """The store is asked on every request; the directory every [web] directory_check_seconds."""
        stored, _, stamp = binding.rpartition("|")
        if not stored or self.service.credential_binding(username) != stored:
            return False
        return self._directory_stamp(username, fresh=False) == stamp

    def _directory_stamp(self, username: str, fresh: bool) -> str | None:
        """The directory's credential stamp of the account, as last asked within the check interval."""
        now = time.monotonic()
        with self._stamps_lock:
            known = self._stamps.get(username)
        if not fresh and known is not None and now - known[0] < self.config.web.directory_check_seconds:
            return known[1]
        try:
            stamp = self.service.credential_stamp(username)
        except IpynbsrvError as exc:
            if known is None:
                raise
            # Unreachable: nobody can log in meanwhile; the sessions keep their last answer until it is back.
            log.warning("web: could not ask the directory about %s: %s", username, exc)
            stamp = known[1]
        with self._stamps_lock:
            if len(self._stamps) > STAMPS_MAX:
                self._stamps.clear()
            self._stamps[username] = (now, stamp)
        return stamp

    def refused(self, username: str, target: str, reason: str) -> None:
        self.service.web_refused(username, target, reason)

    def may_open(self, actor: Actor, owner: str) -> bool:
        return self.service.web_may_open(actor, owner)

    def owns(self, username: str, owner: str) -> bool:
        return self.service.web_owns(username, owner)

    def resumes(self, actor: Actor, owner: str) -> bool:
        return self.service.web_resumes(actor, owner)

    def notebooks(self, actor: Actor) -> list[tuple[str, str, str]]:
        return [
            (v.owner, v.name, v.state.value)
            for v in self.service.list_containers(actor, owner=actor.username)
        ]

    def seen(self, username: str) -> None:
        self._seen[username] = time.time()  # one dict store: this is on every proxied request's path

    def present(self) -> dict[str, datetime]:
        """When each user's last request came: the idle policy counts it as their notebooks' activity."""
        return {name: datetime.fromtimestamp(moment, UTC) for name, moment in list(self._seen.items())}

    def resume(self, actor: Actor, owner: str, name: str) -> bool:
        """Resume the actor's own suspended notebook `name` (the service decides who may); whether it did."""
        for view in self.service.list_containers(actor, owner=owner):
            if view.name == name and view.state is ContainerState.PAUSED:
                try:
                    self.service.resume_container(actor, view.id)
                except IpynbsrvError as exc:
                    log.warning("web: resuming %s/%s for %s failed: %s", owner, name, actor.username, exc)
                    return False
                log.info("web: resumed %s/%s on its owner's request", owner, name)
                self._wake.set()  # its route, now
                return True
        return False

    def notebook_state(self, actor: Actor, owner: str, name: str) -> str | None:
        if not self.may_open(actor, owner):
            return None
        for view in self.service.list_containers(actor, owner=owner):
            if view.name == name:
                return view.state.value
        return None
