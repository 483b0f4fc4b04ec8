"""Reconcile of 1,000 containers against the real engine (DESIGN §12): budget ≤ 1 s.

Makes a private installation (temp store, its own instance id), 1,000 store rows and 1,000 engine
containers created (not started, as `docker create` does) with our labels and keys, puts a tenth
of the rows out of step (the store says running), then times `service.reconcile` — the first
run repairs the drift, the later ones find none. Everything it made is removed at the end.
Prints `figure, measured, budget` lines; exits 1 when the budget is missed.

    .venv/bin/python benchmarks/bench_reconcile.py [--containers 1000] [--image debian:bookworm-slim]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BUDGET_S = 1.0


def figure(name: str, measured: str, budget: str = "-") -> None:
    print(f"{name}, {measured}, {budget}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--image", default="debian:bookworm-slim")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import docker

    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.domain import Actor
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.service.containers import managed_labels
    from ipynbsrv_tui.store.db import close_database
    from ipynbsrv_tui.store.models import Container, User, database_proxy

    client = docker.from_env(timeout=120)
    try:
        client.images.get(args.image)
    except docker.errors.ImageNotFound:
        print(f"bench_reconcile: skipped: image {args.image} is not on the engine (give --image)")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="ipynbsrv-bench-reconcile-"))
    config = Config().replace(
        database={"path": str(folder / "ipynbsrv.db")}, data={"root": str(folder / "data")}
    )
    service = build_service(config)
    instance = service.instance_id
    root = Actor("root", 0, True, ())
    made: list[str] = []
    try:
        owner = User.create(username="benchowner", uid=59_990, gid=59_990)
        rows = [{"name": f"nb{n:04d}", "owner": owner.id, "host_port": 10_000 + n, "token": "t",
                 "base_url": f"/user/benchowner/nb{n:04d}/", "key": secrets.token_hex(8), "state": "created"}
                for n in range(args.containers)]
        with database_proxy.atomic():
            Container.insert_many(rows).execute()
        stored = list(Container.select(Container.id, Container.name, Container.key))

        def create(row: Container) -> tuple[int, str]:
            labels = managed_labels(instance, "benchowner", row.id, "bench", row.key)
            created = client.api.create_container(args.image, command=["true"], labels=labels,
                                                  name=f"ipynbsrv-bench-{instance}-{row.id}")
            return row.id, created["Id"]

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            pairs = list(pool.map(create, stored))
        made.extend(engine_id for _, engine_id in pairs)
        figure(
            "bench setup: engine containers created", f"{len(made)} in {time.perf_counter() - started:.1f} s"
        )
        with database_proxy.atomic():
            for row_id, engine_id in pairs:
                drift = "running" if row_id % 10 == 0 else "created"
                Container.update(docker_id=engine_id, state=drift).where(Container.id == row_id).execute()

        times = []
        for run in range(args.runs):
            began = time.perf_counter()
            report = service.reconcile(root)
            times.append(time.perf_counter() - began)
            if run == 0:
                repaired = len(report.repaired)
                assert report.checked == args.containers and not report.flagged, report.flagged[:3]
        figure(f"reconcile {args.containers} containers, first run (repairs {repaired})", f"{times[0]:.3f} s",
               f"<= {BUDGET_S} s")
        figure(
            f"reconcile {args.containers} containers, median of {args.runs}",
            f"{statistics.median(times):.3f} s",
            f"<= {BUDGET_S} s",
        )
        return 0 if max(times[0], statistics.median(times)) <= BUDGET_S else 1
    finally:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda engine_id: client.api.remove_container(engine_id, force=True), made))
        left = client.containers.list(all=True, filters={"label": f"ipynbsrv.instance={instance}"})
        for container in left:
            container.remove(force=True)
        close_database()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    code = main()
    if code:
        print("bench_reconcile: OVER BUDGET", file=sys.stderr)
    sys.exit(code)
