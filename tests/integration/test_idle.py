"""Readiness and the idle policy in tiers (DESIGN §5, §10) on the real engine with the real notebook
image (dockerfiles/ipython3-notebook): a kernel variable survives suspend and resume, the second
tier stops a notebook that stays suspended, a busy kernel is never idle.

Most culling rounds are run with `now` moved forward instead of waiting out the thresholds;
everything else (Jupyter's own last activity, its kernels, pause/unpause/stop) is real. Coming
back (DESIGN §12) is tested with real time passing: the broker's own culling loop runs every two
seconds with a short `idle_timeout` while the test watches the engine.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from ipynbsrv_tui import cli
from ipynbsrv_tui.domain import ContainerState
from ipynbsrv_tui.web.gateway import WebGateway
from tests.fixtures.kernel_channel import KernelChannel
from tests.fixtures.notebook_service import free_port_range

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = ("ipynbsrv/ipython3-notebook:latest", "ipynbsrv-test/ipython3-notebook:latest")
IDLE = 60
SUSPENDED_STOP_AFTER = 120


@pytest.fixture(scope="module")
def notebook_image(docker_client, engine, base_image, tmp_path_factory) -> str:
    """The real notebook image: the one on the engine, else built from dockerfiles/ (layer cache)."""
    import docker.errors

    for ref in CANDIDATES:
        try:
            docker_client.images.get(ref)
            return ref
        except docker.errors.ImageNotFound:
            continue
    folder = tmp_path_factory.mktemp("idle-build")
    config = folder / "config.toml"
    config.write_text(
        f'[database]\npath = "{folder / "build.db"}"\n[broker]\nsocket = "{folder / "absent.sock"}"\n'
        f'[build]\ndockerfiles = "{REPO / "dockerfiles"}"\n'
        f'base_image = "{base_image}"\nimage_prefix = "ipynbsrv-test"\n'
    )
    assert cli.main(["--config", str(config), "images", "build", "ipython3-notebook"]) == 0
    return CANDIDATES[1]


@pytest.fixture
def service_config(tmp_path, request):
    """IDLE and SUSPENDED_STOP_AFTER; a test parametrized indirectly with a number gets that
    `idle_timeout` and no second tier."""
    from ipynbsrv_tui.config import Config

    idle = getattr(request, "param", IDLE)
    return Config().replace(
        database={"path": str(tmp_path / "state" / "ipynbsrv.db")},
        data={"root": str(tmp_path / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 5, "idle_timeout": idle,
                   "idle_action": "suspend",
                   "suspended_stop_after": SUSPENDED_STOP_AFTER if idle == IDLE else 0},
    )


@pytest.fixture
def notebook(notebook_service, root_actor, people, notebook_image):
    """A function making a running notebook of alice's and waiting until it reads `running`."""
    defaults = notebook_service.image_defaults(root_actor, notebook_image)
    notebook_service.register_image(root_actor, "py3", notebook_image, command=defaults.command,
                                    notebook_port=defaults.notebook_port, is_public=True)

    def make(name: str):
        view = notebook_service.create_container(people["alice"], name, "py3")
        assert view.state == ContainerState.STARTING and not view.ready, (
            "Jupyter cannot answer within the create"
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            view = notebook_service.get_container(people["alice"], view.id)
            if view.state == ContainerState.RUNNING:
                break
            time.sleep(0.1)
        assert view.state == ContainerState.RUNNING and view.ready, "the start's watcher saw Jupyter answer"
        assert _request(view, "GET", "api/status")[0] == 200
        return view

    return make


def _request(view, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    base = view.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
    connection = http.client.HTTPConnection("127.0.0.1", view.host_port, timeout=30)
    try:
        connection.request(method, f"/{base}{path}", body=json.dumps(body) if body is not None else None,
                           headers={"Authorization": f"token {view.token}"})
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        connection.close()


def _channel(view, kernel_id: str) -> KernelChannel:
    base = "/" + view.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
    return KernelChannel(SimpleNamespace(base_url=base, port=view.host_port, token=view.token), kernel_id)


def _engine_status(docker_client, view) -> str:
    return docker_client.api.inspect_container(view.docker_id)["State"]["Status"]


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_idle_notebook_is_suspended_keeps_its_kernel_on_return_and_the_second_tier_stops_it(
        notebook_service, root_actor, people, notebook, docker_client):
    alice = people["alice"]
    view = notebook("lab")
    status, kernel = _request(view, "POST", "api/kernels", {"name": "python3"})
    assert status == 201
    with _channel(view, kernel["id"]) as channel:
        channel.execute("answer = 41 + 1")

    assert (
        notebook_service.cull_idle(root_actor, now=_later(IDLE / 2)).suspended == ()
    )  # not idle long enough
    report = notebook_service.cull_idle(root_actor, now=_later(IDLE + 5))
    assert [line.split(":")[0] for line in report.suspended] == ["alice/lab"] and report.stopped == ()
    assert _engine_status(docker_client, view) == "paused"
    assert notebook_service.get_container(alice, view.id).state == ContainerState.PAUSED
    assert notebook_service.suspended_memory(root_actor).count == 1
    assert notebook_service.suspended_memory(root_actor).bytes > 10 * 1024**2, (
        "a paused Jupyter holds its memory"
    )

    # The owner comes back: their login resumes it, and the kernel still holds the variable.
    started = time.perf_counter()
    resumed = notebook_service.resume_suspended(alice)
    assert [v.id for v in resumed] == [view.id] and resumed[0].state == ContainerState.RUNNING
    assert _request(view, "GET", "api/status")[0] == 200
    assert time.perf_counter() - started < 1.0
    with _channel(view, kernel["id"]) as channel:
        assert channel.execute("print(answer)").strip() == "42"

    # Suspended again, then left suspended past suspended_stop_after: the second tier stops it.
    notebook_service.cull_idle(root_actor, now=_later(IDLE + 5))
    assert _engine_status(docker_client, view) == "paused"
    assert notebook_service.cull_idle(root_actor, now=_later(SUSPENDED_STOP_AFTER / 2)).stopped == ()
    report = notebook_service.cull_idle(root_actor, now=_later(SUSPENDED_STOP_AFTER + 5))
    assert [line.split(":")[0] for line in report.stopped] == ["alice/lab"]
    assert _engine_status(docker_client, view) == "exited"
    assert notebook_service.get_container(alice, view.id).state == ContainerState.EXITED
    assert notebook_service.resume_suspended(alice) == [], (
        "a stopped notebook is started as usual, not resumed"
    )
    assert notebook_service.start_container(alice, view.id).state == ContainerState.STARTING


def test_a_busy_kernel_is_never_idle(notebook_service, root_actor, notebook, docker_client):
    view = notebook("busy")
    status, kernel = _request(view, "POST", "api/kernels", {"name": "python3"})
    assert status == 201
    channel = _channel(view, kernel["id"])
    finished = threading.Event()

    def compute() -> None:
        try:
            channel.execute("import time; time.sleep(8)", timeout=60)
        finally:
            finished.set()

    threading.Thread(target=compute, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            kernels = _request(view, "GET", "api/kernels")[1]
            if any(k["execution_state"] == "busy" for k in kernels):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the kernel never reported busy")
        # An hour later by the clock, Jupyter's last_activity is old, but the kernel is computing.
        assert notebook_service.cull_idle(root_actor, now=_later(3600)).suspended == ()
        assert _engine_status(docker_client, view) == "running"
        assert finished.wait(60)
    finally:
        channel.sock.close()
    # Done computing: now the same round suspends it.
    assert [
        line.split(":")[0] for line in notebook_service.cull_idle(root_actor, now=_later(3600)).suspended
    ] == ["alice/busy"]
    assert _engine_status(docker_client, view) == "paused"


def test_a_start_behind_our_back_reads_starting_then_running_in_a_watch(notebook_service, people, notebook,
                                                                        docker_client):
    alice = people["alice"]
    view = notebook("outside")
    notebook_service.stop_container(alice, view.id)
    watch = notebook_service.watch_containers(alice)
    states: list[tuple[str, ContainerState]] = []

    def read() -> None:
        for change in watch:
            if change.view is not None:
                states.append((change.action, change.view.state))
                if change.view.state == ContainerState.RUNNING:
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    docker_client.api.start(view.docker_id)  # not through the service: e.g. `docker start` by hand
    reader.join(120)
    watch.close()
    assert ("start", ContainerState.STARTING) in states, states
    assert states[-1] == ("ready", ContainerState.RUNNING), states


# --------------------------------------------------------------------------- coming back, in real time

SHORT = 6  # idle_timeout of the real-time tests: the broker's culling loop runs every 2 s


@pytest.fixture
def culling(notebook_service, service_config):
    """The broker's own background loops (culling every SHORT / 3 s) on the test's service."""
    from ipynbsrv_tui.broker.background import BackgroundLoops
    from ipynbsrv_tui.broker.server import system_actor

    loops = BackgroundLoops(notebook_service, service_config, system_actor(), threading.Event())
    assert loops.culling_seconds == SHORT / 3
    loops.start()
    yield loops
    loops.stop()


def _wait_status(docker_client, view, status: str, within: float) -> float:
    """The monotonic time at which the engine reports `status` (polled every 0.1 s)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _engine_status(docker_client, view) == status:
            return time.monotonic()
        time.sleep(0.1)
    pytest.fail(f"{view.name} did not become {status} within {within} s")


def _stays_up_for_idle_timeout(docker_client, view, resumed_at: float) -> float:
    """Running through most of idle_timeout after its resume (several culling rounds pass), paused
    again only once a full idle_timeout has gone by without activity; how long it stayed up."""
    while time.monotonic() < resumed_at + SHORT - 0.5:
        status = _engine_status(docker_client, view)
        assert status == "running", f"{status} again {time.monotonic() - resumed_at:.1f} s after its resume"
        time.sleep(0.2)
    paused_at = _wait_status(docker_client, view, "paused", SHORT * 4)
    assert paused_at - resumed_at >= SHORT, "suspended before a full idle_timeout without activity"
    return paused_at - resumed_at


@pytest.mark.parametrize("service_config", [SHORT], indirect=True)
def test_a_resumed_notebook_stays_resumed_for_a_full_idle_timeout(
        notebook_service, people, root_actor, notebook, docker_client, culling):
    alice, carol = people["alice"], people["carol"]
    view = notebook("thesis")
    status, kernel = _request(view, "POST", "api/kernels", {"name": "python3"})
    assert status == 201
    with _channel(view, kernel["id"]) as channel:
        channel.execute("answer = 41 + 1")
    _wait_status(docker_client, view, "paused", SHORT * 4)  # left alone: the loop suspends it

    resumes = {
        "login": lambda: notebook_service.resume_suspended(alice),
        "u": lambda: notebook_service.resume_container(alice, view.id),
        "admin": lambda: notebook_service.resume_container(carol, view.id),
        # What the web does for the owner's request of a paused notebook (the HTTP path through
        # nginx: tests/integration/test_web_nginx.py).
        "web": lambda: WebGateway(notebook_service, notebook_service.config, root_actor).resume(
            alice, "alice", "thesis"),
    }
    for how, resume in resumes.items():
        time.sleep(SHORT / 2)  # paused a while: Jupyter's own last activity is older still
        assert _engine_status(docker_client, view) == "paused", how
        resumed_at = time.monotonic()
        resume()
        up = _stays_up_for_idle_timeout(docker_client, view, resumed_at)
        assert up < SHORT + 3 * culling.culling_seconds, f"resumed by {how}, then never idle again"
    notebook_service.resume_container(alice, view.id)
    with _channel(view, kernel["id"]) as channel:
        assert channel.execute("print(answer)").strip() == "42", "the kernel survived four suspensions"


@pytest.mark.parametrize("service_config", [SHORT], indirect=True)
def test_an_owner_who_is_present_keeps_their_notebook_from_suspension(
        notebook_service, people, notebook, docker_client, culling):
    view = notebook("present")
    seen = {"alice": datetime.now(UTC), "bob": datetime.now(UTC)}

    def presence():  # as the broker says it: alice's TUI is open until `left` (bob's is, all along)
        seen["bob"] = datetime.now(UTC)
        if not left.is_set():
            seen["alice"] = datetime.now(UTC)
        return dict(seen)

    left = threading.Event()
    culling.presence = presence
    started = time.monotonic()
    while time.monotonic() < started + 3 * SHORT:
        assert _engine_status(docker_client, view) == "running", "suspended while its owner is logged in"
        time.sleep(0.2)
    gone_at = time.monotonic()
    seen["alice"] = datetime.now(UTC)  # as the broker records the moment her live view closed
    left.set()  # alice logs out: from now on only someone else is present, which does not count
    assert _stays_up_for_idle_timeout(docker_client, view, gone_at) >= SHORT
