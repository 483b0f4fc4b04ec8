"""Web access through the real nginx (DESIGN §16), with loopback stand-ins for the notebooks.

The gateway runs as the broker runs it: nginx as its child, the login on its Unix socket, the
local directory checking passwords. The notebook stand-ins record what nginx forwards, so the
tests see the token header nginx adds and the session cookie it strips. The real notebook in a
real browser is tests/e2e/test_web_browser.py.
"""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from ipynbsrv_tui.broker.server import system_actor
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Actor
from ipynbsrv_tui.web.gateway import WebGateway
from ipynbsrv_tui.web.nginx_conf import Route
from tests.integration.web_support import (
    Upstream,
    WebClient,
    free_port,
    remove_tree,
    require_nginx,
    runtime_root,
    wait_for_port,
)

pytestmark = pytest.mark.web

ROOT = Actor("root", 0, True, ())
TOKENS = {"alice": "a" * 48, "bob": "b" * 48}
XSRF = "2|1a2b3c4d|5e6f708192a3b4c5d6e7f8091a2b3c4d|1700000000"  # Tornado's format, as Jupyter sets it


class Web:
    """The running gateway, its stand-in notebooks and the routes it serves."""

    def __init__(
        self, gateway: WebGateway, port: int, upstreams: dict[str, Upstream], routes: list[Route], service
    ) -> None:
        self.gateway, self.port, self.upstreams, self.routes, self.service = (
            gateway,
            port,
            upstreams,
            routes,
            service,
        )
        self.clients = 0

    def client(self, source: str | None = None) -> WebClient:
        """A fresh client; each from its own loopback address, as nginx limits login posts per address."""
        self.clients += 1
        return WebClient(self.port, source or f"127.0.2.{self.clients}")


@pytest.fixture(scope="module")
def web():
    require_nginx()
    from ipynbsrv_tui.service import build_service

    folder = runtime_root()
    port = free_port()
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")},
        data={"root": str(folder / "data")},
        broker={"socket": str(folder / "run" / "ipynbsrv.sock")},
        web={"enabled": True, "listen": f"127.0.0.1:{port}", "public_folders": True},
    )
    service = build_service(config, mode="client-server")
    service.create_user(ROOT, "alice", "alice-password")
    service.create_user(ROOT, "bob", "bob-password")
    service.create_user(ROOT, "carol", "carol-password", is_admin=True)
    service.create_user(ROOT, "dave", "dave-password")
    upstreams = {owner: Upstream() for owner in TOKENS}
    routes = [Route(owner, "one", "127.0.0.1", upstreams[owner].port, TOKENS[owner]) for owner in TOKENS]
    gateway = WebGateway(service, config, system_actor(), poll_seconds=0.2, routes=lambda: list(routes))
    gateway.start()
    try:
        wait_for_port(port)
        yield Web(gateway, port, upstreams, routes, service)
    finally:
        gateway.stop()
        for upstream in upstreams.values():
            upstream.close()
        remove_tree(folder)


def logged_in(web: Web, username: str) -> WebClient:
    client = web.client()
    answer = client.login(username, f"{username}-password")
    assert answer.status == 303, answer.text
    return client


def test_a_visitor_without_a_session_is_sent_to_the_login_page_with_the_way_back(web):
    answer = web.client().request("GET", "/user/alice/one/tree?x=1")
    assert answer.status == 302
    assert answer.headers["Location"].endswith("/_ipynbsrv/login?next=/user/alice/one/tree%3Fx%3D1")
    assert not web.upstreams["alice"].requests or all(
        "tree?x=1" not in r["path"] for r in web.upstreams["alice"].requests)


def test_login_sets_a_signed_httponly_secure_lax_cookie_and_goes_back(web):
    client = web.client()
    answer = client.login("alice", "alice-password", "/user/alice/one/")
    assert answer.status == 303 and answer.headers["Location"] == "/user/alice/one/"
    cookie = next(c for c in answer.cookies() if c.startswith("ipynbsrv_session="))
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=43200"):
        assert attribute in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    tampered = WebClient(web.port, jar={"ipynbsrv_session": value[:-1] + ("0" if value[-1] != "0" else "1")})
    assert tampered.request("GET", "/user/alice/one/").status == 302


def test_a_wrong_password_is_refused_and_no_cookie_is_set(web):
    client = web.client()
    answer = client.login("dave", "not-the-password")
    assert answer.status == 401
    assert "Wrong user name or password" in answer.text
    assert "ipynbsrv_session" not in client.jar
    assert client.request("GET", "/user/dave/one/").status == 302


def test_a_login_without_the_forms_csrf_token_is_refused(web):
    client = web.client()
    client.request("GET", "/_ipynbsrv/login")
    answer = client.request("POST", "/_ipynbsrv/login", b"username=alice&password=alice-password&csrf=forged",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 403
    assert "ipynbsrv_session" not in client.jar
    cross_site = web.client()
    form = cross_site.request("GET", "/_ipynbsrv/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = cross_site.request(
        "POST",
        "/_ipynbsrv/login",
        f"username=alice&password=alice-password&csrf={csrf}".encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"},
    )
    assert answer.status == 403


def test_nginx_adds_the_token_strips_the_session_cookie_and_the_browser_never_sees_the_token(web):
    client = logged_in(web, "alice")
    client.jar["other"] = "kept"
    answer = client.request("GET", "/user/alice/one/api/status", headers={"Authorization": "token forged"})
    assert answer.status == 200 and answer.text == "hello from /user/alice/one/api/status"
    forwarded = web.upstreams["alice"].requests[-1]["headers"]
    assert forwarded["Authorization"] == f"token {TOKENS['alice']}"
    assert "ipynbsrv_session" not in forwarded.get("Cookie", "")
    assert "other=kept" in forwarded.get("Cookie", "")
    assert TOKENS["alice"] not in answer.text and TOKENS["alice"] not in str(answer.headers)


def test_another_users_notebook_answers_the_same_404_as_a_missing_one(web):
    client = logged_in(web, "bob")
    other = client.request("GET", "/user/alice/one/")
    missing = client.request("GET", "/user/alice/nothing-here/")
    nobody = client.request("GET", "/user/nobody/one/")
    assert other.status == missing.status == nobody.status == 404
    assert other.body == missing.body == nobody.body
    assert not any(r["headers"].get("Cookie", "").count("bob") for r in web.upstreams["alice"].requests)
    assert client.request("GET", "/user/bob/one/").status == 200


def test_the_page_for_a_notebook_that_does_not_answer_follows_its_state_not_nginxs_routes(web):
    """nginx learns of a start or a stop a moment after it happened. Meanwhile a stopped notebook's
    dead route must not say "starting" (a race CI caught in the browser test), and a started
    notebook without its route yet must not say "not running"."""
    from ipynbsrv_tui.store.models import Container, User

    token = "d" * 48
    upstream = Upstream()
    row = Container.create(name="gone", owner=User.get(User.username == "dave"), host_port=upstream.port,
                           token=token, base_url="/user/dave/gone/", state="running")
    client = logged_in(web, "dave")

    def page() -> str:
        answer = client.request("GET", "/user/dave/gone/tree")
        assert answer.status == 503, (answer.status, answer.text)
        return "not running" if "dave/gone is not running" in answer.text else (
            "starting" if "Your notebook is starting" in answer.text else answer.text)

    assert page() == "starting"  # running, but nginx has no route yet
    web.routes.append(Route("dave", "gone", "127.0.0.1", upstream.port, token))
    try:
        deadline = time.monotonic() + 5
        while client.request("GET", "/user/dave/gone/").status != 200:
            assert time.monotonic() < deadline, "the route never answered"
            time.sleep(0.1)
        upstream.close()  # the route stays, nothing answers behind it
        assert page() == "starting"
        Container.update(state="exited").where(Container.id == row.id).execute()
        assert page() == "not running"  # stopped, and nginx has not dropped the route yet
    finally:
        web.routes.pop()
        Container.delete_by_id(row.id)
    assert client.request("GET", "/user/dave/nothing/").status == 404


@pytest.mark.docker
def test_the_owners_request_for_a_paused_notebook_resumes_it_others_are_told_it_is_paused(web, docker_client,
                                                                                        base_image):
    """A browser has no `u`: the owner's request resumes a suspended notebook, as a login does, and
    the page says so (it used to say "not running … key s", and `s` stopped it, kernels lost)."""
    from ipynbsrv_tui.store.models import Container, User

    engine_object = docker_client.containers.run(base_image, ["sleep", "infinity"], detach=True,
                                                 labels={"ipynbsrv.test": "web-paused"})
    try:
        engine_object.pause()
        row = Container.create(name="thesis", owner=User.get(User.username == "dave"), host_port=free_port(),
                               token="e" * 48, base_url="/user/dave/thesis/", state="paused",
                               docker_id=engine_object.id)
        try:
            admin = logged_in(web, "carol").request("GET", "/user/dave/thesis/tree")
            assert admin.status == 503 and "dave/thesis is paused" in admin.text
            assert "key <kbd>s</kbd>" not in admin.text and "not running" not in admin.text
            engine_object.reload()
            assert engine_object.status == "paused", "only its owner's request resumes it"

            owner = logged_in(web, "dave").request("GET", "/user/dave/thesis/tree")
            assert owner.status == 503 and "Your notebook is resuming" in owner.text, owner.text
            assert "key <kbd>s</kbd>" not in owner.text
            engine_object.reload()
            assert engine_object.status == "running"
            assert Container.get_by_id(row.id).state == "running"
            assert "dave" in web.gateway.present(), "the owner's visit counts as their presence"
        finally:
            Container.delete_by_id(row.id)
    finally:
        engine_object.remove(force=True)


def test_an_admin_opens_any_users_notebook(web):
    client = logged_in(web, "carol")
    assert client.request("GET", "/user/alice/one/").status == 200


def test_streamed_output_is_not_buffered(web):
    client = logged_in(web, "alice")
    conn = client.connection()
    conn.request(
        "GET",
        "/user/alice/one/stream",
        headers={"Cookie": f"ipynbsrv_session={client.jar['ipynbsrv_session']}"},
    )
    started = time.monotonic()
    answer = conn.getresponse()
    first = answer.read1(64)
    first_after = time.monotonic() - started
    rest = answer.read()
    conn.close()
    assert first.startswith(b"first")
    assert first_after < 1.0, f"the first chunk took {first_after:.2f} s: nginx buffered it"
    assert b"second" in first + rest


def test_an_upload_of_100_mb_goes_through(web):
    client = logged_in(web, "bob")
    size = 100 * 1024 * 1024
    before = web.upstreams["bob"].uploaded
    conn = client.connection()
    conn.putrequest("PUT", "/user/bob/one/api/contents/big.bin")
    conn.putheader("Cookie", f"ipynbsrv_session={client.jar['ipynbsrv_session']}; _xsrf={XSRF}")
    conn.putheader("X-XSRFToken", XSRF)  # as Jupyter's page sends it
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    block = b"x" * (1 << 20)
    for _ in range(100):
        conn.send(block)
    answer = conn.getresponse()
    answer.read()
    conn.close()
    assert answer.status == 201
    assert web.upstreams["bob"].uploaded - before == size


def test_websockets_are_forwarded_with_the_upgrade(web):
    client = logged_in(web, "alice")
    raw = socket.create_connection(("127.0.0.1", web.port))
    tls = ssl._create_unverified_context().wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall((
        "GET /user/alice/one/api/kernels/k/channels HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{web.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Cookie: ipynbsrv_session={client.jar['ipynbsrv_session']}\r\n\r\n"
    ).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += tls.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    tls.sendall(b"ping")
    tls.settimeout(5)
    echoed = head.split(b"\r\n\r\n", 1)[1]
    while len(echoed) < 4:
        echoed += tls.recv(16)
    tls.close()
    assert echoed == b"gnip"
    assert web.upstreams["alice"].requests[-1]["headers"]["Authorization"] == f"token {TOKENS['alice']}"


def test_logout_ends_the_session_even_for_a_copied_cookie(web):
    client = logged_in(web, "alice")
    copied = dict(client.jar)
    home = client.request("GET", "/")
    assert home.status == 200 and "/user/alice/one/" not in home.text  # no notebook rows in the store
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)
    forged = client.request(
        "POST", "/_ipynbsrv/logout", b"csrf=forged", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert forged.status == 403
    answer = client.request("POST", "/_ipynbsrv/logout", f"csrf={csrf}".encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 303
    assert "ipynbsrv_session" not in client.jar
    assert WebClient(web.port, jar=copied).request("GET", "/user/alice/one/").status == 302


def test_disabling_a_user_ends_their_sessions_at_once(web):
    client = logged_in(web, "dave")
    assert client.request("GET", "/").status == 200
    web.service.set_active(ROOT, "dave", False)
    try:
        assert client.request("GET", "/").status in (302, 303)
        assert client.request("GET", "/user/dave/one/").status == 302
        assert client.login("dave", "dave-password").status == 401
    finally:
        web.service.set_active(ROOT, "dave", True)
    assert client.request("GET", "/user/dave/one/").status == 302  # the old session stays ended


def test_deleting_a_user_ends_their_sessions_at_once(web):
    web.service.create_user(ROOT, "erin", "erin-password")
    client = logged_in(web, "erin")
    assert client.request("GET", "/").status == 200
    web.service.delete_user(ROOT, "erin")
    assert client.request("GET", "/user/erin/one/").status == 302
    assert client.request("GET", "/").status in (302, 303)
    assert client.login("erin", "erin-password").status == 401


def test_login_attempts_are_rate_limited_per_address_and_per_account(web):
    hammer = web.client(source="127.0.0.7")
    statuses = [hammer.login("nobody-here", "guess").status for _ in range(14)]
    assert 429 in statuses, statuses
    account = web.client(source="127.0.0.8")
    for _ in range(5):
        assert account.login("bob", "wrong").status == 401
    throttled = account.login("bob", "bob-password")
    assert throttled.status == 429 and "Wait" in throttled.text


def test_route_changes_reload_nginx(web):
    client = logged_in(web, "alice")
    assert (
        client.request("GET", "/user/alice/two/").status == 404
    )  # no route, and no such notebook in the store
    web.routes.append(Route("alice", "two", "127.0.0.1", web.upstreams["alice"].port, TOKENS["alice"]))
    try:
        deadline = time.monotonic() + 5
        while client.request("GET", "/user/alice/two/").status != 200:
            assert time.monotonic() < deadline, "the new route never answered"
            time.sleep(0.1)
    finally:
        web.routes.pop()
    deadline = time.monotonic() + 5
    while client.request("GET", "/user/alice/two/").status == 200:
        assert time.monotonic() < deadline, "the removed route kept answering"
        time.sleep(0.1)
    assert oct(os.stat(web.gateway.conf).st_mode & 0o777) == "0o600"


def test_nginx_stopped_from_outside_without_the_broker_comes_back_after_a_pause(web, caplog):
    caplog.set_level(logging.INFO, logger="ipynbsrv.web")
    old = web.gateway.supervisor.pid
    stopped = time.monotonic()
    os.kill(old, signal.SIGTERM)
    wait_for_pid = time.monotonic() + 10
    while web.gateway.supervisor.pid in (None, old):
        assert time.monotonic() < wait_for_pid, "nginx did not come back"
        time.sleep(0.05)
    assert time.monotonic() - stopped >= 1.5  # the pause that lets a stopping broker win
    wait_for_port(web.port)
    assert any("nginx is back" in r.getMessage() for r in caplog.records)


def test_when_nginx_is_killed_it_is_back_and_the_broker_says_so(web, caplog):
    caplog.set_level(logging.INFO, logger="ipynbsrv.web")
    client = logged_in(web, "alice")
    old = web.gateway.supervisor.pid
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        try:
            if (
                client.request("GET", "/user/alice/one/api/status").status == 200
                and web.gateway.supervisor.pid != old
            ):
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "nginx did not come back"
        time.sleep(0.1)
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"nginx (pid {old}) killed by signal 9" in m for m in messages), messages
    assert any("nginx is back" in m for m in messages), messages


# ---------------------------------------------------------------- the gateway as an attacker meets it


def raw_request(web: Web, lines: list[str]) -> bytes:
    """Send a request exactly as written (no client-side normalisation) and return the status line and
    headers."""
    raw = socket.create_connection(("127.0.0.1", web.port))
    tls = ssl._create_unverified_context().wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    tls.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = tls.recv(4096)
        if not chunk:
            break
        head += chunk
    tls.close()
    return head


def websocket_head(web: Web, path: str, cookie: str, *extra: str) -> bytes:
    return raw_request(web, [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{web.port}", "Upgrade: websocket",
                             "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", f"Cookie: {cookie}", *extra])


def test_another_origin_cannot_write_or_open_a_websocket_but_the_gateways_own_origin_can(web):
    """Jupyter takes every proxied request as token-authenticated and skips its XSRF and Origin checks:
    the gateway refuses a change or a websocket from another origin (a sibling subdomain included)."""
    client = logged_in(web, "alice")
    upstream = web.upstreams["alice"]
    own = f"https://127.0.0.1:{web.port}"
    attempts = [
        {"Origin": "https://evil.example", "Content-Type": "text/plain"},
        {"Origin": "https://evil.127.0.0.1.nip.io", "Content-Type": "text/plain"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
        {"Referer": "https://sibling.example/page"},
        {"Origin": own.replace("https", "http")},
    ]
    before = len(upstream.requests)
    for headers in attempts:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            answer = client.request(method, "/user/alice/one/api/kernels", b"{}", headers)
            assert answer.status == 404, (method, headers, answer.status)
    cookie = f"ipynbsrv_session={client.jar['ipynbsrv_session']}"
    for origin in ("https://evil.example", own.replace(str(web.port), str(web.port + 1))):
        assert websocket_head(web, "/user/alice/one/api/kernels/k/channels", cookie,
                              f"Origin: {origin}").startswith(b"HTTP/1.1 404"), origin
    assert len(upstream.requests) == before, "a cross-origin request reached the notebook"

    # Reading is not refused (a link from elsewhere opens the notebook), nor is the gateway's own page.
    assert (
        client.request("GET", "/user/alice/one/api/status", headers={"Origin": "https://evil.example"}).status
        == 200
    )
    assert websocket_head(web, "/user/alice/one/api/kernels/k/channels", cookie,
                          f"Origin: {own}").startswith(b"HTTP/1.1 101")
    client.jar["_xsrf"] = XSRF
    same = {"Origin": own, "X-XSRFToken": XSRF, "Sec-Fetch-Site": "same-origin"}
    answer = client.request("POST", "/user/alice/one/api/kernels", b"{}", same)
    assert answer.status == 201 and answer.text == "posted to /user/alice/one/api/kernels"


def test_jupyters_xsrf_rule_holds_at_the_gateway(web):
    """A change from the gateway's own origin still needs Jupyter's _xsrf token, as Jupyter would ask
    of a browser: the cookie and the same secret in X-XSRFToken (or ?_xsrf=), masked or not."""
    client = logged_in(web, "alice")
    own = {"Origin": f"https://127.0.0.1:{web.port}"}
    assert client.request("POST", "/user/alice/one/api/sessions", b"{}", own).status == 404  # no token
    client.jar["_xsrf"] = XSRF
    assert client.request("POST", "/user/alice/one/api/sessions", b"{}", own).status == 404  # cookie only
    wrong = {**own, "X-XSRFToken": XSRF.replace("5e6f", "5e60")}
    assert client.request("POST", "/user/alice/one/api/sessions", b"{}", wrong).status == 404
    # The same secret under another mask is the same token (Tornado masks it anew on every page).
    remasked = (
        "2|00000000|"
        + bytes(
            b ^ m
            for b, m in zip(
                bytes.fromhex("5e6f708192a3b4c5d6e7f8091a2b3c4d"), bytes.fromhex("1a2b3c4d") * 4, strict=True
            )
        ).hex()
        + "|1"
    )
    assert (
        client.request("POST", "/user/alice/one/api/sessions", b"{}", {**own, "X-XSRFToken": remasked}).status
        == 201
    )
    assert client.request("POST", f"/user/alice/one/api/sessions?_xsrf={XSRF.replace('|', '%7C')}", b"{}",
                          own).status == 201


NORMALISATION_VARIANTS = [
    "/user/alice/one/../../bob/one/api/status",
    "/user/alice/one/%2e%2e/%2e%2e/bob/one/api/status",
    "/user/alice/one/%2E%2E/%2E%2E/bob/one/api/status",
    "/user/alice/one/.%2e/.%2e/bob/one/api/status",
    "/user/alice/one/..%2F..%2Fbob/one/api/status",
    "/user/alice/one/%2f..%2f..%2fbob/one/api/status",
    "/user/alice/one/;/../../../bob/one/api/status",
    "/user/alice/one;/../../bob/one/api/status",
    "/user/alice/one/x/../../../bob/one/api/status",
    "/user/alice/one/api/../../../bob/one/api/status",
    "/user/alice/one/./../../bob/one/api/status",
    "/user/alice/one//..//..//bob/one/api/status",
    "/user//bob/one/api/status",
    "/user/alice/../bob/one/api/status",
    "/user/alice%2f..%2fbob/one/api/status",
    "/user/alice/one/%2e%2e%2f%2e%2e%2fbob/one/api/status",
    "/user/bob/one/../../alice/one/api/status",
    "/user/./bob/one/api/status",
    "/user/alice/one/api/..;/..;/..;/bob/one/api/status",
    "/./user/bob/one/api/status",
    "/user/alice/one/%252e%252e/%252e%252e/bob/one/api/status",
]


def test_a_path_that_normalises_to_another_users_notebook_never_reaches_it(web):
    """Authorization is decided on the path nginx routes by: 10 of these reached bob's notebook from
    alice's session when the broker read the raw address."""
    client = logged_in(web, "alice")
    bob = web.upstreams["bob"]
    before = len(bob.requests)
    cookie = f"ipynbsrv_session={client.jar['ipynbsrv_session']}"
    for path in NORMALISATION_VARIANTS:
        head = raw_request(web, [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{web.port}", f"Cookie: {cookie}"])
        assert not head.startswith(b"HTTP/1.1 200") or len(bob.requests) == before, path
        assert len(bob.requests) == before, f"{path} reached bob's notebook"
    # What normalises to alice's own notebook and says so in the raw path too still works.
    head = raw_request(web, ["GET /user/alice/one/api/../api/status HTTP/1.1", f"Host: 127.0.0.1:{web.port}",
                             f"Cookie: {cookie}"])
    assert head.startswith(b"HTTP/1.1 200"), head


def test_generated_paths_are_refused_or_routed_to_exactly_the_authorized_notebook(web):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client = logged_in(web, "alice")
    cookie = f"ipynbsrv_session={client.jar['ipynbsrv_session']}"
    bob, alice = web.upstreams["bob"], web.upstreams["alice"]
    pieces = st.sampled_from(["..", ".", "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%2F", ";", ";x", "", "/",
                              "alice", "bob", "one", "ONE", "Bob", "user", "api", "status", "%62ob", "x"])
    starts = st.sampled_from(["/user/alice/one/", "/user/alice/", "/user/", "/user/bob/one/", "/"])

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(starts, st.lists(pieces, min_size=1, max_size=8))
    def check(start: str, parts: list[str]) -> None:
        path = start + "/".join(parts)
        bob_before, alice_before = len(bob.requests), len(alice.requests)
        head = raw_request(web, [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{web.port}", f"Cookie: {cookie}"])
        assert len(bob.requests) == bob_before, f"{path} reached bob's notebook"
        if len(alice.requests) == alice_before:  # not a notebook's answer: the broker's own page (e.g. `/`)
            assert b"Content-Type: text/html" in head or not head.startswith(b"HTTP/1.1 200"), path

    check()


def test_a_request_with_two_session_cookies_is_refused_and_no_notebook_sees_either(web):
    """A planted cookie before an admin's: nginx would strip one and forward the other to the notebook."""
    admin = logged_in(web, "carol")
    victim_cookie = admin.jar["ipynbsrv_session"]
    owner = logged_in(web, "alice")
    upstream = web.upstreams["alice"]
    before = len(upstream.requests)
    for cookies in ([f"ipynbsrv_session=planted; ipynbsrv_session={victim_cookie}"],
                    [f"ipynbsrv_session={owner.jar['ipynbsrv_session']}; ipynbsrv_session={victim_cookie}"],
                    [f"ipynbsrv_session={victim_cookie}", "ipynbsrv_session=planted"],
                    [f"a=1; ipynbsrv_session={victim_cookie};ipynbsrv_session={victim_cookie}"]):
        head = raw_request(web, ["GET /user/alice/one/api/status HTTP/1.1", f"Host: 127.0.0.1:{web.port}",
                                 *(f"Cookie: {c}" for c in cookies)])
        assert head.startswith(b"HTTP/1.1 404"), (cookies, head)  # refused, as a missing notebook
    assert len(upstream.requests) == before
    assert (
        WebClient(web.port, jar={"ipynbsrv_session": victim_cookie}).request("GET", "/user/alice/one/").status
        == 200
    )
    assert victim_cookie not in str(upstream.requests)


def test_a_session_ends_with_a_password_change_a_disable_and_enable_and_a_delete_and_recreate(web):
    service = web.service
    service.create_user(ROOT, "frank", "frank-password", uid=4711)
    web.routes.append(Route("frank", "one", "127.0.0.1", web.upstreams["alice"].port, TOKENS["alice"]))
    try:
        client = logged_in(web, "frank")
        deadline = time.monotonic() + 5
        while client.request("GET", "/user/frank/one/").status != 200:
            assert time.monotonic() < deadline, "the route never answered"
            time.sleep(0.1)
        service.set_password(ROOT, "frank", "frank-password2")
        assert client.request("GET", "/user/frank/one/").status == 302
        assert client.request("GET", "/").status in (302, 303)

        client = WebClient(web.port, source="127.0.3.1")
        assert client.login("frank", "frank-password2").status == 303
        service.set_active(ROOT, "frank", False)
        service.set_active(ROOT, "frank", True)  # no request in between
        assert client.request("GET", "/user/frank/one/").status == 302

        client = WebClient(web.port, source="127.0.3.2")
        assert client.login("frank", "frank-password2").status == 303
        old = dict(client.jar)
        service.delete_user(ROOT, "frank", data="delete")
        service.create_user(ROOT, "frank", "frank-password3", uid=4711)  # the same name and uid again
        assert WebClient(web.port, jar=old).request("GET", "/user/frank/one/").status == 302
        assert WebClient(web.port, jar=old).request("GET", "/").status in (302, 303)
        assert logged_in_as(web, "frank", "frank-password3").request("GET", "/user/frank/one/").status == 200
    finally:
        web.routes.pop()


def logged_in_as(web: Web, username: str, password: str) -> WebClient:
    client = web.client()
    assert client.login(username, password).status == 303
    return client



def test_bad_logins_from_one_address_do_not_lock_the_account_and_padding_does_not_get_around_the_throttle(
    web,
):
    attacker = web.client(source="127.0.4.1")
    for _ in range(6):
        assert attacker.login("bob", "wrong").status in (401, 429)
    assert attacker.login("bob", "bob-password").status == 429  # this address, for this account
    assert web.client(source="127.0.4.2").login("bob", "bob-password").status == 303  # bob elsewhere: in
    # The key is the name the directory checks: padded or cased variants are the same account or none.
    for variant in ("bob ", " bob", "bob\t"):
        assert attacker.login(variant, "bob-password").status == 429, repr(variant)
    for variant in ("bob" + " " * 53 + "zzz", "bob" + " " * 61, "Bob", "bob\x00"):
        answer = attacker.login(variant, "bob-password")
        assert answer.status in (401, 429) and "ipynbsrv_session" not in attacker.jar, repr(variant)



def test_without_a_session_a_running_notebook_answers_as_a_missing_one_with_or_without_the_slash(web):
    visitor = web.client()
    answers = [visitor.request("GET", path) for path in
               ("/user/alice/one", "/user/alice/nothing", "/user/nobody/one", "/user/alice/one?x=1")]
    assert [a.status for a in answers] == [302] * 4
    assert [a.headers["Location"].split("next=")[1] for a in answers] == [
        "/user/alice/one", "/user/alice/nothing", "/user/nobody/one", "/user/alice/one%3Fx%3D1"]
    owner = logged_in(web, "alice")
    moved = owner.request("GET", "/user/alice/one?x=1")
    assert moved.status == 301 and moved.headers["Location"] == "/user/alice/one/?x=1"
    other = logged_in(web, "bob")
    assert (
        other.request("GET", "/user/alice/one").status
        == other.request("GET", "/user/alice/none").status
        == 404
    )


def test_a_login_with_a_non_ascii_next_address_goes_there(web):
    client = web.client()
    form = client.request("GET", "/_ipynbsrv/login?next=/%E2%82%AC")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    body = urlencode({"username": "dave", "password": "dave-password", "csrf": csrf, "next": "/€"}).encode()
    answer = client.request("POST", "/_ipynbsrv/login", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://127.0.0.1:{web.port}"})
    assert answer.status == 303 and answer.headers["Location"] == "/%E2%82%AC"
    assert "ipynbsrv_session" in client.jar



def test_nginx_reads_the_generated_configuration_without_a_warning(web):
    """Each route's `sub_filter_types text/html` made nginx warn `duplicate MIME type` on every start,
    each one a broker WARNING."""
    result = subprocess.run(web.gateway.supervisor._command("-t"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "duplicate" not in result.stderr, result.stderr



def test_while_another_program_holds_the_port_web_access_is_logged_as_down_not_serving(web, caplog):
    caplog.set_level(logging.INFO, logger="ipynbsrv.web")
    folder = runtime_root()
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))  # on every address, as sshd holds port 22
        holder.listen(8)
        port = holder.getsockname()[1]
        config = web.gateway.config.replace(broker={"socket": str(folder / "run" / "ipynbsrv.sock")},
                                            web={"enabled": True, "listen": f"127.0.0.1:{port}"})
        from ipynbsrv_tui.web import checks

        assert any(f"listen 127.0.0.1:{port} is in use" in text for _level, text in checks.check_web(config))
        gateway = WebGateway(web.service, config, system_actor(), poll_seconds=0.2, routes=list)
        gateway.start()
        try:
            deadline = time.monotonic() + 15
            while not any("web access is DOWN" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
                time.sleep(0.2)
        finally:
            gateway.stop()
            remove_tree(folder)
    assert not any("serving https" in r.getMessage() and str(port) in r.getMessage() for r in caplog.records)



def still_open(sock: socket.socket) -> bool:
    """The server has not closed this connection (no EOF, no reset waiting to be read)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return True
    if isinstance(sock, ssl.SSLSocket):  # readable may be TLS 1.3's session tickets
        sock.setblocking(False)
        try:
            return sock.recv(1) != b""
        except ssl.SSLWantReadError:
            return True
        except OSError:
            return False
        finally:
            sock.settimeout(5)
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


@pytest.fixture
def small_web(web):
    """A second gateway on the same service with the smallest connection budget [web] allows."""
    folder = runtime_root()
    port = free_port()
    config = web.gateway.config.replace(
        broker={"socket": str(folder / "run" / "ipynbsrv.sock")},
        web={
            "enabled": True,
            "listen": f"127.0.0.1:{port}",
            "max_connections": 256,
            "connections_per_address": 64,
            "public_folders": False,
        },
    )
    gateway = WebGateway(
        web.service, config, system_actor(), poll_seconds=0.2, routes=lambda: list(web.routes)
    )
    gateway.start()
    try:
        wait_for_port(port)
        yield Web(gateway, port, web.upstreams, web.routes, web.service)
    finally:
        gateway.stop()
        remove_tree(folder)


def test_a_bounded_slowloris_from_one_address_leaves_a_logged_in_user_served(small_web):
    """Connections that never finish their headers were not counted per address (nginx's HTTP limits
    count requests, after the headers): 1,100 of them from one address took all of the old gateway's
    connections. The stream layer now counts every accepted connection: with the smallest budget
    ([web] max_connections 256, connections_per_address 64), one address holds 64 and a logged-in
    user on another address is still served."""
    web = small_web
    client = logged_in(web, "alice")
    held: list[socket.socket] = []
    try:
        for _ in range(30):  # half a request's headers each, as long as nginx lets them stay
            tls = ssl._create_unverified_context().wrap_socket(
                socket.create_connection(("127.0.0.1", web.port), timeout=5, source_address=("127.0.5.1", 0)),
                server_hostname="127.0.0.1")
            tls.sendall(b"GET /user/alice/one/ HTTP/1.1\r\nHost: x\r\nX-a: ")
            held.append(tls)
        for _ in range(1100):  # TCP only: each one waits for a TLS handshake it never gets
            try:
                held.append(socket.create_connection(("127.0.0.1", web.port), timeout=5,
                                                     source_address=("127.0.5.1", 0)))
            except OSError:
                break  # the old gateway, out of connections, stops accepting
        time.sleep(1.0)  # nginx accepts and closes what is over the address's budget
        open_ones = sum(still_open(sock) for sock in held)
        started = time.monotonic()
        answer = client.request("GET", "/user/alice/one/api/status")
        took = time.monotonic() - started
        assert open_ones <= 64, f"one address holds {open_ones} connections"
        assert answer.status == 200 and took < 2.0, (answer.status, took)
        assert all(still_open(sock) for sock in held[:30]), "the first connections of the address were closed"
    finally:
        for sock in held:
            sock.close()


def publish(web: Web, owner: str, files: dict[str, str]) -> Path:
    """Files in a user's public folder as the user would leave them there (world-readable)."""
    folder = Path(web.gateway.config.data.root) / "public" / owner
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, 0o644)
    for directory in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        os.chmod(directory, 0o755)
    return folder


def test_a_public_folder_is_served_without_login_read_only_and_without_script(web):
    folder = publish(
        web,
        "alice",
        {
            "index.txt": "course notes",
            "sub/page.html": "<script>alert(1)</script>hi",
            ".hidden": "secret",
            ".git/config": "secret",
            "data.bin": "x",
        },
    )
    visitor = web.client()
    page = visitor.request("GET", "/public/alice/sub/page.html")
    assert (
        page.status == 200
        and page.text.endswith("hi")
        and page.headers["Content-Type"].startswith("text/html")
    )
    csp = page.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "allow-" not in csp and "script-src" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert (
        visitor.request("GET", "/public/alice/data.bin").headers["Content-Type"] == "application/octet-stream"
    )
    listing = visitor.request("GET", "/public/alice/")
    assert listing.status == 200 and "index.txt" in listing.text and "sub/" in listing.text
    assert ".hidden" not in listing.text and ".git" not in listing.text
    assert listing.headers["Content-Security-Policy"] == page.headers["Content-Security-Policy"]
    for path in ("/public/alice/.hidden", "/public/alice/.git/config", "/public/alice/.git/", "/public/",
                 "/public/alice/%2ehidden", "/public/alice/sub/../.hidden", "/public/nobody/",
                 "/public/alice/../../homes/", "/public/alice/..%2f..%2fhomes/"):
        answer = visitor.request("GET", path)
        assert answer.status in (400, 404), (path, answer.status)
        assert "secret" not in answer.text
    assert visitor.request("POST", "/public/alice/index.txt", b"x").status == 404
    assert visitor.request("PUT", "/public/alice/new.txt", b"x").status == 404
    assert not (folder / "new.txt").exists()


def test_no_symlink_in_a_public_folder_is_followed(web, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.chmod(tmp_path, 0o755)
    os.chmod(outside, 0o755)
    os.chmod(outside / "secret.txt", 0o644)
    folder = publish(web, "bob", {"shown.txt": "shown"})
    (folder / "link.txt").symlink_to(outside / "secret.txt")
    (folder / "linkdir").symlink_to(outside)
    (folder / "inside.txt").symlink_to(folder / "shown.txt")
    visitor = web.client()
    assert visitor.request("GET", "/public/bob/shown.txt").text == "shown"
    for path in ("/public/bob/link.txt", "/public/bob/linkdir/secret.txt", "/public/bob/linkdir/",
                 "/public/bob/inside.txt"):
        answer = visitor.request("GET", path)
        assert answer.status == 404 and "secret" not in answer.text, (path, answer.status)


def test_public_folders_are_off_unless_asked_for(small_web):
    publish(small_web, "alice", {"index.txt": "course notes"})
    assert small_web.client().request("GET", "/public/alice/index.txt").status == 404


def body_bytes_held(master: int, tmp) -> int:
    """Bytes in the request-body files nginx's processes hold open (nginx unlinks them at once)."""
    total = 0
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if (
                int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]) != master
                and int(pid) != master
            ):
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if str(tmp) in os.readlink(f"/proc/{pid}/fd/{fd}"):
                    total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except (OSError, ValueError, IndexError):
            continue
    return total


def test_a_large_body_to_the_brokers_own_paths_is_refused_before_it_is_stored(web):
    tmp = web.gateway.folder / "tmp"
    raw = socket.create_connection(("127.0.0.1", web.port))
    tls = ssl._create_unverified_context().wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(
        (
            f"POST /_ipynbsrv/logout HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 629145600\r\n\r\n"
        ).encode()
    )
    tls.settimeout(10)
    stored = 0
    try:
        for n in range(512):  # 32 MB, looking at what nginx keeps of it meanwhile
            tls.sendall(b"x" * 65536)
            if n % 64 == 63:
                stored = max(stored, body_bytes_held(web.gateway.supervisor.pid, tmp))
    except OSError:
        pass  # nginx answered and closed: good
    try:
        head = tls.recv(4096)
    except OSError:
        head = b""
    tls.close()
    assert stored < 1 << 20, f"{stored} bytes of the body were stored"
    assert head.startswith(b"HTTP/1.1 413"), head[:100]


# Last: it opens a store of its own, which the module's gateway would then be reading.
def test_the_broker_runs_nginx_as_its_child_and_stops_it_with_itself(tmp_path):
    require_nginx()
    from ipynbsrv_tui.broker.server import BrokerServer
    from ipynbsrv_tui.service import build_service

    folder = runtime_root()
    port = free_port()
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")},
        data={"root": str(folder / "data")},
        broker={"socket": str(folder / "run" / "ipynbsrv.sock")},
        web={"enabled": True, "listen": f"127.0.0.1:{port}"},
    )
    broker = BrokerServer(build_service(config, mode="client-server"), config, background=False)
    broker.start()
    try:
        wait_for_port(port)
        pid = broker.web.supervisor.pid
        assert os.getpgid(pid) == pid  # its own group: the workers go with it
        assert WebClient(port).request("GET", "/user/x/y/").status == 302
    finally:
        broker.stop()
        remove_tree(folder)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nothing holds the port any more
