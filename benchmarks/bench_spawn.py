"""Spawn latency (DESIGN §12): our create + start until the notebook answers HTTP, against a bare
`docker run` of the same image with the same environment; budget ≤ 1.1 × bare. Also how long
until the service shows it `running` (it reads `starting` until it answers), and the graceful
stop (SIGTERM first) of an idle notebook; budget ≤ 0.5 s.

Uses the service in-process (embedded mode) on a temp config and the image
`ipynbsrv/ipython3-notebook:latest` (or --image); skips with a message when the image is absent.
The bare run copies our container's command, environment, mounts, published ports and limits (read back from
the engine) and is created and started with the Docker API, as `docker run -d` does. The two alternate (which
goes first alternates too); the medians of --runs (≥ 5) runs are compared. The bare container's `docker stop`
is timed as well, to show the engine's share. Prints `figure, measured, budget` lines; exits 1 when a budget
is missed.

    .venv/bin/python benchmarks/bench_spawn.py [--image REF] [--runs 5]
"""

from __future__ import annotations

import argparse
import http.client
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.broker_support import free_port_range  # noqa: E402

DEFAULT_IMAGE = "ipynbsrv/ipython3-notebook:latest"
BUDGET_RATIO = 1.1
BUDGET_STOP_S = 0.5
READY_TIMEOUT = 120.0


def figure(name: str, measured: str, budget: str = "-") -> None:
    print(f"{name}, {measured}, {budget}", flush=True)


def wait_until_answers(port: int, path: str, token: str, started: float, host: str = "127.0.0.1") -> float:
    """Seconds from `started` until GET path on host:port answers 200 (the other benchmarks use it too)."""
    deadline = started + READY_TIMEOUT
    while time.perf_counter() < deadline:
        connection = http.client.HTTPConnection(host, port, timeout=2)
        try:
            connection.request("GET", path, headers={"Authorization": f"token {token}"})
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.01)
    raise SystemExit(f"the notebook at {host}:{port} did not answer within {READY_TIMEOUT:.0f} s")


def bare_run(client, image: str, template: dict, ports: list[int], name: str) -> str:
    """`docker run -d` with our container's command, environment, mounts, published ports and limits;
    the published ports go to `ports` instead (the first one for the notebook)."""
    api = client.api
    host = template["HostConfig"]
    published = sorted(int(spec.split("/")[0]) for spec in (host.get("PortBindings") or {}))
    notebook_port = int(template["Config"]["Labels"].get("ipynbsrv.notebook-port", published[0]))
    published.remove(notebook_port)
    order = [notebook_port, *published]
    host_config = api.create_host_config(
        port_bindings={port: ("127.0.0.1", ports[i]) for i, port in enumerate(order)},
        binds=host.get("Binds") or None,
        mem_limit=host.get("Memory") or None,
        nano_cpus=host.get("NanoCpus") or None,
        pids_limit=host.get("PidsLimit") or None,
        security_opt=host.get("SecurityOpt") or None,
    )
    created = api.create_container(
        image, command=template["Config"].get("Cmd"), environment=template["Config"].get("Env"),
        ports=order, host_config=host_config, name=name, hostname=template["Config"].get("Hostname"),
        labels={"ipynbsrv.bench": "spawn"},
    )
    api.start(created["Id"])
    return created["Id"]


def spawn_ours(service, admin, owner: str, name: str) -> tuple[float, float, object]:
    """Seconds until the notebook answers, and until the service shows it `running` (DESIGN §5)."""
    from ipynbsrv_tui.domain import ContainerState

    started = time.perf_counter()
    view = service.create_container(admin, name, "spawn-bench", owner=owner)
    elapsed = wait_until_answers(view.host_port, f"{_base(view.url)}api/status", view.token, started)
    while service.get_container(admin, view.id).state != ContainerState.RUNNING:
        if time.perf_counter() - started > READY_TIMEOUT:
            raise SystemExit(
                f"bench_spawn: {name} answers but still reads starting after {READY_TIMEOUT:.0f} s"
            )
        time.sleep(0.005)
    shown = time.perf_counter() - started
    return elapsed, shown, view


def _base(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # any failure means there is nothing to measure against
        print(f"bench_spawn: skipped: no Docker Engine at DOCKER_HOST ({type(exc).__name__}: {exc})")
        return 0
    try:
        client.images.get(args.image)
    except docker.errors.ImageNotFound:
        print(f"bench_spawn: skipped: the image {args.image} is not on the engine. Build it first "
              "(Images screen, or the dockerfiles/ipython3-notebook folder), or pass --image REF.")
        return 0

    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.domain import Actor
    from ipynbsrv_tui.service import build_service

    folder = Path(tempfile.mkdtemp(prefix="ipynbsrv-bench-spawn-"))
    ports = free_port_range(6 * args.runs + 20)
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")},
        data={"root": str(folder / "data")},
        notebooks={"port_range": ports},
    )
    service = build_service(config)
    admin = Actor("root", 0, True, ())
    defaults = service.image_defaults(admin, args.image)
    service.register_image(admin, "spawn-bench", args.image, command=defaults.command,
                           notebook_port=defaults.notebook_port, is_public=True)
    owner = service.create_user(admin, f"spawn{secrets.token_hex(3)}", "bench password 1").username
    ours: list[float] = []
    shown: list[float] = []
    bare: list[float] = []
    stops: list[float] = []
    bare_stops: list[float] = []
    leftovers: list[str] = []
    failed = False
    free = list(range(ports[0] + 2 * args.runs + 4, ports[1] + 1))
    try:
        # A template of our container's settings for the bare runs (not measured).
        _, _, first = spawn_ours(service, admin, owner, "template")
        template = client.api.inspect_container(first.docker_id)  # the bench's own client, not the engine's
        service.delete_container(admin, first.id)
        for run in range(args.runs):
            for turn in ("ours", "bare") if run % 2 == 0 else ("bare", "ours"):
                if turn == "ours":
                    elapsed, shown_at, view = spawn_ours(service, admin, owner, f"spawn{run}")
                    ours.append(elapsed)
                    shown.append(shown_at)
                    time.sleep(1.0)  # idle, then stop it gracefully
                    stop_started = time.perf_counter()
                    service.stop_container(admin, view.id)
                    stops.append(time.perf_counter() - stop_started)
                    service.delete_container(admin, view.id)
                else:
                    taken, free = free[:4], free[4:]
                    started = time.perf_counter()
                    container_id = bare_run(client, args.image, template, taken,
                                            f"ipynbsrv-bench-bare-{secrets.token_hex(3)}")
                    leftovers.append(container_id)
                    bare.append(
                        wait_until_answers(taken[0], f"{_base(first.url)}api/status", first.token, started)
                    )
                    time.sleep(1.0)
                    stop_started = time.perf_counter()
                    client.api.stop(container_id, timeout=config.notebooks.stop_timeout)
                    bare_stops.append(time.perf_counter() - stop_started)
                    client.api.remove_container(container_id, force=True)
                    leftovers.remove(container_id)
            print(f"# run {run + 1}: ours {ours[-1]:.2f} s, bare {bare[-1]:.2f} s, "
                  f"stop ours {stops[-1]:.2f} s, bare {bare_stops[-1]:.2f} s", flush=True)
        ratio = statistics.median(ours) / statistics.median(bare)
        stop = statistics.median(stops)
        figure("create + start until HTTP, ours (median)", f"{statistics.median(ours):.2f} s")
        figure("create + start until HTTP, bare docker run (median)", f"{statistics.median(bare):.2f} s")
        figure("spawn ratio ours / bare", f"{ratio:.2f}", f"<= {BUDGET_RATIO}")
        figure("create + start until the UI shows running (starting → running), ours (median)",
               f"{statistics.median(shown):.2f} s")
        figure("graceful stop of an idle notebook, ours (median)", f"{stop:.2f} s", f"<= {BUDGET_STOP_S} s")
        figure("graceful stop, bare docker stop (median)", f"{statistics.median(bare_stops):.2f} s")
        failed = ratio > BUDGET_RATIO or stop > BUDGET_STOP_S
    finally:
        for container_id in leftovers:
            client.api.remove_container(container_id, force=True)
        for view in service.list_containers(admin):
            service.delete_container(admin, view.id)
        service.delete_user(admin, owner, containers="delete", data="delete")
        service.delete_image(admin, "spawn-bench")
        client.close()
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        print("bench_spawn: OVER BUDGET", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
