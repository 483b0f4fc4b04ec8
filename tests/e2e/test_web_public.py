"""Public folders in a real browser: a user's page with script, opened by another user who is
logged in, runs none of it (DESIGN §16, issue 27 item 8).

The gateway is the broker's (real nginx, the login on its Unix socket); the notebooks are
loopback stand-ins that record every request nginx forwards, so the test sees whether the page
reached bob's notebook. Debian's chromium, headless, through the system chromedriver.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ipynbsrv_tui.broker.server import system_actor
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Actor
from ipynbsrv_tui.web.gateway import WebGateway
from ipynbsrv_tui.web.nginx_conf import Route
from tests.e2e.browser_support import chromium, log_in, wait_for
from tests.integration.web_support import (
    Upstream,
    free_port,
    remove_tree,
    require_nginx,
    runtime_root,
    wait_for_port,
)

pytestmark = pytest.mark.web

ROOT = Actor("root", 0, True, ())

# What a hostile page in alice's public folder tries, in the browser of bob, who is logged in.
EVIL_PAGE = """<!doctype html>
<html><head><title>course page</title></head>
<body><p id="shown">Course notes</p>
<script>
document.title = "script ran";
try { document.title += "; cookies: " + document.cookie; }
catch (e) { document.title += "; cookies refused"; }
fetch("/user/bob/one/api/contents", {credentials: "include"})
  .then(r => r.text()).then(t => { document.title += "; read: " + t; }).catch(e => {});
fetch("/user/bob/one/api/kernels", {method: "POST", credentials: "include", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: "{}"}).catch(e => {});
try { new WebSocket("wss://" + location.host + "/user/bob/one/api/terminals/websocket/1"); } catch (e) {}
</script></body></html>
"""


@pytest.fixture
def public_site():
    require_nginx()
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import close_database

    folder = runtime_root()
    port = free_port()
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")}, data={"root": str(folder / "data")},
        broker={"socket": str(folder / "run" / "ipynbsrv.sock")},
        web={"enabled": True, "listen": f"127.0.0.1:{port}", "public_folders": True},
    )
    service = build_service(config, mode="client-server")
    service.create_user(ROOT, "alice", "alice-password")
    service.create_user(ROOT, "bob", "bob-password")
    bob = Upstream()
    routes = [Route("bob", "one", "127.0.0.1", bob.port, "b" * 48)]
    gateway = WebGateway(service, config, system_actor(), poll_seconds=0.2, routes=lambda: list(routes))
    gateway.start()
    try:
        wait_for_port(port)
        yield port, Path(config.data.root) / "public", bob
    finally:
        gateway.stop()
        bob.close()
        close_database()
        remove_tree(folder)


@pytest.fixture
def browser():
    yield from chromium()


def test_a_public_page_with_script_cannot_read_a_visitors_session_or_reach_their_notebook(
    public_site, browser
):
    from selenium.webdriver.common.by import By

    port, public, bob = public_site
    page = public / "alice" / "evil.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(EVIL_PAGE)
    page.chmod(0o644)
    page.parent.chmod(0o755)
    site = f"https://127.0.0.1:{port}"

    browser.get(f"{site}/user/bob/one/api/status")
    log_in(browser, "bob", "bob-password")
    wait_for(lambda: "hello from /user/bob/one/api/status" in browser.page_source, 20, "bob's notebook")
    before = len(bob.requests)

    browser.get(f"{site}/public/alice/evil.html")
    wait_for(lambda: browser.find_elements(By.ID, "shown"), 20, "alice's public page")
    time.sleep(2.0)  # what the script would do, it has done by now
    assert browser.title == "course page", browser.title
    assert bob.requests[before:] == [], [r["path"] for r in bob.requests[before:]]

    # bob's session was there all along: the same request from his own tab still reaches his notebook.
    browser.get(f"{site}/user/bob/one/api/contents")
    wait_for(
        lambda: "hello from /user/bob/one/api/contents" in browser.page_source, 20, "bob's notebook again"
    )
