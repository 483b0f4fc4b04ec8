"""Liveness in the header (DESIGN §12): engine or broker lost → the header says so, ≤ 2 s.

- broker: `ipynbsrv-tui serve` runs as a subprocess on a temp config; the UI (the real app,
  headless) is in client mode as root. Each round kills the broker with SIGKILL and times until
  the header shows `broker ✗`, then starts it again and times until the header is live again.
- engine: the UI runs embedded with `[docker] url` pointing at a relay process in front of the
  engine at DOCKER_HOST; each round kills the relay and times until the header shows `engine ✗`
  (the shared engine itself keeps running), then starts a new relay.

The SSH figure (connection dropped → process gone ≤ 1 s) needs an sshd and is measured by
`deploy/walk.sh` (walk_login.py). Prints `figure, measured, budget` lines; exits 1 when a budget
is missed, and 0 with the reason when it cannot measure (no engine).

    .venv/bin/python benchmarks/bench_liveness.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration import broker_support as support  # noqa: E402

BUDGET = 2.0


def line(name: str, samples: list[float], budget: str) -> None:
    measured = f"median {statistics.median(samples):.2f} s, worst {max(samples):.2f} s over {len(samples)}"
    print(f"{name}, {measured}, {budget}", flush=True)


async def until(pilot, condition, timeout: float) -> float:
    """Seconds until `condition()` holds; infinity (over budget) when it never does."""
    try:
        return await support.seconds_until(pilot, condition, timeout)
    except AssertionError:
        return float("inf")


async def broker_rounds(folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    from ipynbsrv_tui.broker.client import RemoteSession
    from ipynbsrv_tui.config import load_config
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    config_path = support.write_config(folder, port_range=support.free_port_range(),
                                       uid_range=support.free_uid_range())
    broker = support.BrokerProcess(
        config_path, str(folder / "run" / "broker.sock"), folder / "broker.log"
    ).start()
    session = RemoteSession(broker.socket_path)
    lost, back = [], []
    try:
        app = IpynbsrvApp(load_config(config_path), session)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: "engine ✓" in support.status_line(app), 15)
            for _ in range(rounds):
                await pilot.pause(0.3)
                broker.process.send_signal(signal.SIGKILL)
                lost.append(await until(pilot, lambda: "broker ✗" in support.status_line(app), 10))
                broker.process.wait()
                broker.start()
                back.append(
                    await until(
                        pilot, lambda: "engine ✓" in support.status_line(app) and not app.book.stale, 15
                    )
                )
    finally:
        session.close()
        broker.stop()
    return lost, back


async def engine_rounds(folder: Path, rounds: int) -> list[float]:
    from ipynbsrv_tui.config import load_config
    from ipynbsrv_tui.service import embedded_session
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    proxy = folder / "engine.sock"
    relay = support.start_engine_forwarder(proxy)
    config_path = support.write_config(folder, port_range=support.free_port_range(),
                                       uid_range=support.free_uid_range())
    config_path.write_text(config_path.read_text() + f'\n[docker]\nurl = "unix://{proxy}"\n')
    session = embedded_session(load_config(config_path))
    lost = []
    try:
        app = IpynbsrvApp(load_config(config_path), session)
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(rounds):
                await until(pilot, lambda: "engine ✓" in support.status_line(app), 15)
                await pilot.pause(0.3)
                relay.kill()
                relay.wait()
                proxy.unlink()
                lost.append(await until(pilot, lambda: "engine ✗" in support.status_line(app), 10))
                relay = support.start_engine_forwarder(proxy)
    finally:
        relay.kill()
        relay.wait()
        session.close()
    return lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # noqa: BLE001 - any reason not to measure is reported, not raised
        print(f"bench_liveness: skipped: no Docker Engine at DOCKER_HOST ({type(exc).__name__}: {exc})")
        return 0
    folder = support.world_readable_dir("ipynbsrv-bench-liveness-")
    try:
        (folder / "b").mkdir()
        (folder / "e").mkdir()
        lost, back = asyncio.run(broker_rounds(folder / "b", args.rounds))
        engine = asyncio.run(engine_rounds(folder / "e", args.rounds))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    line("broker killed -> header says broker ✗", lost, f"{BUDGET:.0f} s")
    line("broker back -> header live again (for information)", back, "-")
    line("engine lost -> header says engine ✗", engine, f"{BUDGET:.0f} s")
    if max(lost) > BUDGET or max(engine) > BUDGET:
        print("bench_liveness: OVER BUDGET", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
