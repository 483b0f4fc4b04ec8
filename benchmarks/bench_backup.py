"""Backups (DESIGN §12, §17): our run against a bare `restic backup` of the same paths, and a user's
restore of one file from the console until the file is in place.

Makes a private installation in a temp folder: `--homes` homes holding `--files` files of
`--megabytes` in all (random bytes, so nothing deduplicates), and two restic repositories on the
same disk. Times the first backup and (`--runs` times) an incremental one after 1% of the files changed: ours
(`service.backup_run`: the database copy and `restic backup`; the weekly maintenance, `restic forget --prune`
and `restic check`, is left out and timed on its own) beside a bare `restic backup` of the same folders run
the same way (`nice`, `ionice`, `--json`), from a warm page cache, in alternating order. Then alice deletes a
notebook and restores it from the Backups section (Pilot, real embedded service): the time from pressing `r`
until the file is in her home. Meanwhile calls to the service are timed while a backup runs. Prints `figure,
measured, budget` lines; exits 1 when a budget is missed. Needs root (restores give files to alice's uid) and
restic.

    .venv/bin/python benchmarks/bench_backup.py [--homes 100] [--files 10000] [--megabytes 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RATIO_BUDGET = 1.2
RESTORE_BUDGET_S = 2.0


def figure(name: str, measured: str, budget: str = "-") -> None:
    print(f"{name}, {measured}, {budget}", flush=True)


def make_tree(homes: Path, count: int, files: int, megabytes: int) -> list[Path]:
    size = max(1, megabytes * 1024 * 1024 // files)
    paths = []
    for index in range(files):
        folder = homes / f"u{index % count:03d}" / f"d{index // count % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"f{index}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


class StepTimes:
    """Wraps Restic's backup and forget to time each step of a run (where the time goes)."""

    def __init__(self) -> None:
        from ipynbsrv_tui.backup.restic import Restic

        self.seconds: dict[str, list[float]] = {"backup": [], "forget": []}
        for name in self.seconds:
            original = getattr(Restic, name)

            def timed(*args, _original=original, _name=name, **kwargs):
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds[_name].append(time.perf_counter() - started)

            setattr(Restic, name, timed)

    def last(self, name: str) -> float:
        return self.seconds[name][-1]


def bare_backup(env: dict[str, str], paths: list[str]) -> float:
    from ipynbsrv_tui.backup.restic import _lower_priority

    started = time.perf_counter()
    subprocess.run(
        [
            *_lower_priority(),
            "restic",
            "--quiet",
            "backup",
            "--json",
            "--host",
            "bench",
            "--tag",
            "bare",
            "--",
            *paths,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


async def restore_from_console(service, alice_home: Path) -> float:
    from ipynbsrv_tui.service.session import Session
    from ipynbsrv_tui.tui.app import IpynbsrvApp
    from ipynbsrv_tui.tui.screens.backups import BackupsScreen

    app = IpynbsrvApp(service.config, Session(service, service.actor_for_username("alice")), watch=False)

    async def until(condition, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"bench_backup: timed out waiting for {what}")
            await pilot.pause(0.01)

    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("9")
        await until(lambda: isinstance(app.screen, BackupsScreen) and app.screen.snapshots, "the snapshots")
        screen = app.screen
        await pilot.press("enter")
        await until(lambda: "e:/home/alice" in screen.entries, "alice's home")
        await pilot.press("enter")
        await until(lambda: "e:/home/alice/analysis.ipynb" in screen.entries, "the notebook")
        screen.table.move_to("e:/home/alice/analysis.ipynb")
        await pilot.pause()
        started = time.perf_counter()
        await pilot.press("r")
        await until(lambda: any((alice_home / "restored").glob("*/analysis.ipynb")), "the restored file")
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3, help="incremental runs (the first backup runs once)")
    args = parser.parse_args()
    if shutil.which("restic") is None or os.geteuid() != 0:
        print("bench_backup: skipped: needs restic (apt-get install restic) and root")
        return 0

    from ipynbsrv_tui.backup.plan import installation_tags
    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.domain import Actor
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import close_database
    from ipynbsrv_tui.store.models import Setting, User

    root = Actor("root", 0, True, ())
    folder = Path(tempfile.mkdtemp(prefix="ipynbsrv-bench-backup-"))
    missed = False
    try:
        password = folder / "password"
        password.write_text("bench\n")
        os.chmod(password, 0o600)
        config = Config().replace(
            database={"path": str(folder / "state" / "ipynbsrv.db")}, data={"root": str(folder / "data")},
            backup={"enabled": True, "repository": str(folder / "repo-ours"), "password_file": str(password)})
        service = build_service(config)
        service.create_user(root, "alice", "alice-password")
        alice = User.get(User.username == "alice")
        alice_home = service.data.home_of("alice")
        notebook = alice_home / "analysis.ipynb"
        notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
        os.chown(notebook, alice.uid, alice.gid)
        started = time.perf_counter()
        files = make_tree(service.data.homes, args.homes, args.files, args.megabytes)
        figure("tree", f"{args.files} files, {args.megabytes} MiB in {args.homes} homes "
                       f"(made in {time.perf_counter() - started:.1f} s)")
        paths = [str(service.data.homes), str(service.data.shares), str(service.data.public)]
        bare_env = dict(
            os.environ,
            RESTIC_REPOSITORY=str(folder / "repo-bare"),
            RESTIC_PASSWORD_FILE=str(password),
            RESTIC_CACHE_DIR=str(folder / "cache-bare"),
        )
        subprocess.run(["restic", "init"], env=bare_env, check=True, capture_output=True)
        service.backup_init(root)
        rng = random.Random(7)
        steps = StepTimes()
        subprocess.run(
            ["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True
        )  # both start from a warm cache

        def ours_run() -> float:
            Setting.insert(
                key="backup.last_check", value=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            ).on_conflict_replace().execute()  # the weekly check is timed below
            started = time.perf_counter()
            service.backup_run(root)
            return time.perf_counter() - started

        for phase, runs in (("first", 1), ("incremental (1% changed)", args.runs)):
            ours_times, bare_times = [], []
            for run in range(runs):
                if phase != "first":
                    for path in rng.sample(files, max(1, len(files) // 100)):
                        path.write_bytes(os.urandom(path.stat().st_size))
                if run % 2:  # alternate who goes first
                    ours_times.append(ours_run())
                    bare_times.append(bare_backup(bare_env, paths))
                else:
                    bare_times.append(bare_backup(bare_env, paths))
                    ours_times.append(ours_run())
            ours, bare = statistics.median(ours_times), statistics.median(bare_times)
            ratio = ours / bare
            missed |= ratio > RATIO_BUDGET
            processes_per_run = (
                len(steps.seconds["backup"]) + len(steps.seconds["forget"])
            ) / len(steps.seconds["backup"])
            figure(
                f"backup, {phase}: ours / bare restic (median of {runs})",
                f"{ours:.2f} s / {bare:.2f} s = {ratio:.2f}x (ours: restic backup median "
                f"{statistics.median(steps.seconds['backup'][-runs:]):.2f} s; restic processes per run "
                f"{processes_per_run:.1f})",
                f"<= {RATIO_BUDGET}x",
            )
        backup = service.config.backup
        started = time.perf_counter()
        service.backups.restic().forget(installation_tags(service.instance_id), backup.keep_daily,
                                        backup.keep_weekly, backup.keep_monthly, prune=True)
        figure("restic forget --prune (weekly, after a run)", f"{time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        service.backups.restic().check()
        figure("restic check (weekly, after a run)", f"{time.perf_counter() - started:.2f} s")

        # service calls while a backup runs (in-process; the broker serves them from its own threads)
        for path in rng.sample(files, max(1, len(files) // 100)):
            path.write_bytes(os.urandom(path.stat().st_size))
        runner = threading.Thread(target=service.backup_run, args=(root,))
        runner.start()
        latencies = []
        while runner.is_alive():
            started = time.perf_counter()
            service.list_users(root)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
        runner.join()
        if latencies:
            latencies.sort()
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            figure(
                "list_users while a backup runs: p99 (in-process)",
                f"{p99 * 1000:.1f} ms over {len(latencies)} calls",
            )

        notebook.unlink()
        took = asyncio.run(restore_from_console(service, alice_home))
        missed |= took > RESTORE_BUDGET_S
        figure("a user restores one file from the console, r until in place", f"{took:.2f} s",
               f"<= {RESTORE_BUDGET_S} s")
        close_database()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
