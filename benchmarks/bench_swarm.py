"""Swarm mode (DESIGN §12, §15), on a real two-node swarm made like the tests' (network namespaces),
with the project's real `ipython3-notebook` image (built here with `ipynbsrv-tui images build`).

1. Create → the notebook answers HTTP, in both modes side by side:
   - swarm: our create_container (service, scale to one, wait for the task) against a bare
     `docker service create --detach` of the same image, its ENTRYPOINT running (base-ldap's, which
     sets up the owner and starts Jupyter as them), with our service's arguments, environment,
     mounts, host-mode published port and constraint, both on the worker;
   - one host: our create_container on the shared engine against a bare `docker run -d` with our
     container's settings (bench_spawn's method).
   Both are timed until `GET {BASE_URL}api/status` with the token answers 200. They alternate
   (which goes first alternates too); medians of --runs (≥ 5) pairs; budget ≤ 1.1 × bare in each mode.
2. Reconcile of 1,000 notebook services (no replicas; rows in the store): budget ≤ 1 s.

Needs root, iproute2, nsenter, dockerd and docker-registry, and the shared engine at DOCKER_HOST
to build the image; prints a skip line otherwise. Prints `figure, measured, budget` lines; exits 1
when a budget is missed.

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

from benchmarks.bench_spawn import bare_run, spawn_ours, wait_until_answers  # noqa: E402
from tests.fixtures.swarm_cluster import ClusterError, SwarmCluster  # noqa: E402
from tests.integration.broker_support import free_port_range  # noqa: E402

BUDGET_RATIO = 1.1
BUDGET_RECONCILE_S = 1.0


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


def build_real_image(folder: Path) -> str:
    """A fresh build of dockerfiles/ipython3-notebook (and its base-ldap) under a prefix of its own."""
    from ipynbsrv_tui import cli

    prefix = f"ipynbsrv-bench-{secrets.token_hex(3)}"
    base = os.environ.get("IPYNBSRV_BENCH_BASE", "debian:bookworm-slim")
    config = folder / "build.toml"
    config.write_text(
        f'[database]\npath = "{folder / "build.db"}"\n[broker]\nsocket = "{folder / "absent.sock"}"\n'
        f'[build]\ndockerfiles = "{REPO / "dockerfiles"}"\nbase_image = "{base}"\nimage_prefix = "{prefix}"\n'
    )
    with open(folder / "build.log", "w") as log:  # the build's own output is not a figure
        saved, sys.stdout = sys.stdout, log
        try:
            code = cli.main(["--config", str(config), "images", "build", "ipython3-notebook"])
        finally:
            sys.stdout = saved
    if code != 0:
        raise SystemExit(
            f"bench_swarm: building ipython3-notebook failed (exit {code}); see {folder / 'build.log'}"
        )
    return f"{prefix}/ipython3-notebook:latest"


def make_service(
    folder: Path, image: str, cluster: SwarmCluster | None = None, constraint: str = "", name: str = "py3"
):
    """The service in swarm mode on `cluster`, or (None) in docker mode on DOCKER_HOST, with `image` as
    `name`."""
    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.domain import Actor
    from ipynbsrv_tui.service import build_service

    swarm = (
        {}
        if cluster is None
        else {
            "docker": {"url": cluster.manager.url},
            "engine": {"mode": "swarm"},
            "registry": {"url": cluster.registry},
            "swarm": {"constraints": (constraint,)},
        }
    )
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")},
        data={"root": str(folder / "data")},
        notebooks={"port_range": free_port_range(), "stop_timeout": 3},
        **swarm,
    )
    root = Actor("root", 0, True, ())
    service = build_service(config)
    service.create_user(root, "alice", "alice-password", display_name="Alice")
    defaults = service.image_defaults(root, image)
    service.register_image(root, name, image, command=defaults.command, notebook_port=defaults.notebook_port,
                           description="the real notebook image", is_public=True)
    return service, root


def ours(service, root, number: int, keep: dict | None = None, manager=None) -> float:
    """Seconds from our create until the notebook answers; `keep` receives its service spec, read
    through `manager` (the bench's own client of the swarm manager)."""
    started = time.perf_counter()
    view = service.create_container(root, f"nb{number}", "py3", owner="alice")
    address = urllib.parse.urlsplit(view.url)
    host = address.hostname or ""
    seconds = wait_until_answers(view.host_port, f"{address.path}api/status", view.token, started, host=host)
    if keep is not None:
        keep.update(manager.api.inspect_service(view.docker_id)["Spec"])
    service.delete_container(root, view.id)
    wait_port_free(host, view.host_port)
    return seconds


def bare(cluster: SwarmCluster, image: str, template: dict, port: int, constraint: str, number: int) -> float:
    """A bare `docker service create` of `image` with our service's arguments, environment and mounts
    (its ENTRYPOINT runs), published in host mode at `port` on the worker."""
    container = template["TaskTemplate"]["ContainerSpec"]
    env = dict(item.split("=", 1) for item in container.get("Env") or ())
    name = f"bench-bare-{number}-{secrets.token_hex(3)}"
    command = [
        "docker",
        "-H",
        cluster.manager.url,
        "service",
        "create",
        "--detach",
        "--quiet",
        "--name",
        name,
        "--publish",
        f"mode=host,target={env.get('NOTEBOOK_PORT', '8888')},published={port}",
        "--constraint",
        constraint,
        "--restart-condition",
        "on-failure",
    ]
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    for mount in container.get("Mounts") or ():
        command += ["--mount", f"type=bind,source={mount['Source']},target={mount['Target']}"]
    started = time.perf_counter()
    subprocess.run(command + [image, *(container.get("Args") or ())], check=True, capture_output=True)
    seconds = wait_until_answers(port, f"{env['BASE_URL']}api/status", env["JUPYTER_TOKEN"], started,
                                 host=cluster.worker.address)
    subprocess.run(
        ["docker", "-H", cluster.manager.url, "service", "rm", name], check=True, capture_output=True
    )
    wait_port_free(cluster.worker.address, port)
    return seconds


def bench_reconcile(cluster: SwarmCluster, folder: Path, image: str, count: int) -> float:
    """Seconds for one reconcile of `count` notebook services (made with the API, rows written directly)."""
    from docker.types import EndpointSpec, ServiceMode

    from ipynbsrv_tui.service.containers import managed_labels
    from ipynbsrv_tui.store.models import Container, Image, User, database_proxy

    service, root = make_service(folder, image, cluster, "node.labels.ipynbsrv.node==worker")
    owner = User.get(User.username == "alice")
    registered = Image.get(Image.name == "py3")
    first = 20000
    with database_proxy.atomic():
        rows = [
            Container.create(
                name=f"r{i}",
                owner=owner,
                image=registered,
                image_ref=image,
                host_port=first + i,
                token="t",
                base_url=f"/user/alice/r{i}/",
                state="exited",
            )
            for i in range(count)
        ]
    with cluster.manager.client(timeout=300) as manager:
        made = time.perf_counter()
        for row in rows:
            labels = managed_labels(service.instance_id, "alice", row.id, "py3")
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


def one_host(client, folder: Path, image: str, runs: int) -> tuple[list[float], list[float]]:
    """Our docker-mode create against a bare `docker run -d` with our container's settings (bench_spawn's
    method)."""
    service, root = make_service(folder, image, name="spawn-bench")  # the name bench_spawn's spawn_ours uses
    first = service.create_container(root, "template", "spawn-bench", owner="alice")
    template = client.api.inspect_container(first.docker_id)
    wait_until_answers(first.host_port, f"{_path(first.url)}api/status", first.token, time.perf_counter())
    service.delete_container(root, first.id)
    free = free_port_range(4 * runs + 4)
    ports = list(range(free[0], free[1] + 1))
    mine: list[float] = []
    theirs: list[float] = []
    try:
        for number in range(runs):
            for turn in ("ours", "bare") if number % 2 == 0 else ("bare", "ours"):
                if turn == "ours":
                    elapsed, _shown, view = spawn_ours(service, root, "alice", f"one{number}")
                    mine.append(elapsed)
                    service.delete_container(root, view.id)
                else:
                    taken, ports = ports[:4], ports[4:]
                    started = time.perf_counter()
                    container = bare_run(
                        client, image, template, taken, f"ipynbsrv-bench-bare-{secrets.token_hex(3)}"
                    )
                    try:
                        theirs.append(
                            wait_until_answers(
                                taken[0], f"{_path(first.url)}api/status", first.token, started
                            )
                        )
                    finally:
                        client.api.remove_container(container, force=True)
    finally:
        for view in service.list_containers(root):
            service.delete_container(root, view.id)
        service.engine.close()
    return mine, theirs


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="alternating pairs (at least 5)")
    parser.add_argument("--services", type=int, default=1000, help="services for the reconcile figure")
    args = parser.parse_args()
    missing = SwarmCluster.missing_tools()
    if missing or os.geteuid() != 0:
        figure(
            "swarm create → answers HTTP", f"skipped (needs root and {', '.join(missing) or 'nothing more'})"
        )
        return 0
    import docker

    shared = docker.from_env(timeout=300)
    folder = Path(tempfile.mkdtemp(prefix="ipynbsrv-bench-swarm-"))
    image = build_real_image(folder)
    cluster = SwarmCluster(folder / "cluster")
    runs = max(5, args.runs)
    failed = False
    try:
        try:
            cluster.start()
            cluster.load_image(shared, image)
        except ClusterError as exc:
            figure("swarm create → answers HTTP", f"skipped ({exc})")
            return 0
        constraint = "node.labels.ipynbsrv.node==worker"
        service, root = make_service(folder / "spawn", image, cluster, constraint)
        pushed = service.engine.publish_image(image)  # both sides then run the registry's image
        template: dict = {}
        with cluster.manager.client(timeout=300) as manager:
            ours(service, root, 0, keep=template, manager=manager)  # warm: the worker pulls the image once
        bare_port = free_port_range(1)[0]
        ours_s: list[float] = []
        bare_s: list[float] = []
        for number in range(1, runs + 1):
            pair = [lambda n=number: ours_s.append(ours(service, root, n)),
                    lambda n=number: bare_s.append(bare(cluster, pushed, template, bare_port, constraint, n))]
            for run in (pair if number % 2 else reversed(pair)):
                run()
        service.engine.close()
        print(f"# swarm: ours {', '.join(f'{s:.2f}' for s in ours_s)} s; "
              f"bare {', '.join(f'{s:.2f}' for s in bare_s)} s", flush=True)
        single_ours, single_bare = one_host(shared, folder / "single", image, runs)
        rows = [("swarm", ours_s, bare_s, "bare docker service create"),
                ("one host", single_ours, single_bare, "bare docker run")]
        print(f"# one host: ours {', '.join(f'{s:.2f}' for s in single_ours)} s; "
              f"bare {', '.join(f'{s:.2f}' for s in single_bare)} s", flush=True)
        for mode, mine, theirs, what in rows:
            ratio = statistics.median(mine) / statistics.median(theirs)
            figure(f"{mode}: create → answers HTTP, real ipython3-notebook (median, ours / {what})",
                   f"{statistics.median(mine):.2f} s / {statistics.median(theirs):.2f} s = {ratio:.2f}×",
                   f"≤ {BUDGET_RATIO}×")
            failed |= ratio > BUDGET_RATIO
        seconds = bench_reconcile(cluster, folder / "reconcile", pushed, args.services)
        figure(f"swarm reconcile of {args.services} services (median of 3)", f"{seconds * 1000:.0f} ms",
               f"≤ {BUDGET_RECONCILE_S * 1000:.0f} ms")
        failed |= seconds > BUDGET_RECONCILE_S
    finally:
        cluster.stop()
        for name in ("ipython3-notebook", "base-ldap"):
            try:
                shared.api.remove_image(image.replace("ipython3-notebook", name), noprune=True)
            except docker.errors.APIError:
                pass
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
