"""Readiness and the idle policy in tiers (DESIGN §5, §10) on the real engine with the real notebook
image (dockerfiles/ipython3-notebook): a kernel variable survives suspend and resume, the second
tier stops a notebook that stays suspended, a busy kernel is never idle.

Culling rounds are run with `now` moved forward instead of waiting out the thresholds; everything
else (Jupyter's own last activity, its kernels, pause/unpause/stop) is real.
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
from tests.fixtures.notebook_service import free_port_range
from tests.integration.test_images import KernelChannel

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
    config.write_text(f'[database]\npath = "{folder / "build.db"}"\n[broker]\nsocket = "{folder / "absent.sock"}"\n'
                      f'[build]\ndockerfiles = "{REPO / "dockerfiles"}"\n'
                      f'base_image = "{base_image}"\nimage_prefix = "ipynbsrv-test"\n')
    assert cli.main(["--config", str(config), "images", "build", "ipython3-notebook"]) == 0
    return CANDIDATES[1]


@pytest.fixture
def service_config(tmp_path):
    from ipynbsrv_tui.config import Config

    return Config().replace(
        database={"path": str(tmp_path / "state" / "ipynbsrv.db")},
        data={"root": str(tmp_path / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 5, "idle_timeout": IDLE,
                   "idle_action": "suspend", "suspended_stop_after": SUSPENDED_STOP_AFTER},
    )


@pytest.fixture
def notebook(notebook_service, root_actor, people, notebook_image):
    """A function making a running notebook of alice's and waiting until it reads `running`."""
    defaults = notebook_service.image_defaults(root_actor, notebook_image)
    notebook_service.register_image(root_actor, "py3", notebook_image, command=defaults.command,
                                    notebook_port=defaults.notebook_port, is_public=True)

    def make(name: str):
        view = notebook_service.create_container(people["alice"], name, "py3")
        assert view.state == ContainerState.STARTING and not view.ready, "Jupyter cannot answer within the create"
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

    assert notebook_service.cull_idle(root_actor, now=_later(IDLE / 2)).suspended == ()  # not idle long enough
    report = notebook_service.cull_idle(root_actor, now=_later(IDLE + 5))
    assert [line.split(":")[0] for line in report.suspended] == ["alice/lab"] and report.stopped == ()
    assert _engine_status(docker_client, view) == "paused"
    assert notebook_service.get_container(alice, view.id).state == ContainerState.PAUSED
    assert notebook_service.suspended_memory(root_actor).count == 1
    assert notebook_service.suspended_memory(root_actor).bytes > 10 * 1024**2, "a paused Jupyter holds its memory"

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
    assert notebook_service.resume_suspended(alice) == [], "a stopped notebook is started as usual, not resumed"
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
    assert [line.split(":")[0] for line in notebook_service.cull_idle(root_actor, now=_later(3600)).suspended] == [
        "alice/busy"]
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
