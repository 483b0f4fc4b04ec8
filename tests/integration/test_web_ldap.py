"""Web sessions against a real slapd: a password changed in LDAP itself, outside ipynbsrv, ends them.

Changes made through ipynbsrv move the store's credential version and end sessions at once
(tests/integration/test_web_nginx.py). An LDAP admin's `ldappasswd` does not touch the store:
the gateway asks the directory again every [web] directory_check_seconds.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from ipynbsrv_tui.broker.server import system_actor
from ipynbsrv_tui.web.gateway import WebGateway
from ipynbsrv_tui.web.nginx_conf import Route
from tests.fixtures.slapd import SEED_USERS
from tests.integration.web_support import (
    Upstream,
    WebClient,
    free_port,
    remove_tree,
    require_nginx,
    runtime_root,
    wait_for_port,
)

pytestmark = [pytest.mark.ldap, pytest.mark.web]

CHECK_SECONDS = 1


@pytest.fixture
def ldap_web(slapd, ldap_directory_config):
    require_nginx()
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import close_database

    folder = runtime_root()
    port = free_port()
    config = ldap_directory_config.replace(
        broker={"socket": str(folder / "run" / "ipynbsrv.sock")},
        web={"enabled": True, "listen": f"127.0.0.1:{port}", "directory_check_seconds": CHECK_SECONDS},
    )
    service = build_service(config, mode="client-server")
    upstream = Upstream()
    routes = [Route("alice", "one", "127.0.0.1", upstream.port, "a" * 48)]
    gateway = WebGateway(service, config, system_actor(), poll_seconds=0.2, routes=lambda: list(routes))
    gateway.start()
    try:
        wait_for_port(port)
        yield port, config
    finally:
        gateway.stop()
        upstream.close()
        close_database()
        remove_tree(folder)


def ldap(slapd, command: list[str], stdin: str | None = None) -> None:
    """An LDAP admin's own tool, not ipynbsrv."""
    subprocess.run([*command, "-x", "-H", slapd.uri, "-D", slapd.admin_dn, "-w", slapd.admin_password],
                   input=stdin, text=True, check=True, capture_output=True, timeout=30)


def logged_in(port: int, password: str, source: str) -> WebClient:
    client = WebClient(port, source)
    assert client.login("alice", password).status == 303
    assert client.request("GET", "/user/alice/one/api/status").status == 200
    return client


def seconds_until_refused(client: WebClient, limit: float) -> float:
    started = time.monotonic()
    while client.request("GET", "/user/alice/one/api/status").status == 200:
        assert time.monotonic() - started < limit, f"the session still opens the notebook after {limit} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_password_changed_or_an_account_disabled_in_ldap_itself_ends_the_web_sessions(slapd, ldap_web):
    port, config = ldap_web
    dn = f"uid=alice,{config.directory.user_base}"
    client = logged_in(port, SEED_USERS["alice"].password, "127.0.6.1")
    time.sleep(CHECK_SECONDS + 0.5)  # asked again: nothing changed, the session stays
    assert client.request("GET", "/user/alice/one/api/status").status == 200

    ldap(slapd, ["ldappasswd", "-s", "changed-in-ldap", dn])
    took = seconds_until_refused(client, CHECK_SECONDS + 3)
    answer = client.request("GET", "/user/alice/one/api/status")
    assert answer.status == 302 and "/_ipynbsrv/login" in answer.headers["Location"]
    assert WebClient(port, "127.0.6.2").login("alice", SEED_USERS["alice"].password).status == 401

    client = logged_in(port, "changed-in-ldap", "127.0.6.3")  # the new password logs in
    ldap(slapd, ["ldapmodify"], f"dn: {dn}\nchangetype: modify\nreplace: shadowExpire\nshadowExpire: 1\n")
    took = max(took, seconds_until_refused(client, CHECK_SECONDS + 3))
    assert took <= CHECK_SECONDS + 1.5, took
