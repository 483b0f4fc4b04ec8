"""Swarm mode (DESIGN §12, §15), on a real two-node swarm made like the tests' (network namespaces).

1. Create → the notebook answers HTTP: our swarm-mode create_container (service, scale to one,
   wait for the task) against a bare `docker service create --detach` of the same image with the
   same environment, host-mode published port and constraint, both on the worker. Both are timed
   until `GET {BASE_URL}api/status` with the token answers 200 at the worker's address. They
   alternate (which goes first alternates too); medians of --runs (≥ 5) pairs; budget ≤ 1.1 × bare.
2. Reconcile of 1,000 notebook services (no replicas; rows in the store): budget ≤ 1 s.

Needs root, iproute2, nsenter, dockerd and docker-registry, and the shared engine at DOCKER_HOST
to build the fake notebook image; prints a skip line otherwise. Prints `figure, measured, budget`
lines; exits 1 when a budget is missed.

    .venv/bin/python benchmarks/bench_swarm.py [--runs 5] [--services 1000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_spawn import wait_until_answers  # noqa: E402
from tests.fixtures.swarm_cluster import ClusterError, SwarmCluster  # noqa: E402
from tests.integration.broker_support import free_port_range  # noqa: E402

BUDGET_RATIO = 1.1
BUDGET_RECONCILE_S = 1.0
FAKE_NOTEBOOK = REPO / "tests" / "integration" / "fake_notebook"


def figure(name: str, measured: str, budget: str = "-") -> None:
    print(f"{name}, {measured}, {budget}", flush=True)


def wait_port_free(host: str, port: int) -> None:
    """A removed service's task stops a moment later: wait until its port is closed."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(host, port, timeout=1)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
        except OSError:
            return
        except http.client.HTTPException:
            pass
        finally:
            connection.close()
        time.sleep(0.05)


def make_service(cluster: SwarmCluster, folder: Path, image: str, constraint: str):
    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.domain import Actor
    from ipynbsrv_tui.service import build_service

    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")},
        data={"root": str(folder / "data")},
        docker={"url": cluster.manager.url},
        engine={"mode": "swarm"},
        registry={"url": cluster.registry},
        notebooks={"port_range": free_port_range(), "stop_timeout": 3},
        swarm={"constraints": (constraint,)},
    )
    root = Actor("root", 0, True, ())
    service = build_service(config)
    service.create_user(root, "alice", "alice-password", display_name="Alice")
    service.register_image(root, "fake", image, description="fake notebook", is_public=True)
    return service, root


def ours(service, root, number: int) -> float:
    started = time.perf_counter()
    view = service.create_container(root, f"nb{number}", "fake", owner="alice")
    address = urllib.parse.urlsplit(view.url)
    host = address.hostname or ""
    seconds = wait_until_answers(view.host_port, f"{address.path}api/status", view.token, started, host=host)
    service.delete_container(root, view.id)
    wait_port_free(host, view.host_port)
    return seconds


def bare(cluster: SwarmCluster, image: str, port: int, constraint: str, number: int) -> float:
    token = secrets.token_hex(24)
    name = f"bench-bare-{number}-{secrets.token_hex(3)}"
    env = {"NOTEBOOK_PORT": "8888", "BASE_URL": "/", "JUPYTER_TOKEN": token, "OWNER": "alice"}
    command = ["docker", "-H", cluster.manager.url, "service", "create", "--detach", "--quiet", "--name", name,
               "--publish", f"mode=host,target=8888,published={port}", "--constraint", constraint,
               "--restart-condition", "on-failure"]
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    started = time.perf_counter()
    subprocess.run(command + [image], check=True, capture_output=True)
    seconds = wait_until_answers(port, "/api/status", token, started, host=cluster.worker.address)
    subprocess.run(["docker", "-H", cluster.manager.url, "service", "rm", name], check=True, capture_output=True)
    wait_port_free(cluster.worker.address, port)
    return seconds


def bench_reconcile(cluster: SwarmCluster, folder: Path, image: str, count: int) -> float:
    """Seconds for one reconcile of `count` notebook services (made with the API, rows written directly)."""
    from docker.types import EndpointSpec, ServiceMode

    from ipynbsrv_tui.service.containers import managed_labels
    from ipynbsrv_tui.store.models import Container, Image, User, database_proxy

    service, root = make_service(cluster, folder, image, "node.labels.ipynbsrv.node==worker")
    owner = User.get(User.username == "alice")
    registered = Image.get(Image.name == "fake")
    first = 20000
    with database_proxy.atomic():
        rows = [Container.create(name=f"r{i}", owner=owner, image=registered, image_ref=image, host_port=first + i,
                                 token="t", base_url=f"/user/alice/r{i}/", state="exited") for i in range(count)]
    with cluster.manager.client(timeout=300) as manager:
        made = time.perf_counter()
        for row in rows:
            labels = managed_labels(service.instance_id, "alice", row.id, "fake")
            created = manager.services.create(
                image, name=f"ipynbsrv-alice-r{row.id}", labels=labels, container_labels=labels,
                mode=ServiceMode("replicated", replicas=0),
                endpoint_spec=EndpointSpec(ports=[{"TargetPort": 8888, "PublishedPort": row.host_port,
                                                   "Protocol": "tcp", "PublishMode": "host"}]))
            Container.update(docker_id=created.id).where(Container.id == row.id).execute()
        print(f"# made {count} services in {time.perf_counter() - made:.1f} s", flush=True)
        service.reconcile(root)  # warm: the engine connection and the SDK
        samples = []
        for _ in range(3):
            report = service.reconcile(root)
            samples.append(report.seconds)
        assert report.checked == count and not report.flagged, report.flagged[:3]
        for svc in manager.services.list(filters={"label": f"ipynbsrv.instance={service.instance_id}"}):
            svc.remove()
    service.engine.close()
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="alternating pairs (at least 5)")
    parser.add_argument("--services", type=int, default=1000, help="services for the reconcile figure")
    args = parser.parse_args()
    missing = SwarmCluster.missing_tools()
    if missing or os.geteuid() != 0:
        figure("swarm create → answers HTTP", f"skipped (needs root and {', '.join(missing) or 'nothing more'})")
        return 0
    import docker

    shared = docker.from_env(timeout=300)
    tag = f"ipynbsrv-bench/swarm-notebook-{secrets.token_hex(3)}:latest"
    base = os.environ.get("IPYNBSRV_BENCH_BASE", "debian:bookworm-slim")
    shared.images.build(path=str(FAKE_NOTEBOOK), tag=tag, rm=True, forcerm=True, network_mode="none",
                        buildargs={"BASE_IMAGE": base})
    folder = Path(tempfile.mkdtemp(prefix="ipynbsrv-bench-swarm-"))
    cluster = SwarmCluster(folder / "cluster")
    failed = False
    try:
        try:
            cluster.start()
            cluster.load_image(shared, tag)
        except ClusterError as exc:
            figure("swarm create → answers HTTP", f"skipped ({exc})")
            return 0
        finally:
            shared.images.remove(tag, force=True)
        constraint = "node.labels.ipynbsrv.node==worker"
        service, root = make_service(cluster, folder / "spawn", tag, constraint)
        pushed = service.engine.publish_image(tag)  # both sides then run the registry's image
        ours(service, root, 0)  # warm: the worker pulls the image once
        bare_port = free_port_range(1)[0]
        ours_s: list[float] = []
        bare_s: list[float] = []
        for number in range(1, max(5, args.runs) + 1):
            pair = [lambda n=number: ours_s.append(ours(service, root, n)),
                    lambda n=number: bare_s.append(bare(cluster, pushed, bare_port, constraint, n))]
            for run in (pair if number % 2 else reversed(pair)):
                run()
        service.engine.close()
        ours_median, bare_median = statistics.median(ours_s), statistics.median(bare_s)
        ratio = ours_median / bare_median
        print(f"# ours: {', '.join(f'{s:.2f}' for s in ours_s)} s; bare: {', '.join(f'{s:.2f}' for s in bare_s)} s")
        figure("swarm create → answers HTTP (median, ours / bare docker service create)",
               f"{ours_median:.2f} s / {bare_median:.2f} s = {ratio:.2f}×", f"≤ {BUDGET_RATIO}×")
        failed |= ratio > BUDGET_RATIO
        seconds = bench_reconcile(cluster, folder / "reconcile", pushed, args.services)
        figure(f"swarm reconcile of {args.services} services (median of 3)", f"{seconds * 1000:.0f} ms",
               f"≤ {BUDGET_RECONCILE_S * 1000:.0f} ms")
        failed |= seconds > BUDGET_RECONCILE_S
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
