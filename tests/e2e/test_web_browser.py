"""Web access end to end: the real broker runs the real nginx; Debian's chromium (headless, driven
by Selenium through the system chromedriver: nothing downloads a browser) logs in and runs a cell
in the real ipython3-notebook image on the engine (DESIGN §16).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from ipynbsrv_tui import cli
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Actor
from tests.fixtures.notebook_service import free_port_range
from tests.fixtures.services import unavailable
from tests.integration.web_support import WebClient, free_port, remove_tree, require_nginx, runtime_root

pytestmark = [pytest.mark.docker, pytest.mark.web, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
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
    service.create_user(ROOT, "alice", "alice-password")
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
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        unavailable("web", "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ipynbsrv-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--ignore-certificate-errors", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Network.enable", {})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def log_in(driver, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(lambda: "/_ipynbsrv/login" in driver.current_url, 20, "the login page")
    driver.find_element(By.ID, "username").clear()
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()


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
        return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output") if expected in e.text]

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


def test_log_in_run_a_cell_and_never_see_the_token(site, browser):
    from selenium.webdriver.common.by import By

    notebook = {"type": "notebook", "content": {
        "cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}}
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
        fetch('/user/alice/web/api/contents/home/from-the-browser.ipynb', {method: 'PUT',
              headers: {'Content-Type': 'application/json'}, body: JSON.stringify(arguments[0])})
          .then(r => done(r.status)).catch(e => done(String(e)));""", notebook)
    assert created == 201, created

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
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing"), 60, "Jupyter's file list")
    supervisor = site.broker.web.supervisor
    old = supervisor.pid
    os.kill(old, signal.SIGKILL)
    direct = urllib.request.Request(f"http://127.0.0.1:{site.view.host_port}/user/alice/web/api/status",
                                    headers={"Authorization": f"token {site.token}"})
    with urllib.request.urlopen(direct, timeout=10) as answer:  # what `ssh -L` reaches: not through nginx
        assert answer.status == 200
    wait_for(lambda: supervisor.pid not in (None, old), 15, "a new nginx")
    browser.get(site.url("/user/alice/web/api/status"))
    wait_for(lambda: "started" in browser.page_source, 20, "the notebook through the new nginx")
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
