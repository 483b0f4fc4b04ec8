"""The web's owner checks are the service's rule, and a refused web request is audited.

The auth endpoint nginx asks on every notebook request, driven over its Unix socket (no nginx):
the owner's fast path and the owner-only resume ask `service/web.py` (`web_owns`, `web_resumes`),
which apply `authz.is_owner`; web/auth_app.py compares no user names itself (DESIGN §8, §16).
"""

from __future__ import annotations

import http.client
import os
import socket

import pytest

from ipynbsrv_tui.service import authz
from ipynbsrv_tui.store.models import AuditEvent
from ipynbsrv_tui.web.auth_app import AuthContext, AuthServer, serve_in_thread
from ipynbsrv_tui.web.gateway import WebGateway
from ipynbsrv_tui.web.nginx_conf import SESSION_COOKIE
from tests.fixtures.recorded_service import ROOT


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


@pytest.fixture
def web(recorded_service, tmp_path):
    """The recorded service with alice and bob, a gateway over it and its auth endpoint listening."""
    for name in ("alice", "bob"):
        recorded_service.create_user(ROOT, name, f"{name}-password")
    gateway = WebGateway(recorded_service, recorded_service.config, ROOT)
    path = str(tmp_path / "auth.sock")
    stop = serve_in_thread(AuthServer(path, AuthContext(gateway, gateway.sessions, gateway.throttle,
                                                        frozenset({os.geteuid()}))))
    yield gateway, path
    stop()


def cookie_of(gateway: WebGateway, username: str) -> str:
    _session, cookie = gateway.sessions.create(username, gateway.session_binding(username) or "")
    return cookie


def ask(path: str, cookie: str, uri: str = "/user/alice/thesis/lab") -> int:
    """nginx's auth_request for `uri` with this session cookie: the status the endpoint answers."""
    connection = UnixHTTPConnection(path)
    connection.request("GET", "/_ipynbsrv/auth", headers={
        "X-Original-URI": uri, "X-Ipynbsrv-Path": uri, "Cookie": f"{SESSION_COOKIE}={cookie}",
        "X-Forwarded-For": "192.0.2.7",
    })
    status = connection.getresponse().status
    connection.close()
    return status


def web_refusals() -> list[tuple[str, str, str]]:
    rows = AuditEvent.select().where((AuditEvent.action == "web.request") & (AuditEvent.outcome == "refused"))
    return [(row.actor, row.target, row.detail) for row in rows]


def test_a_refused_web_request_is_audited_with_who_what_and_from_where(web):
    gateway, path = web
    assert ask(path, cookie_of(gateway, "alice")) == 200  # her own notebook
    assert web_refusals() == []
    assert ask(path, cookie_of(gateway, "bob")) == 403  # alice's, asked by bob
    [(actor, target, detail)] = web_refusals()
    assert (actor, target) == ("bob", "/user/alice/thesis/lab")
    assert "not the owner" in detail and "192.0.2.7" in detail


def test_the_owner_fast_path_and_the_resume_ask_the_services_rule(web, recorded_service, monkeypatch):
    gateway, path = web
    asked: list[tuple[str, str]] = []

    def no_owner(username: str, owner: str) -> bool:  # the service's one rule, changed
        asked.append((username, owner))
        return False

    monkeypatch.setattr(authz, "is_owner", no_owner)
    assert ask(path, cookie_of(gateway, "alice")) == 403, "the web must not decide ownership itself"
    assert ("alice", "alice") in asked
    assert [actor for actor, _target, _detail in web_refusals()] == ["alice"]

    alice = recorded_service.actor_for_username("alice")
    assert gateway.resumes(alice, "alice") is False  # the owner-only resume follows the same rule
    monkeypatch.undo()
    assert gateway.resumes(alice, "alice") is True and gateway.owns("alice", "alice") is True
    assert gateway.resumes(alice, "bob") is False and gateway.owns("bob", "alice") is False
