"""A returning user (DESIGN §12): login → their suspended notebook answers HTTP; budget ≤ 0.3 s.
Beside it, the same user's stopped notebook started the normal way (JupyterHub's culler stops
and respawns), and the ratio.

A real broker (`ipynbsrv-tui serve`, as root) on a temp config, the image
`ipynbsrv/ipython3-notebook:latest` (or --image), and a directory user who is also an OS account
with the same uid. "Login" is a client process of that user starting in client mode through the
broker and making the call `ipynbsrv-tui` makes at start-up (`resume_suspended`, sent before the
screen library loads); "started the normal way" is the same client process calling
`start_container`. A third figure is the whole `ipynbsrv-tui` program started as that user in a
pseudo-terminal (`script`), which resumes at start-up on its own. Each figure runs from spawning the process
until `BASE_URL/api/status` answers 200. The two alternate (which goes first alternates too); medians of
--runs (≥ 5). Then the broker is restarted with `idle_timeout = --idle` and `idle_action = "suspend"`, and the
resumed notebook is left alone: how long it stays up after a resume by the user's login, by the user's `u` and
by an admin, until the broker's idle check pauses it again (budget: at least `idle_timeout`; it used to be
paused again within seconds). Needs root (it makes an OS account); skips with a message otherwise. Prints
`figure, measured, budget` lines; exits 1 when a budget is missed.

    .venv/bin/python benchmarks/bench_return.py [--image REF] [--runs 5] [--idle 10]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_spawn import DEFAULT_IMAGE, figure, wait_until_answers  # noqa: E402
from tests.integration import broker_support as support  # noqa: E402

BUDGET_S = 0.3
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])


def start_program(account, config: Path, home: Path) -> subprocess.Popen:
    """`ipynbsrv-tui` as the user, in a pseudo-terminal, as their login starts it.

    The user cannot read this interpreter (it may live in root's home), so the system Python of
    the same version runs the program from this checkout and this environment's packages.
    """
    command = f"{support.SYSTEM_PYTHON} -m ipynbsrv_tui.cli --config {config}"
    return subprocess.Popen(
        ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups",
         "script", "-qfec", command, "/dev/null"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={"HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin",
             "PYTHONPATH": f"{REPO}:{SITE_PACKAGES}"}, cwd="/",
    )


def end_program(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _base(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?", 1)[0]


def _answered(view) -> None:
    wait_until_answers(view.host_port, f"{_base(view.url)}api/status", view.token, time.perf_counter())


def stays_up(client, docker_id: str, resumed_at: float, limit: float) -> float:
    """Seconds from the resume until the engine reports the container paused again (polled every 0.1 s)."""
    while time.monotonic() - resumed_at < limit:
        if client.api.inspect_container(docker_id)["State"]["Status"] == "paused":
            return time.monotonic() - resumed_at
        time.sleep(0.1)
    return time.monotonic() - resumed_at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=int, default=10, help="idle_timeout of the stays-up figure (seconds)")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    if os.geteuid() != 0 or not os.path.exists(support.SYSTEM_PYTHON):
        print(f"bench_return: skipped: run it as root with {support.SYSTEM_PYTHON} (it makes an OS account "
              "and runs the client as that user)")
        return 0
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.images.get(args.image)
    except Exception as exc:  # no engine or no image: nothing to measure
        print(f"bench_return: skipped: needs the Docker Engine at DOCKER_HOST and the image {args.image} "
              f"({type(exc).__name__}: {exc}). Build it with `ipynbsrv-tui images build ipython3-notebook`.")
        return 0

    from ipynbsrv_tui.broker.client import RemoteSession

    folder = support.world_readable_dir("ipynbsrv-bench-return-")
    lib = support.copy_client_package(folder)
    port_range, uid_range = support.free_port_range(), support.free_uid_range()
    config = support.write_config(folder, port_range=port_range, uid_range=uid_range)
    socket_path = str(folder / "run" / "broker.sock")
    broker = support.BrokerProcess(config, socket_path, folder / "broker.log").start()
    root = RemoteSession(socket_path)
    account = None
    failed = False
    try:
        defaults = root.image_defaults(args.image)
        root.register_image("return-bench", args.image, command=defaults.command,
                            notebook_port=defaults.notebook_port, is_public=True)
        user = root.create_user(f"ret{secrets.token_hex(3)}", "bench password 1")
        account = support.add_os_account(user.username, user.uid)
        back = root.create_container("back", "return-bench", owner=user.username)
        cold = root.create_container("cold", "return-bench", owner=user.username)
        _answered(back)
        _answered(cold)
        root.stop_container(cold.id)

        def measure(view, op: list, leave) -> float:
            started = time.perf_counter()
            process = support.start_client(lib, account.uid, account.gid, socket_path, [op])
            elapsed = wait_until_answers(view.host_port, f"{_base(view.url)}api/status", view.token, started)
            run = support.finish_client(process, account.uid)
            run.ok(0)
            leave(view.id)
            return elapsed

        home = folder / "home"
        home.mkdir(mode=0o700)
        os.chown(home, account.uid, account.gid)

        def measure_program(view) -> float:
            started_at = time.perf_counter()
            process = start_program(account, config, home)
            try:
                return wait_until_answers(
                    view.host_port, f"{_base(view.url)}api/status", view.token, started_at
                )
            finally:
                end_program(process)

        resumed: list[float] = []
        started: list[float] = []
        program: list[float] = []
        for run in range(args.runs):
            for turn in ("resume", "start", "program") if run % 2 == 0 else ("program", "start", "resume"):
                if turn == "resume":
                    root.suspend_container(back.id)
                    resumed.append(measure(back, ["resume_suspended", [], {}], lambda _id: None))
                elif turn == "program":
                    root.suspend_container(back.id)
                    program.append(measure_program(back))
                else:
                    started.append(measure(cold, ["start_container", [cold.id], {}], root.stop_container))
            print(
                f"# run {run + 1}: suspended → answers {resumed[-1]:.3f} s (ipynbsrv-tui: "
                f"{program[-1]:.3f} s), stopped → started → answers {started[-1]:.3f} s",
                flush=True,
            )
        back_median, cold_median = statistics.median(resumed), statistics.median(started)
        figure(
            "login → own suspended notebook answers HTTP (median)", f"{back_median:.3f} s", f"<= {BUDGET_S} s"
        )
        figure("the same, the whole ipynbsrv-tui program in a pseudo-terminal (median)",
               f"{statistics.median(program):.3f} s", f"<= {BUDGET_S} s")
        figure("login → own stopped notebook started, answers HTTP (median)", f"{cold_median:.3f} s")
        figure("ratio stopped / suspended", f"{cold_median / back_median:.1f}")
        failed = back_median > BUDGET_S or statistics.median(program) > BUDGET_S

        # How long a resumed notebook stays up without activity, under the broker's own idle check.
        broker.stop()
        support.write_config(folder, port_range=port_range, uid_range=uid_range, idle_timeout=args.idle,
                             idle_action="suspend")
        broker = support.BrokerProcess(config, socket_path, folder / "broker.log").start()
        root.close()
        root = RemoteSession(socket_path)
        resumes = {
            "login": lambda: support.run_client(lib, account.uid, account.gid, socket_path,
                                                [["resume_suspended", [], {}]]).ok(0),
            "u": lambda: support.run_client(lib, account.uid, account.gid, socket_path,
                                            [["resume_container", [back.id], {}]]).ok(0),
            "admin": lambda: root.resume_container(back.id),
        }
        for how, resume in resumes.items():
            if client.api.inspect_container(back.docker_id)["State"]["Status"] != "paused":
                root.suspend_container(back.id)
            time.sleep(2)  # paused a while: Jupyter's own last activity is older still
            resumed_at = time.monotonic()
            resume()
            up = stays_up(client, back.docker_id, resumed_at, limit=6 * args.idle)
            figure(f"resumed by {how} → paused again by the idle check, no activity", f"{up:.1f} s",
                   f">= {args.idle} s (idle_timeout)")
            failed = failed or up < args.idle
    finally:
        for view in root.list_containers():
            root.delete_container(view.id)
        if account is not None:
            root.delete_user(account.name, containers="delete", data="delete")
            support.remove_os_account(account.name)
        root.close()
        broker.stop()
        client.close()
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        print("bench_return: OVER BUDGET", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
