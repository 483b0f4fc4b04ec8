"""The engine contract, proven the same way in both modes (DESIGN §5, §15; issue 23).

The same test functions run over the single-host engine (the shared Docker Engine) and over a
real two-node swarm (tests/fixtures/swarm_cluster.py), with the project's own `ipython3-notebook`
image built by the suite. One notebook per mode goes through its whole life, in file order:
create → starting → running (answers api/status with its token, Jupyter runs as the owner's uid),
a file written in the home is the owner's, stop, start, suspend (paused; memory non-zero), resume
(a kernel variable is kept), restart with a new share mount, logs, exec as the owner, commit,
and the owner's deletion with their containers and home archived (the notebook deleted).
A step that fails skips the later ones of its mode (they need it), so the report names the first.
"""

from __future__ import annotations

import json
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Actor, ContainerState, NotFound
from tests.integration.broker_support import free_port_range

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Actor("root", 0, True, ())
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Runs Python in the notebook's kernel through its connection file (as the owner, inside the container).
KERNEL_RUN = """
import sys
from jupyter_client import BlockingKernelClient
client = BlockingKernelClient(connection_file=sys.argv[1])
client.load_connection_file()
client.start_channels()
client.wait_for_ready(timeout=60)
out = []
def keep(message):
    if message["msg_type"] == "stream":
        out.append(message["content"]["text"])
reply = client.execute_interactive(sys.argv[2], timeout=60, output_hook=keep)
print("".join(out), end="")
sys.exit(0 if reply["content"]["status"] == "ok" else 1)
"""


@dataclass
class World:
    """One mode's service, its notebook, and what the steps learn on the way."""

    mode: str
    service: object
    data: Path
    host: str  # where the test reaches notebooks: loopback on one host, the node's address on a swarm
    notebook: int = 0
    kernel: str = ""
    owner_uid: int = 0
    committed: str = ""
    done: set[str] = field(default_factory=set)

    @property
    def engine(self):
        return self.service.engine

    def view(self):
        return self.service.get_container(ROOT, self.notebook)

    def status_url(self, view=None, token: bool = True) -> str:
        view = view or self.view()
        return (f"http://{self.host}:{view.host_port}/user/alice/nb/api/status"
                + (f"?token={view.token}" if token else ""))

    def exec_owner(self, script: str) -> tuple[int, str]:
        return self.engine.exec(self.view().docker_id, ["sh", "-c", script], user="alice")


def get(url: str, timeout: float = 3, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    try:
        with NO_PROXY.open(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def answers(world: World) -> bool:
    view = world.view()
    return view.state is ContainerState.RUNNING and get(world.status_url(view))[0] == 200


def _config(tmp: Path, **engine) -> Config:
    return Config().replace(
        database={"path": str(tmp / "state" / "ipynbsrv.db")},
        data={"root": str(tmp / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 5, "memory": "512m", "cpus": 1.0},
        **engine,
    )


@pytest.fixture(
    scope="module", params=["docker", pytest.param("swarm", marks=[pytest.mark.swarm, pytest.mark.host])]
)
def world(request, tmp_path_factory, docker_client, real_notebook_image):
    from ipynbsrv_tui.service import build_service

    tmp = tmp_path_factory.mktemp(f"conformance-{request.param}")
    if request.param == "swarm":
        cluster = request.getfixturevalue("swarm_cluster")
        request.getfixturevalue("swarm_notebook_image")
        config = _config(tmp, docker={"url": cluster.manager.url}, engine={"mode": "swarm"},
                         registry={"url": cluster.registry},
                         swarm={"constraints": ("node.labels.ipynbsrv.node==worker",), "start_timeout": 120,
                                "node_engines": (f"worker={cluster.worker.url}",)})
        host = cluster.worker.address
    else:
        config = _config(tmp)
        host = "127.0.0.1"
    service = build_service(config)
    service.create_user(ROOT, "alice", "alice-password", display_name="Alice")
    defaults = service.image_defaults(ROOT, real_notebook_image)
    service.register_image(ROOT, "py3", real_notebook_image, command=defaults.command,
                           notebook_port=defaults.notebook_port, is_public=True)
    made = World(request.param, service, tmp / "data", host)
    yield made
    _clean_up(made, docker_client)


def _clean_up(world: World, docker_client) -> None:
    from ipynbsrv_tui.store.models import Container

    for (docker_id,) in Container.select(Container.docker_id).tuples():
        try:
            world.engine.remove(docker_id, force=True)
        except Exception:  # already gone
            pass
    if world.committed:
        try:
            world.engine.remove_image(world.committed, force=True)
        except Exception:  # already gone
            pass
    world.engine.close()


@pytest.fixture
def step(world, request):
    """Runs a step only when the ones it needs passed; records it as done when it passes."""
    needs = request.node.get_closest_marker("needs")
    missing = [name for name in (needs.args if needs else ()) if name not in world.done]
    if missing:
        pytest.skip(f"{world.mode}: needs the earlier step(s) {', '.join(missing)}")
    yield world
    world.done.add(request.node.originalname.removeprefix("test_"))


def test_create(step):
    """create → starting → running: Jupyter answers api/status with the token (403 without) as the owner."""
    world = step
    started = time.monotonic()
    view = world.service.create_container(ROOT, "nb", "py3", owner="alice")
    world.notebook = view.id
    assert view.up and view.state is ContainerState.STARTING
    wait_for(lambda: answers(world), 180, f"{world.mode}: the notebook answers and reads running")
    print(f"{world.mode}: create -> answers: {time.monotonic() - started:.1f} s")
    status, body = get(world.status_url())
    assert status == 200 and "started" in json.loads(body)
    assert get(world.status_url(token=False))[0] == 403
    code, output = world.exec_owner("id -u; ps -o uid= -p $(pgrep -f jupyter-notebook | head -1)")
    uid, jupyter_uid = output.split()
    world.owner_uid = int(uid)
    assert code == 0 and int(jupyter_uid) == world.owner_uid != 0


@pytest.mark.needs("create")
def test_home_file(step):
    world = step
    code, output = world.exec_owner("echo mine > ~/conformance.txt && stat -c %u ~/conformance.txt")
    assert (code, output.strip()) == (0, str(world.owner_uid))
    on_host = world.data / "homes" / "alice" / "conformance.txt"
    assert on_host.read_text() == "mine\n" and on_host.stat().st_uid == world.owner_uid


@pytest.mark.needs("create")
def test_stop_start(step):
    world = step
    stopped = world.service.stop_container(ROOT, world.notebook)
    assert stopped.state is ContainerState.EXITED and not stopped.up
    with pytest.raises(OSError):
        get(world.status_url(stopped), timeout=2)
    again = world.service.start_container(ROOT, world.notebook)
    assert again.up and again.host_port == stopped.host_port
    wait_for(lambda: answers(world), 180, f"{world.mode}: the started notebook answers")


@pytest.mark.needs("stop_start")
def test_suspend_resume(step):
    """Suspended: paused, memory reported non-zero; resumed: a kernel variable is still there."""
    world = step
    status, body = get(world.status_url().replace("api/status", "api/kernels"), method="POST", timeout=30)
    assert status == 201, body
    world.kernel = json.loads(body)["id"]
    connection = f"/tmp/jupyter-runtime-{world.owner_uid}/kernel-{world.kernel}.json"
    run = f"/opt/notebook/bin/python -c '{KERNEL_RUN}' {connection}"
    code, output = world.exec_owner(f"{run} 'x = 6 * 7'")
    assert code == 0, output
    suspended = world.service.suspend_container(ROOT, world.notebook)
    assert suspended.state is ContainerState.PAUSED
    memory = world.service.suspended_memory(ROOT)
    assert memory.count == 1 and memory.bytes > 10 * 2**20, memory  # Jupyter and a kernel: tens of MB
    resumed = world.service.resume_container(ROOT, world.notebook)
    assert resumed.state is ContainerState.RUNNING
    code, output = world.exec_owner(f"{run} 'print(x)'")
    assert (code, output.strip()) == (0, "42")


@pytest.mark.needs("stop_start")
def test_restart_with_share(step):
    """A share made after the notebook: the restart mounts it at /data/shares/NAME, writable by the owner."""
    world = step
    alice = world.service.actor_for_username("alice")
    world.service.create_share(alice, "thesis")
    code, output = world.exec_owner("test -e /data/shares/thesis && echo there || echo absent")
    assert output.strip() == "absent"
    restarted = world.service.restart_container(ROOT, world.notebook)
    assert restarted.up
    wait_for(lambda: answers(world), 180, f"{world.mode}: the restarted notebook answers")
    code, output = world.exec_owner("echo ours > /data/shares/thesis/x.txt && cat /data/shares/thesis/x.txt")
    assert (code, output.strip()) == (0, "ours")
    assert (world.data / "shares" / "thesis" / "x.txt").read_text() == "ours\n"


@pytest.mark.needs("create")
def test_logs(step):
    lines = step.service.container_logs(ROOT, step.notebook)
    assert any("Jupyter Server" in line and "is running at" in line for line in lines), lines[-20:]


@pytest.mark.needs("create")
def test_exec_as_owner(step):
    code, output = step.exec_owner("id -un; touch /root/x 2>&1 || echo refused")
    assert code == 0 and output.splitlines()[0] == "alice" and "refused" in output


@pytest.mark.needs("create")
def test_commit(step):
    world = step
    alice = world.service.actor_for_username("alice")
    image = world.service.commit_container(alice, world.notebook, "mine", description="committed")
    assert world.engine.image_exists(image.ref)
    world.committed = image.ref


@pytest.mark.needs("create")
def test_delete_and_archive(step):
    """Deleting the owner with containers and data archived: the notebook goes, its export and the
    home are in archive/, the home file with them."""
    world = step
    engine_id = world.view().docker_id
    report = world.service.delete_user(ROOT, "alice", containers="archive", data="archive")
    with pytest.raises(NotFound):
        world.engine.inspect(engine_id)
    exported, home = sorted(report.archived, key=lambda path: "-data" in path)
    with tarfile.open(exported) as tar:  # the notebook's whole file system: its first entry will do
        assert tar.next() is not None
    with tarfile.open(home) as tar:
        names = tar.getnames()
    assert any(name.endswith("alice/conformance.txt") for name in names), names[:20]
