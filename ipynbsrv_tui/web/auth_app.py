"""The broker's web endpoints, served over a Unix socket that only nginx reaches.

- `GET /_ipynbsrv/auth`: nginx's `auth_request` for every proxied request. 200 admits (the
  notebook's owner, or an admin), 401 sends the browser to the login page (its address in the
  `X-Ipynbsrv-Login` header), 403 is turned into the same 404 as a notebook that does not exist.
- `GET|POST /_ipynbsrv/login`, `POST /_ipynbsrv/logout`, `GET /` (the user's notebooks) and the
  pages nginx falls back to: not found, not running, starting, and the slash after a notebook's
  name (asked for only once the auth check admitted the visitor).
"""

from __future__ import annotations

import logging
import os
import secrets
import socketserver
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from .. import validation
from ..domain import Actor, IpynbsrvError, NotAuthorized, ValidationError
from ..peercred import peer_credentials
from . import pages, trust
from .nginx_conf import SESSION_COOKIE
from .sessions import LoginThrottle, Session, SessionStore
from .trust import notebook_of

if TYPE_CHECKING:
    import socket

log = logging.getLogger("ipynbsrv.web")

CSRF_COOKIE = "ipynbsrv_csrf"
MAX_FORM_BYTES = 8192
_SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ),
)


class WebBackend(Protocol):
    """What the web endpoints ask of the broker's service."""

    def authenticate(self, username: str, password: str, address: str) -> Actor: ...
    def current_actor(self, username: str) -> Actor: ...
    def session_binding(self, username: str) -> str | None: ...
    def session_valid(self, username: str, binding: str) -> bool: ...
    def refused(self, username: str, target: str, reason: str) -> None: ...
    def may_open(self, actor: Actor, owner: str) -> bool: ...
    def owns(self, username: str, owner: str) -> bool: ...
    def resumes(self, actor: Actor, owner: str) -> bool: ...
    def notebooks(self, actor: Actor) -> list[tuple[str, str, str]]: ...
    def notebook_state(self, actor: Actor, owner: str, name: str) -> str | None: ...
    def seen(self, username: str) -> None: ...
    def resume(self, actor: Actor, owner: str, name: str) -> bool: ...


@dataclass
class AuthContext:
    """Shared by every request handler: the backend, the sessions and the throttle."""

    backend: WebBackend
    sessions: SessionStore
    throttle: LoginThrottle
    allowed_uids: frozenset[int]


# States in which a notebook that does not answer yet is about to (its route stays).
ANSWERING_STATES = frozenset({"running", "starting", "restarting"})


def safe_next(value: str | None) -> str:
    """Where to go after login: a path on this site only (never `//host` or a scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 2000:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    # Non-ASCII (`/€`) percent-encoded: a Location header is ASCII.
    return quote(value, safe="/?&=#%:;,+@!$'()*~[]")


class AuthServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """HTTP/1.1 over a Unix socket, one thread per nginx connection; peers other than nginx are refused."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, path: str, context: AuthContext) -> None:
        self.context = context
        super().__init__(path, AuthHandler)

    # A stream server's request is the connection's socket (the base class also allows datagrams).
    def verify_request(  # type: ignore[override]
        self, request: socket.socket, client_address: object
    ) -> bool:
        _pid, uid, _gid = peer_credentials(request)
        if uid in self.context.allowed_uids:
            return True
        log.warning("web: refused a connection to the login socket from uid %d (only nginx may connect)", uid)
        return False


class AuthHandler(BaseHTTPRequestHandler):
    """One request from nginx."""

    protocol_version = "HTTP/1.1"
    server: AuthServer
    server_version = "ipynbsrv"
    sys_version = ""

    # ------------------------------------------------------------------ plumbing

    def address_string(self) -> str:
        return self.headers.get("X-Forwarded-For", "nginx") if hasattr(self, "headers") else "nginx"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("web: " + format, *args)

    @property
    def ctx(self) -> AuthContext:
        return self.server.context

    def _cookie(self, name: str) -> str | None:
        """The cookie's value; None when it is missing or sent more than once."""
        return trust.cookie_value(self.headers.get_all("Cookie") or [], name)

    def _send(self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
              content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", content_type)
            for name, value in _SECURITY_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, location: str, cookies: Sequence[str] = ()) -> None:
        self._send(
            HTTPStatus.SEE_OTHER, headers=[("Location", location), *(("Set-Cookie", c) for c in cookies)]
        )

    def _session_cookie(self, value: str, max_age: int) -> str:
        return f"{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"

    def _current(self, session: Session | None = None) -> tuple[Session, Actor] | None:
        """(session, actor) of a logged-in, still allowed user; a refused user's sessions end here."""
        session = session or self.ctx.sessions.lookup(self._cookie(SESSION_COOKIE))
        if session is None:
            return None
        if not self.ctx.backend.session_valid(session.username, session.binding):
            self._end_sessions(session.username, "the account changed, was disabled or deleted")
            return None
        try:
            actor = self.ctx.backend.current_actor(session.username)
        except IpynbsrvError as exc:
            self._end_sessions(session.username, str(exc))
            return None
        return session, actor

    def _end_sessions(self, username: str, reason: str) -> None:
        ended = self.ctx.sessions.end_user(username, keep=self.ctx.backend.session_binding(username))
        log.info("web: ended %d session(s) of %s: %s", ended, username, reason)

    # ------------------------------------------------------------------ routing

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path == "/_ipynbsrv/auth":
                self._auth()
            elif path == "/_ipynbsrv/login":
                self._login_form()
            elif path == "/":
                self._home()
            elif path == "/_ipynbsrv/missing":
                self._missing()
            elif path == "/_ipynbsrv/starting":
                self._starting()
            elif path == "/_ipynbsrv/slash":
                self._slash()
            else:
                self._send(HTTPStatus.NOT_FOUND, pages.NOT_FOUND)
        except Exception:
            log.exception("web: %s %s failed", self.command, path)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, pages.page("Error", "<h1>Something went wrong</h1>"))

    do_HEAD = do_GET

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            form = self._form()
            if form is None:
                return
            if path == "/_ipynbsrv/login":
                self._login(form)
            elif path == "/_ipynbsrv/logout":
                self._logout(form)
            else:
                self._send(HTTPStatus.NOT_FOUND, pages.NOT_FOUND)
        except Exception:
            log.exception("web: %s %s failed", self.command, path)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, pages.page("Error", "<h1>Something went wrong</h1>"))

    def _form(self) -> dict[str, str] | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_FORM_BYTES:
            self.close_connection = True
            self._send(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, pages.page("Too large", "<h1>Request too large</h1>")
            )
            return None
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        return {key: values[0] for key, values in parse_qs(raw, max_num_fields=10).items()}

    # ------------------------------------------------------------------ auth_request

    def _auth(self) -> None:
        uri = self.headers.get("X-Original-URI", "/")
        routed = self.headers.get("X-Ipynbsrv-Path")
        target = notebook_of(routed) if routed else None
        sessions = trust.cookie_values(self.headers.get_all("Cookie") or [], SESSION_COOKIE)
        session = self.ctx.sessions.lookup(sessions[0]) if len(sessions) == 1 else None
        refusal = self._refusal(uri, routed, target, len(sessions))
        if refusal is not None:
            self._refuse(session.username if session else None, uri, refusal)
            return
        if session is not None and target is not None and self.ctx.backend.owns(session.username, target[0]):
            # The owner's own notebook, on every request of it: only "still this account?" needs asking.
            if self.ctx.backend.session_valid(session.username, session.binding):
                self.ctx.backend.seen(session.username)  # the owner is here: their notebook is in use
                self._send(HTTPStatus.OK, headers=[("X-Ipynbsrv-User", session.username)])
                return
            self._end_sessions(session.username, "the account changed, was disabled or deleted")
            session = None
        current = self._current(session) if session is not None else None
        if current is None:
            login = f"/_ipynbsrv/login?next={quote(safe_next(uri), safe='/')}"
            self._send(HTTPStatus.UNAUTHORIZED, headers=[("X-Ipynbsrv-Login", login)])
            return
        _session, actor = current
        if target is not None and self.ctx.backend.may_open(actor, target[0]):
            self._send(HTTPStatus.OK, headers=[("X-Ipynbsrv-User", actor.username)])
        else:
            self._refuse(actor.username, uri, "not the owner of this notebook")

    def _refusal(
        self, uri: str, routed: str | None, target: tuple[str, str] | None, cookies: int
    ) -> str | None:
        """Why this request must not reach a notebook whoever sends it, or None."""
        if cookies > 1:
            return f"{cookies} session cookies in one request"
        if routed is None or notebook_of(uri) != target:
            return "the raw and the normalised path name different notebooks"
        method = self.headers.get("X-Original-Method", "GET")
        upgrade = self.headers.get("X-Original-Upgrade", "")
        crossing = trust.cross_origin(
            method,
            upgrade,
            self.headers.get("Origin"),
            self.headers.get("Sec-Fetch-Site"),
            self.headers.get("Referer"),
            self.headers.get("X-Forwarded-Host", ""),
        )
        if crossing is not None:
            return f"{method} from another origin ({crossing})"
        if trust.needs_xsrf(method, upgrade) and not trust.xsrf_ok(
            self.headers.get_all("Cookie") or [],
            self.headers.get("X-XSRFToken") or self.headers.get("X-CSRFToken"),
            uri,
        ):
            return f"{method} without Jupyter's _xsrf token"
        return None

    def _refuse(self, username: str | None, uri: str, reason: str) -> None:
        """403, which nginx turns into the same 404 as a missing notebook; audited when a session says who
        asked."""
        address = self.headers.get("X-Forwarded-For", "?")
        if username is not None:
            self.ctx.backend.refused(username, urlsplit(uri).path[:200], f"{reason}, from {address}")
        else:
            log.info("web: refused %s from %s: %s", urlsplit(uri).path[:200], address, reason)
        self._send(HTTPStatus.FORBIDDEN)

    def _slash(self) -> None:
        """`/user/<owner>/<name>` of a notebook the visitor may open: on to `…/<name>/`."""
        original = urlsplit(self.headers.get("X-Original-URI", "/"))
        if notebook_of(original.path) is None or "/" in original.path[len("/user/"):].split("/", 1)[1]:
            self._send(HTTPStatus.NOT_FOUND, pages.NOT_FOUND)
            return
        query = f"?{original.query}" if original.query else ""
        self._send(HTTPStatus.MOVED_PERMANENTLY, headers=[("Location", f"{original.path}/{query}")])

    def _missing(self) -> None:
        """No route: "not running" or "starting" by the notebook's state to who may open it, else 404."""
        self._unavailable(has_route=False)

    def _starting(self) -> None:
        """A route that does not answer: "starting", or "not running" once the notebook stopped."""
        self._unavailable(has_route=True)

    def _unavailable(self, has_route: bool) -> None:
        # nginx learns of a start or a stop a moment after it happened, so the notebook's state,
        # not whether nginx has a route, says which page is true.
        target = notebook_of(self.headers.get("X-Original-URI", "/"))
        current = self._current()
        state = None
        if target is not None and current is not None:
            state = self.ctx.backend.notebook_state(current[1], *target)
        if target is not None and current is not None and state == "paused":
            self._paused(current[1], *target)
        elif state is None and not has_route:
            self._send(HTTPStatus.NOT_FOUND, pages.NOT_FOUND)
        elif target is not None and state is not None and state not in ANSWERING_STATES:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, pages.not_running_page(*target))
        else:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, pages.STARTING, [("Retry-After", "2")])

    def _paused(self, actor: Actor, owner: str, name: str) -> None:
        """A suspended notebook: its owner's request resumes it, as their login does (a browser has
        no `u`); anyone else who may open it is told the truth."""
        resumes = self.ctx.backend.resumes(actor, owner)
        if resumes:
            self.ctx.backend.seen(owner)
            if self.ctx.backend.resume(actor, owner, name):
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, pages.RESUMING, [("Retry-After", "1")])
                return
        self._send(HTTPStatus.SERVICE_UNAVAILABLE, pages.paused_page(owner, name, resumes))

    # ------------------------------------------------------------------ pages

    def _home(self) -> None:
        current = self._current()
        if current is None:
            self._redirect("/_ipynbsrv/login")
            return
        session, actor = current
        body = pages.home_page(actor.username, self.ctx.backend.notebooks(actor),
                               self.ctx.sessions.csrf_token("logout", session.sid))
        self._send(HTTPStatus.OK, body)

    def _login_form(self, status: int = HTTPStatus.OK, error: str = "", username: str = "",
                    next_url: str | None = None) -> None:
        if next_url is None:
            next_url = safe_next(parse_qs(urlsplit(self.path).query).get("next", ["/"])[0])
        binding = self._cookie(CSRF_COOKIE)
        cookies = []
        if not binding or len(binding) > 64:
            binding = secrets.token_urlsafe(24)
            cookies.append(f"{CSRF_COOKIE}={binding}; Path=/_ipynbsrv/; HttpOnly; Secure; SameSite=Strict")
        body = pages.login_page(self.ctx.sessions.csrf_token("login", binding), next_url, error, username)
        self._send(status, body, [("Set-Cookie", c) for c in cookies])

    def _same_origin(self) -> bool:
        """A browser's Origin (when it sends one) must be this site."""
        origin = self.headers.get("Origin")
        if not origin or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == self.headers.get("X-Forwarded-Host", "")

    def _login(self, form: dict[str, str]) -> None:
        next_url = safe_next(form.get("next"))
        typed = form.get("username", "")[:64]
        if not self._same_origin() or not self.ctx.sessions.check_csrf(
            "login", self._cookie(CSRF_COOKIE), form.get("csrf")
        ):
            log.warning("web: login form for %r refused: missing or wrong CSRF token", typed)
            self._login_form(
                HTTPStatus.FORBIDDEN, "The login form expired. Please try again.", typed, next_url
            )
            return
        address = self.headers.get("X-Forwarded-For", "?")
        try:
            account = validation.username(typed)  # exactly the name the directory authenticates
        except ValidationError:
            account = ""  # no such account can exist: counted against the address only
        wait = self.ctx.throttle.blocked(account, address)
        if wait > 0:
            log.warning("web: login for %r from %s throttled", typed, address)
            self._login_form(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"Too many failed logins. Wait {int(wait) + 1} seconds and try again.",
                typed,
                next_url,
            )
            return
        try:
            if not account:
                raise NotAuthorized("Wrong user name or password.")
            actor = self.ctx.backend.authenticate(account, form.get("password", ""), address)
        except IpynbsrvError:
            self.ctx.throttle.failed(account, address)
            time.sleep(0.2)
            self._login_form(HTTPStatus.UNAUTHORIZED, "Wrong user name or password.", typed, next_url)
            return
        self.ctx.throttle.succeeded(account, address)
        binding = self.ctx.backend.session_binding(actor.username)
        if binding is None:
            self._login_form(HTTPStatus.UNAUTHORIZED, "Wrong user name or password.", typed, next_url)
            return
        _session, cookie = self.ctx.sessions.create(actor.username, binding)
        log.info("web: %s logged in from %s", actor.username, address)
        self._redirect(next_url, [self._session_cookie(cookie, int(self.ctx.sessions.lifetime))])

    def _logout(self, form: dict[str, str]) -> None:
        session = self.ctx.sessions.lookup(self._cookie(SESSION_COOKIE))
        if session is not None:
            if not self._same_origin() or not self.ctx.sessions.check_csrf(
                "logout", session.sid, form.get("csrf")
            ):
                self._send(
                    HTTPStatus.FORBIDDEN,
                    pages.page(
                        "Refused",
                        '<h1>Log out from the notebooks page</h1><p><a href="/">Your notebooks</a></p>',
                    ),
                )
                return
            self.ctx.sessions.end(session.sid)
            log.info("web: %s logged out", session.username)
        self._redirect("/_ipynbsrv/login", [self._session_cookie("", 0)])


def serve_in_thread(server: AuthServer) -> Callable[[], None]:
    """Start serving in a daemon thread; returns the function that stops it."""
    import threading

    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="web-auth", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2.0)
        try:
            os.unlink(str(server.server_address))
        except OSError:
            pass

    return stop
