"""Container lifecycle, logs, events and engine failures on the real Docker Engine (issue 2, item 7)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import ipynbsrv_tui
from ipynbsrv_tui.domain import (
    ContainerSpec,
    ContainerState,
    EngineUnavailable,
    ImageMissing,
    Mount,
    NameInUse,
    NotFound,
    PortInUse,
)
from ipynbsrv_tui.engine import DockerEngine
from ipynbsrv_tui.engine.hardening import KEPT_CAPABILITIES

# Stops at once on SIGTERM (sh as PID 1 ignores TERM without a trap).
PATIENT = "sh -c 'echo ready; trap \"exit 0\" TERM; while :; do sleep 1; done'"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def owner() -> str:
    return f"ipynbsrv-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def spec_for(base_image, owner):
    """A ContainerSpec for a managed test container named after the (unique) owner."""

    def make(suffix: str = "nb", **changes) -> ContainerSpec:
        values = {
            "name": f"{owner}-{suffix}",
            "image": base_image,
            "labels": {
                "ipynbsrv.managed": "true",
                "ipynbsrv.owner": owner,
                "ipynbsrv.container": "42",
                "ipynbsrv.image": "debian-test",
            },
            "environment": {"OWNER": owner, "NOTEBOOK_PORT": "8888"},
            "command": PATIENT,
            "host_port": free_port(),
            "memory_bytes": 64 * 1024**2,
            "nano_cpus": 500_000_000,
            "pids_limit": 64,
        }
        values.update(changes)
        return ContainerSpec(**values)

    return make


@pytest.fixture
def cleanup(engine):
    """Containers and images a test registers here are removed afterwards."""
    made = {"containers": [], "images": []}
    yield made
    for container_id in made["containers"]:
        engine.remove(container_id, force=True)
    for ref in made["images"]:
        try:
            engine.remove_image(ref, force=True)
        except ImageMissing:
            continue


def collect_events(
    engine: DockerEngine, since: float, container_id: str, wanted: set[str], timeout: float = 20
) -> list[str]:
    """Actions of `container_id` from `since` on, until every wanted action was seen (or timeout)."""
    actions: list[str] = []
    stream = engine.events(since=since)
    timer = threading.Timer(timeout, stream.close)
    timer.start()
    try:
        for event in stream:
            if event.container_id == container_id:
                actions.append(event.action)
                if wanted <= set(actions):
                    break
    finally:
        timer.cancel()
        stream.close()
    return actions


@pytest.mark.docker
def test_container_lifecycle_with_labels_stable_port_and_events(engine, spec_for, owner, cleanup, tmp_path):
    since = time.time() - 1
    (tmp_path / "hello.txt").write_text("hi from the host")
    spec = spec_for(mounts=(Mount(str(tmp_path), "/data/test", read_only=True),))

    created = engine.create(spec)
    cleanup["containers"].append(created.id)
    assert (created.name, created.state, created.owner, created.store_id) == (
        spec.name,
        ContainerState.CREATED,
        owner,
        42,
    )
    assert created.labels["ipynbsrv.image"] == "debian-test"
    assert created.ports == {"8888/tcp": spec.host_port}
    host_config = engine.client.api.inspect_container(created.id)["HostConfig"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["CapDrop"] == ["ALL"] and set(host_config["CapAdd"]) == set(KEPT_CAPABILITIES)
    assert (host_config["Memory"], host_config["NanoCpus"], host_config["PidsLimit"]) == (
        64 * 1024**2,
        500_000_000,
        64,
    )
    assert host_config["PortBindings"]["8888/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(spec.host_port)}
    ]

    engine.start(created.id)
    running = engine.inspect(created.id)
    assert running.state is ContainerState.RUNNING and running.started_at is not None
    assert running.ports == {"8888/tcp": spec.host_port}
    assert engine.exec(created.id, ["cat", "/data/test/hello.txt"]) == (0, "hi from the host")
    assert engine.exec(created.id, ["sh", "-c", "echo $OWNER; exit 4"]) == (4, f"{owner}\n")

    with engine.follow_logs(created.id, tail=10) as follower:
        assert next(follower) == "ready"
        closer = threading.Timer(0.2, follower.close)
        closer.start()
        started = time.monotonic()
        assert list(follower) == []
        assert time.monotonic() - started < 3
    assert engine.logs(created.id) == ["ready"]
    stats = engine.stats(created.id)
    assert stats.memory_limit == 64 * 1024**2 and stats.pids >= 1 and stats.cpu_percent >= 0

    stopping = time.monotonic()
    engine.stop(created.id, timeout=5)
    assert time.monotonic() - stopping < 4, (
        "SIGTERM should stop the container, not the SIGKILL after the timeout"
    )
    stopped = engine.inspect(created.id)
    assert (stopped.state, stopped.exit_code) == (ContainerState.EXITED, 0)
    assert stopped.ports == {"8888/tcp": spec.host_port}

    engine.start(created.id)
    assert engine.inspect(created.id).ports == {"8888/tcp": spec.host_port}
    engine.restart(created.id, timeout=5)
    assert engine.inspect(created.id).ports == {"8888/tcp": spec.host_port}

    engine.pause(created.id)
    assert engine.inspect(created.id).state is ContainerState.PAUSED
    engine.unpause(created.id)
    assert engine.inspect(created.id).state is ContainerState.RUNNING

    snapshot = f"ipynbsrv-test/snapshot-{owner}:1"
    cleanup["images"].append(snapshot)
    image_id = engine.commit(created.id, snapshot, labels={"ipynbsrv.snapshot": "true"})
    image = engine.image(snapshot)
    assert image.id == image_id and snapshot in image.tags
    assert image.labels["ipynbsrv.snapshot"] == "true" and image.labels["ipynbsrv.owner"] == owner
    assert engine.inspect(created.id).state is ContainerState.RUNNING

    listed = engine.list_managed(owner=owner)
    assert [(c.id, c.name, c.state, c.ports) for c in listed] == [
        (created.id, spec.name, ContainerState.RUNNING, {"8888/tcp": spec.host_port})
    ]
    assert created.id in {c.id for c in engine.list_managed()}

    engine.remove(created.id)
    with pytest.raises(NotFound):
        engine.inspect(created.id)
    engine.remove(created.id)
    assert engine.list_managed(owner=owner) == []

    wanted = {"create", "start", "kill", "die", "stop", "restart", "pause", "unpause", "commit", "destroy"}
    actions = collect_events(engine, since, created.id, wanted)
    assert wanted <= set(actions), f"missing events: {wanted - set(actions)} (seen {actions})"
    assert actions[0] == "create" and actions[-1] == "destroy"


@pytest.mark.docker
def test_engine_failures_are_clear_domain_errors(engine, spec_for, cleanup):
    first = engine.create(spec_for("one"))
    cleanup["containers"].append(first.id)
    engine.start(first.id)

    with pytest.raises(NameInUse, match="Choose another name"):
        engine.create(spec_for("one"))

    taken = spec_for("two", host_port=first.ports["8888/tcp"])
    second = engine.create(taken)
    cleanup["containers"].append(second.id)
    with pytest.raises(PortInUse, match=f"host port {taken.host_port} is already in use"):
        engine.start(second.id)

    absent = f"ipynbsrv-test/absent-{uuid.uuid4().hex[:8]}:1"
    with pytest.raises(ImageMissing, match=f"Image {absent} is not present"):
        engine.create(spec_for("three", image=absent))
    with pytest.raises(ImageMissing):
        engine.image(absent)
    assert not engine.image_exists(absent)
    with pytest.raises(NotFound):
        engine.inspect(f"ipynbsrv-test-absent-{uuid.uuid4().hex[:8]}")
    assert engine.version()["api"]


@pytest.mark.parametrize("kind", ["missing", "refusing"])
def test_docker_host_at_a_dead_socket_is_a_clear_error_and_the_cli_prints_one_line(tmp_path, kind):
    path = tmp_path / "docker.sock"
    if kind == "refusing":
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path))  # bound but never listening: connections are refused
    url = f"unix://{path}"

    with pytest.raises(EngineUnavailable) as caught:
        DockerEngine.connect(url, timeout=5)
    message = str(caught.value)
    assert message.startswith(f"Cannot reach the Docker Engine at {url}: ")
    assert "DOCKER_HOST" in message and "\n" not in message

    env = {k: v for k, v in os.environ.items() if k != "IPYNBSRV_CONFIG"}
    env["DOCKER_HOST"] = url
    env["PYTHONPATH"] = str(Path(ipynbsrv_tui.__file__).resolve().parents[1])
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipynbsrv_tui.cli",
            "images",
            "bootstrap-base",
            "--tag",
            "ipynbsrv-test/never:1",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 2
    assert cli.stdout == ""
    assert cli.stderr.splitlines() == [f"ipynbsrv-tui: {message}"]
    if kind == "refusing":
        listener.close()
