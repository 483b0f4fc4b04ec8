"""Web access end to end: the real broker runs the real nginx; Debian's chromium (headless, driven
by Selenium through the system chromedriver: nothing downloads a browser) logs in and runs a cell
in the real ipython3-notebook image on the engine (DESIGN §16).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from ipynbsrv_tui import cli
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Actor
from tests.e2e.browser_support import chromium, log_in, wait_for
from tests.fixtures.notebook_service import free_port_range
from tests.integration.web_support import WebClient, free_port, remove_tree, require_nginx, runtime_root

pytestmark = [pytest.mark.docker, pytest.mark.web, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
IMAGES = ("ipynbsrv/ipython3-notebook:latest", "ipynbsrv-test/ipython3-notebook:latest")
ROOT = Actor("root", 0, True, ())


@pytest.fixture(scope="module")
def notebook_image(engine, base_image, tmp_path_factory) -> str:
    """The real ipython3-notebook image: the one on the engine, else built from dockerfiles/."""
    for ref in IMAGES:
        if engine.image_exists(ref):
            return ref
    folder = tmp_path_factory.mktemp("web-images")
    config = folder / "config.toml"
    config.write_text(f'[database]\npath = "{folder / "db"}"\n[broker]\nsocket = "{folder / "absent.sock"}"\n'
                      f'[build]\ndockerfiles = "{REPO / "dockerfiles"}"\nbase_image = "{base_image}"\n'
                      'image_prefix = "ipynbsrv-test"\n')
    for image in ("base-ldap", "ipython3-notebook"):
        assert cli.main(["--config", str(config), "images", "build", image]) == 0, f"building {image} failed"
    return IMAGES[1]


class Site:
    """The running broker with web access, its service, and alice's running notebook."""

    def __init__(self, broker, service, port: int, view, folder: Path) -> None:
        self.broker, self.service, self.port, self.view, self.folder = broker, service, port, view, folder

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    @property
    def token(self) -> str:
        return self.view.token


@pytest.fixture(scope="module")
def site(notebook_image, docker_client):
    require_nginx()
    from ipynbsrv_tui.broker.server import BrokerServer
    from ipynbsrv_tui.service import build_service

    folder = runtime_root()
    port = free_port()
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")}, data={"root": str(folder / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 3},
        broker={"socket": str(folder / "run" / "ipynbsrv.sock"), "reconcile_interval": 0},
        web={"enabled": True, "listen": f"127.0.0.1:{port}"},
    )
    service = build_service(config, mode="client-server")
    # A uid of this run's own: the container is ipynbsrv-<uid>-web, and another run may be on the engine.
    service.create_user(ROOT, "alice", "alice-password", uid=30000 + os.getpid() % 20000)
    service.create_user(ROOT, "bob", "bob-password")
    service.register_image(ROOT, "ipython3", notebook_image, is_public=True)
    broker = BrokerServer(service, config)
    broker.start()
    view = None
    try:
        view = service.create_container(service.actor_for_username("alice"), "web", "ipython3")
        client = WebClient(port)
        assert client.login("alice", "alice-password").status == 303
        deadline = time.monotonic() + 120
        while client.request("GET", "/user/alice/web/api/status").status != 200:
            assert time.monotonic() < deadline, "the notebook never answered through nginx"
            time.sleep(0.3)
        yield Site(broker, service, port, view, folder)
    finally:
        broker.stop()
        if view is not None and view.docker_id:
            try:
                docker_client.api.remove_container(view.docker_id, force=True)
            except Exception:
                pass
        remove_tree(folder)


@pytest.fixture
def browser():
    yield from chromium()


@pytest.fixture
def sibling_browser():
    """A browser in which nb.example.test (the gateway) and evil.example.test (another origin of the
    same site, as a sibling subdomain is) both resolve to this host."""
    yield from chromium(
        "--host-resolver-rules=MAP nb.example.test 127.0.0.1, MAP evil.example.test 127.0.0.1"
    )


def type_into_cell(driver, code: str) -> bool:
    """Type into the first cell's editor; False when the notebook re-rendered it meanwhile (try again)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    try:
        editor = driver.find_element(By.CSS_SELECTOR, ".jp-Cell .cm-content")
        editor.click()
        editor.send_keys(code)
        return code in editor.text
    except WebDriverException:  # re-rendered or still covered while the notebook settles
        return False


def run_first_cell(driver, expected: str, attempts: int = 3) -> list[str]:
    """Shift+Enter in the first cell until its output shows `expected` (a keypress the page
    swallowed while it was still settling is pressed again)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def outputs() -> list[str]:
        return [
            e.text
            for e in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
            if expected in e.text
        ]

    for _ in range(attempts):
        try:
            driver.find_element(By.CSS_SELECTOR, ".jp-Cell .cm-content").click()
            ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
            return wait_for(outputs, 40, "the cell's output")
        except AssertionError:
            continue
    body = driver.find_element(By.TAG_NAME, "body").text
    raise AssertionError(f"the cell never printed {expected!r}; the page reads:\n{body[:1500]}")


def seen_by_the_browser(driver) -> tuple[list[str], list[str]]:
    """Every URL the browser requested or was redirected to, and every response body it can still give."""
    urls, bodies = [], []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
            redirect = params.get("redirectResponse")
            if redirect:
                urls.append(str(redirect.get("headers", {})))
        elif message["method"] == "Network.webSocketCreated":
            urls.append(params["url"])
        elif message["method"] == "Network.responseReceived":
            urls.append(params["response"]["url"])
            urls.append(str(params["response"].get("headers", {})))
            try:
                body = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": params["requestId"]})
                bodies.append(body.get("body", ""))
            except Exception:  # evicted from the browser's buffer, or no body (a redirect)
                pass
    return urls, bodies


def notebook_report(site, browser) -> str:
    """What the browser shows and what the engine says about alice's notebook, for a failure's message
    (a 503 is the gateway's own page: starting, resuming or not running, by the notebook's state)."""
    import docker

    lines = [f"browser at {browser.current_url}: {browser.find_element('tag name', 'body').text[:300]!r}",
             f"routes: {[(r.owner, r.name, r.port) for r in site.broker.web.routes]}"]
    try:
        container = docker.from_env().containers.get(site.view.docker_id)
        lines.append(f"engine: {container.attrs['State']}")
        lines.append(container.logs(tail=30).decode(errors="replace"))
    except Exception as exc:  # the report must not hide the failure it explains
        lines.append(f"engine: {exc!r}")
    return "\n".join(lines)


def test_log_in_run_a_cell_and_never_see_the_token(site, browser):
    from selenium.webdriver.common.by import By

    notebook = {
        "type": "notebook",
        "content": {
            "cells": [
                {"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None}
            ],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
    }
    browser.get(site.url("/user/alice/web/tree"))
    log_in(browser, "alice", "wrong-password")
    error = wait_for(lambda: browser.find_elements(By.ID, "error"), 20, "the refusal")
    assert "Wrong user name or password" in error[0].text
    assert "/_ipynbsrv/login" in browser.current_url
    log_in(browser, "alice", "alice-password")
    wait_for(lambda: browser.current_url == site.url("/user/alice/web/tree"), 30, "the notebook's tree page")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing"), 60, "Jupyter's file list")

    created = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '';
        fetch('/user/alice/web/api/contents/home/from-the-browser.ipynb', {method: 'PUT',
              headers: {'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf)},
              body: JSON.stringify(arguments[0])})
          .then(async r => done(r.status === 201 ? 201 : r.status + ' ' + (await r.text()).slice(0, 300)))
          .catch(e => done(String(e)));""", notebook)
    assert created == 201, f"{created}\n{notebook_report(site, browser)}"

    # The kernel is started and left to settle before the page opens it (on a busy host the page
    # would otherwise interrupt a kernel still importing its modules).
    started = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '';
        const headers = {'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf)};
        fetch('/user/alice/web/api/sessions', {method: 'POST', headers, body: JSON.stringify(
              {path: 'home/from-the-browser.ipynb', type: 'notebook', name: '', kernel: {name: 'python3'}})})
          .then(r => r.json()).then(s => done(s.kernel.id)).catch(e => done('error ' + e));""")
    assert not started.startswith("error"), started

    seen: list[tuple[float, str]] = []

    def kernel_settled() -> bool:
        """The kernel's last activity has not moved for 3 s (it reads "starting" until a page connects)."""
        activity = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/user/alice/web/api/kernels/' + arguments[0]).then(r => r.json())
              .then(k => done(String(k.last_activity))).catch(e => done('error'));""", started)
        if not seen or seen[-1][1] != activity:
            seen.append((time.monotonic(), activity))
        return activity not in ("error", "null", "undefined") and time.monotonic() - seen[-1][0] > 3

    wait_for(kernel_settled, 120, "the kernel to start")
    browser.get(site.url("/user/alice/web/notebooks/home/from-the-browser.ipynb"))
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-Cell .cm-content"), 90, "the cell editor")
    wait_for(lambda: type_into_cell(browser, "print('answer', 6 * 7)"), 30, "a cell that takes the code")
    output = run_first_cell(browser, "answer 42")
    assert output == ["answer 42"]

    urls, bodies = seen_by_the_browser(browser)
    assert any("/api/kernels/" in url and url.startswith("wss://") for url in urls), "no kernel websocket"
    assert len(bodies) > 5
    assert not [url for url in urls if site.token in url]
    assert not [body[:200] for body in bodies if site.token in body]
    assert site.token not in browser.page_source and site.token not in browser.current_url
    assert not [c for c in browser.get_cookies() if site.token in c["value"]]


def test_another_users_notebook_is_the_same_404_as_a_missing_one(site, browser):
    browser.get(site.url("/"))
    log_in(browser, "bob", "bob-password")
    wait_for(lambda: "Notebooks of bob" in browser.page_source, 20, "bob's notebook list")
    browser.get(site.url("/user/alice/web/tree"))
    other = browser.page_source
    browser.get(site.url("/user/alice/no-such-notebook/tree"))
    assert browser.page_source == other and "404: Not found" in other
    client = WebClient(site.port)
    client.login("bob", "bob-password")
    assert client.request("GET", "/user/alice/web/api/status").status == 404


def test_when_nginx_is_killed_it_is_back_the_broker_says_so_and_ssh_l_works_meanwhile(site, browser, caplog):
    from selenium.webdriver.common.by import By

    caplog.set_level(logging.INFO, logger="ipynbsrv.web")
    browser.get(site.url("/user/alice/web/tree"))
    log_in(browser, "alice", "alice-password")
    try:
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing"), 60, "Jupyter's file list")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{notebook_report(site, browser)}") from None
    supervisor = site.broker.web.supervisor
    old = supervisor.pid
    os.kill(old, signal.SIGKILL)
    direct = urllib.request.Request(f"http://127.0.0.1:{site.view.host_port}/user/alice/web/api/status",
                                    headers={"Authorization": f"token {site.token}"})
    with urllib.request.urlopen(direct, timeout=10) as answer:  # what `ssh -L` reaches: not through nginx
        assert answer.status == 200
    wait_for(lambda: supervisor.pid not in (None, old), 15, "a new nginx")
    browser.get(site.url("/user/alice/web/api/status"))
    try:
        wait_for(lambda: "started" in browser.page_source, 20, "the notebook through the new nginx")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{notebook_report(site, browser)}") from None
    messages = [record.getMessage() for record in caplog.records]
    assert any(f"nginx (pid {old}) killed by signal 9" in m for m in messages), messages
    assert any("nginx is back" in m for m in messages), messages


def test_routes_follow_the_notebook_through_stop_and_start(site):
    alice = site.service.actor_for_username("alice")
    client = WebClient(site.port, source="127.0.0.3")
    assert client.login("alice", "alice-password").status == 303
    site.service.stop_container(alice, site.view.id)
    stopped = wait_for(lambda: (r := client.request("GET", "/user/alice/web/tree")).status == 503 and r, 30,
                       "the route to go when the notebook stopped")
    assert "alice/web is not running" in stopped.text
    site.service.start_container(alice, site.view.id)
    wait_for(lambda: client.request("GET", "/user/alice/web/api/status").status == 200, 120,
             "the route to come back when the notebook started")


class HostilePage:
    """A page on another origin of the same site: https://evil.example.test:<port>/ (self-signed)."""

    def __init__(self, folder: Path) -> None:
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from ipynbsrv_tui.web.certs import make_self_signed

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = b"<!DOCTYPE html><html><body><h1>A page of evil.example.test</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        cert, key = make_self_signed(folder, "evil.example.test")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Runs in a page: POST to the notebook, then open the named terminal's websocket and type into it.
ATTACK = """
const [base, terminal, file] = [arguments[0], arguments[1], arguments[2]];
const done = arguments[arguments.length - 1];
const results = {};
(async () => {
  for (const [what, path, body] of [['kernel', '/api/kernels', '{}'],
                                    ['contents', '/api/contents/home', '{"type": "file", "ext": ".txt"}'],
                                    ['terminal', '/api/terminals', '{"name": "from-elsewhere"}']]) {
    try {
      await fetch(base + path, {method: 'POST', mode: 'no-cors', credentials: 'include',
                                headers: {'Content-Type': 'text/plain'}, body});
      results[what] = 'sent';
    } catch (e) { results[what] = String(e); }
  }
  results.websocket = await new Promise(resolve => {
    const ws = new WebSocket(base.replace('https:', 'wss:') + '/terminals/websocket/' + terminal);
    ws.onopen = () => { ws.send(JSON.stringify(['stdin', 'touch ~/' + file + '\\r']));
                        setTimeout(() => resolve('open'), 3000); };
    ws.onerror = () => resolve('refused');
    setTimeout(() => resolve('timeout'), 15000);
  });
  done(results);
})();
"""

# Runs in alice's own page: what Jupyter's own page does, with its _xsrf token.
OWN_PAGE = """
const [base, file] = [arguments[0], arguments[1]];
const done = arguments[arguments.length - 1];
const xsrf = decodeURIComponent((document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '');
const headers = {'Content-Type': 'application/json', 'X-XSRFToken': xsrf};
(async () => {
  const upload = await fetch(base + '/api/contents/home/uploaded.txt', {method: 'PUT', headers,
      body: JSON.stringify({type: 'file', format: 'text', content: 'uploaded from the page'})});
  const made = await fetch(base + '/api/terminals', {method: 'POST', headers, body: '{}'});
  const name = (await made.json()).name;
  const typed = await new Promise(resolve => {
    const ws = new WebSocket(base.replace('https:', 'wss:') + '/terminals/websocket/' + name);
    ws.onopen = () => { ws.send(JSON.stringify(['stdin', 'touch ~/' + file + '\\r']));
                        setTimeout(() => resolve('open'), 3000); };
    ws.onerror = () => resolve('refused');
    setTimeout(() => resolve('timeout'), 15000);
  });
  done({upload: upload.status, terminal: made.status, name, typed});
})().catch(e => done({error: String(e)}));
"""


def test_a_page_on_a_sibling_subdomain_cannot_use_a_logged_in_users_notebook(site, sibling_browser):
    """DESIGN §16 threat model: alice is logged in at nb.example.test; a page of evil.example.test
    (the same site, so her SameSite=Lax cookie goes along) tries the kernel, contents and terminal
    calls and a terminal's websocket. Each is refused before Jupyter; alice's own page keeps working."""
    from selenium.webdriver.common.by import By

    browser = sibling_browser
    gateway = f"https://nb.example.test:{site.port}"
    base = f"{gateway}/user/alice/web"
    home = site.service.data.home_of("alice")
    browser.get(f"{base}/tree")
    log_in(browser, "alice", "alice-password")
    wait_for(lambda: browser.current_url == f"{base}/tree", 30, "the notebook's tree page")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing"), 60, "Jupyter's file list")

    own = browser.execute_async_script(OWN_PAGE, base, "written-by-alice")
    assert own.get("upload") == 201 and own.get("terminal") == 200 and own.get("typed") == "open", own
    wait_for(lambda: (home / "written-by-alice").exists(), 20, "the file alice's terminal wrote")
    assert (home / "uploaded.txt").read_text() == "uploaded from the page"

    client = WebClient(site.port, source="127.0.0.4")
    assert client.login("alice", "alice-password").status == 303

    def listing(path: str) -> list:
        answer = client.request("GET", f"/user/alice/web/api/{path}")
        assert answer.status == 200, answer.status
        return json.loads(answer.text)

    kernels, terminals = listing("kernels"), listing("terminals")
    files = sorted(p.name for p in home.iterdir())
    evil = HostilePage(site.folder / "evil")
    try:
        browser.get(f"https://evil.example.test:{evil.port}/")
        assert "A page of evil.example.test" in browser.page_source
        results = browser.execute_async_script(ATTACK, base, own["name"], "written-from-elsewhere")
    finally:
        evil.close()
    assert results["websocket"] != "open", results
    time.sleep(2)
    assert listing("kernels") == kernels, "another origin started a kernel"
    assert [t["name"] for t in listing("terminals")] == [t["name"] for t in terminals], (
        "another origin made a terminal"
    )
    assert sorted(p.name for p in home.iterdir()) == files, "another origin wrote into alice's home"
    assert not (home / "written-from-elsewhere").exists()
