"""TUI figures (DESIGN §12), printed as `figure, measured, budget` lines.

- start to first usable screen, embedded: in-process (store opened, app mounted, list painted)
  and as a cold `ipynbsrv-tui` process in a PTY until its first screen is drawn;
- 10,000-row container list: first paint, and one filter keystroke (a seeded temp store; the
  engine is deliberately unreachable, so nothing waits for it);
- a 100,000-line build log streamed into the build panel (`BuildScreen`, fed by its real
  pump threads from a synthetic build that produces lines as fast as they are taken): the
  longest event-loop stall, measured by a 5 ms timer that records its own lateness, and the
  traced memory at each quarter of the stream (flat = bounded; a separate run, since
  tracemalloc slows allocation);
- the same for 100,000 container log lines into the details log panel.

"Painted" means the app rendered the frame: headless runs skip only the terminal write. The app
runs as `ipynbsrv-tui` runs it (tune_gc=True: see ipynbsrv_tui/tui/gcpolicy.py).
Runs without Docker; uses temp folders only.
"""

from __future__ import annotations

import asyncio
import os
import pty
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402

from ipynbsrv_tui.config import Config  # noqa: E402
from ipynbsrv_tui.domain import (  # noqa: E402
    Actor,
    BuildEvent,
    BuildEventKind,
    BuildStatus,
    BuildSummary,
)

SIZE = (160, 48)
NO_ENGINE = "unix:///nonexistent/ipynbsrv-bench.sock"
ROWS = 10_000
LOG_LINES = 100_000
COLD_RUNS = 9
STREAM_RATE = 20_000  # lines per second: a very chatty build; real ones are far slower


def pace(rate: float | None) -> str:
    return f"{rate:,.0f} lines/s" if rate else "unthrottled (one CPU-bound producer thread)"


def report(figure: str, measured: str, budget: str) -> None:
    print(f"{figure}, {measured}, {budget}", flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def bench_config(folder: Path) -> Config:
    return Config().replace(
        database={"path": str(folder / "state" / "ipynbsrv.db")},
        data={"root": str(folder / "data")},
        docker={"url": NO_ENGINE, "timeout": 2},
        broker={"socket": str(folder / "no-broker.sock")},
    )


def seed(config: Config, rows: int) -> None:
    """`rows` containers of 100 users in a fresh store, in one transaction (no engine involved)."""
    from ipynbsrv_tui.store.db import open_database
    from ipynbsrv_tui.store.models import Container, Image, User, database_proxy

    open_database(config.database.resolved_path)
    states = ("running", "exited", "paused", "created")
    with database_proxy.atomic():
        users = [User.create(username=f"user{i:03d}", uid=3000 + i, gid=3000) for i in range(100)]
        image = Image.create(name="ipython3", ref="ipynbsrv/ipython3-notebook:latest", is_public=True)
        batch = []
        for i in range(rows):
            owner = users[i % 100]
            batch.append(
                {
                    "name": f"nb{i:05d}",
                    "owner": owner.id,
                    "image": image.id,
                    "image_ref": image.ref,
                    "docker_id": "",
                    "host_port": 20000 + i,
                    "token": secrets.token_hex(8),
                    "base_url": f"/user/{owner.username}/nb{i:05d}/",
                    "state": states[i % 4],
                }
            )
            if len(batch) == 1000:
                Container.insert_many(batch).execute()
                batch = []
        if batch:
            Container.insert_many(batch).execute()


def watch_paints(app) -> list[float]:
    """Record the time of every frame the app renders."""
    frames: list[float] = []
    display = app._display

    def recording(screen, renderable):
        if renderable is not None:
            frames.append(time.perf_counter())
        return display(screen, renderable)

    app._display = recording
    return frames


async def until(pilot, condition, timeout: float = 60.0, during=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark condition not reached in time")
        if during is not None:
            during()
        await asyncio.sleep(0.001)


async def first_paint_after(pilot, frames: list[float], since: float, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while not any(t >= since for t in frames):
        if time.monotonic() > deadline:
            raise RuntimeError("no frame was painted")
        await asyncio.sleep(0)
    return next(t for t in frames if t >= since) - since


# --------------------------------------------------------------------------- start


async def start_in_process(folder: Path) -> None:
    from ipynbsrv_tui.service import embedded_session
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    config = bench_config(folder)
    seed(config, 20)
    started = time.perf_counter()
    session = embedded_session(config)
    app = IpynbsrvApp(config, session, theme="textual-dark", tune_gc=True)
    frames = watch_paints(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.book.loaded and app.screen.query("#table")
                    and app.screen.query_one("#table").row_count == 20)
        painted = await first_paint_after(pilot, frames, time.perf_counter())
        usable = time.perf_counter() - started
        del painted
    report("start to first usable screen, embedded (in-process: open store, mount, list painted)", ms(usable),
           "500 ms")


def start_cold_process(folder: Path) -> None:
    """The first screen of a cold `ipynbsrv-tui` process, as `make run` installs it (an editable
    install in .venv) and as deploy/install.sh does (a venv of the system Python, `pip install`)."""
    config_path = folder / "config.toml"
    config_path.write_text(
        f'[database]\npath = "{folder / "cold.db"}"\n[docker]\nurl = "{NO_ENGINE}"\ntimeout = 2\n'
        f'[data]\nroot = "{folder / "data"}"\n[broker]\nsocket = "{folder / "none.sock"}"\n'
    )
    program = Path(sys.executable).with_name("ipynbsrv-tui")
    if not program.exists():
        report(
            "start to first usable screen, cold process", "skipped: ipynbsrv-tui is not installed", "500 ms"
        )
        return
    # The bytecode `pip install` writes for a regular install (an editable install under
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module at every start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "ipynbsrv_tui")], check=True)
    first = first_screen([str(program), "--config", str(config_path)])  # creates the database: once
    report(
        "start to first usable screen, cold `ipynbsrv-tui` process in a PTY, the very first (new database)",
        ms(first),
        "-",
    )
    bare = folder / "bare.py"
    bare.write_text(BARE_APP)
    installs = [("make's .venv", program, Path(sys.executable))]
    deployed = deployed_install(folder / "deployed")
    if isinstance(deployed, str):
        report(
            "start to first usable screen, as deploy/install.sh installs it", f"skipped: {deployed}", "500 ms"
        )
    else:
        installs.append(("installed as deploy/install.sh does", deployed / "bin" / "ipynbsrv-tui",
                         deployed / "bin" / "python"))
    for label, tui, python in installs:
        # A bare Textual app (one line of text), measured the same way and alternating with ours:
        # what this machine needs for Python and Textual alone, so the figure reads on another machine.
        samples, reference = [], []
        for _ in range(COLD_RUNS):
            samples.append(first_screen([str(tui), "--config", str(config_path)]))
            reference.append(first_screen([str(python), str(bare)]))
        report(
            f"start to first usable screen, cold `ipynbsrv-tui` process in a PTY, {label} (median of "
            f"{COLD_RUNS})",
            ms(statistics.median(samples)),
            "500 ms",
        )
        report(
            "  for reference: a bare Textual app's first screen with the same Python (median of "
            f"{COLD_RUNS})",
            ms(statistics.median(reference)),
            "-",
        )


def deployed_install(venv: Path) -> Path | str:
    """A venv of the system Python with this checkout `pip install`ed into it, as deploy/install.sh
    makes one; or why there is none (the dependencies come from the package index or pip's cache)."""
    system_python = "/usr/bin/python3"
    made = subprocess.run([system_python, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        return (
            f"{system_python} cannot make a venv ({made.stderr.strip().splitlines()[-1:] or made.returncode})"
        )
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(ROOT)],
                               capture_output=True, text=True)
    if installed.returncode != 0:
        return f"pip install failed: {installed.stderr.strip().splitlines()[-1:]}"
    return venv


BARE_APP = """\
from textual.app import App
from textual.widgets import Static


class Bare(App):
    def compose(self):
        yield Static("no containers")


Bare().run()
"""


def first_screen(command: list[str]) -> float:
    """Seconds from spawning `command` in a PTY until its first screen (the container list) is drawn."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(slave)
    output = b""
    while b"container" not in output:
        try:
            output += os.read(master, 65536)
        except BlockingIOError:
            time.sleep(0.002)
        except OSError:
            break
        if time.perf_counter() - started > 30:
            break
    elapsed = time.perf_counter() - started
    os.close(master)
    process.terminate()
    process.wait(timeout=10)
    return elapsed


# --------------------------------------------------------------------------- 10,000 rows


async def ten_thousand_rows(folder: Path) -> None:
    from ipynbsrv_tui.service import Session, build_service
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    config = bench_config(folder)
    seed(config, ROWS)
    session = Session(build_service(config), Actor("root", 0, True, ()))
    started = time.perf_counter()
    views = session.list_containers()
    listed = time.perf_counter() - started
    report(f"{ROWS:,} containers: session.list_containers() (store, in a worker thread)", ms(listed), "-")

    app = IpynbsrvApp(config, session, theme="textual-dark", watch=False, tune_gc=True)
    frames = watch_paints(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#table")
        loaded_at = time.perf_counter()
        app.book.load(views)
        await until(pilot, lambda: table.row_count == ROWS)
        paint = await first_paint_after(pilot, frames, loaded_at)
        report(
            f"{ROWS:,}-row container list: first paint (rows received → frame rendered)", ms(paint), "300 ms"
        )
        report(
            f"{ROWS:,}-row container list: first paint including the list call", ms(listed + paint), "300 ms"
        )

        await pilot.press("slash")
        app.screen.query_one("#filter").cursor_blink = False  # only the keystrokes repaint
        await pilot.pause()
        timings = []
        keys = [
            ("u", "u"),
            ("s", "s"),
            ("e", "e"),
            ("r", "r"),
            ("0", "0"),
            ("4", "4"),
            ("2", "2"),
            ("backspace", None),
            ("backspace", None),
            ("backspace", None),
            ("3", "3"),
            ("space", " "),
            ("r", "r"),
        ]
        for key, character in keys:
            await pilot.pause(0.05)
            before = time.perf_counter()
            app.post_message(events.Key(key, character))  # as the terminal driver delivers it
            timings.append(await first_paint_after(pilot, frames, before))
        report(f"{ROWS:,}-row container list: filter keystroke → frame (median of {len(timings)})",
               ms(statistics.median(timings)), "50 ms")
        report(f"{ROWS:,}-row container list: filter keystroke → frame (worst)", ms(max(timings)), "50 ms")


# --------------------------------------------------------------------------- 100,000 lines


class StallProbe:
    """A task on the app's loop that wakes every `period` and records how late it woke."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self.lateness: list[float] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            expected = time.perf_counter() + self.period
            await asyncio.sleep(self.period)
            late = time.perf_counter() - expected
            self.lateness.append(late)
            self.worst = max(self.worst, late)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def describe(self) -> str:
        """Worst, 99th percentile and the number of stalls over 50 ms."""
        ordered = sorted(self.lateness) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        over = sum(1 for late in ordered if late > 0.05)
        return f"{ms(self.worst)} (p99 {ms(p99)}; {over} of {len(ordered)} wake-ups over 50 ms)"


def paced(items, rate: float | None):
    """Yield `items`, at most `rate` per second (None = as fast as they are taken), sleeping in
    between like a socket read does."""
    started = time.perf_counter()
    for count, item in enumerate(items, 1):
        yield item
        if rate and count % 100 == 0:
            ahead = count / rate - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)


class SyntheticBuild:
    """A BuildHandle stand-in: 100,000 classified lines, paced at `rate` lines per second."""

    build_id = 1

    def __init__(self, lines: int, rate: float | None = None) -> None:
        self.lines = lines
        self.rate = rate
        self.summary: BuildSummary | None = None

    def cancel(self) -> None:
        self.lines = 0

    def __iter__(self):
        yield from paced(self._events(), self.rate)

    def _events(self):
        started = time.perf_counter()
        kinds = (
            BuildEventKind.OUTPUT,
            BuildEventKind.OUTPUT,
            BuildEventKind.TOLERATED,
            BuildEventKind.STDERR,
        )
        for i in range(self.lines):
            if i % 1000 == 0:
                yield BuildEvent(
                    BuildEventKind.STEP,
                    f"Step {i // 1000 + 1}/100 : RUN make part-{i}",
                    step=i // 1000 + 1,
                    total_steps=100,
                )
            kind = kinds[i % 4]
            text = ("debconf: unable to initialize frontend: Dialog" if kind is BuildEventKind.TOLERATED
                    else f"line {i}: compiling module_{i % 977}.c [/bin/sh -c] -O2 -Wall")
            yield BuildEvent(kind, text)
        yield BuildEvent(BuildEventKind.RESULT, "sha256:feed", image_id="sha256:" + "f" * 64)
        self.summary = BuildSummary(BuildStatus.SUCCEEDED, "sha256:" + "f" * 64, None, None, self.lines // 4,
                                    self.lines // 4, self.lines, time.perf_counter() - started)


class BenchSession:
    """Only what the build panel and the log panel call; everything else is unused here."""

    mode = "embedded"

    def __init__(self, rate: float | None = None) -> None:
        self.actor = Actor("root", 0, True, ())
        self.rate = rate

    def build_image(self, folder, tag=None, build_args=None, nocache=False):
        return SyntheticBuild(LOG_LINES, self.rate)

    def list_containers(self):
        return []

    def health(self):
        from ipynbsrv_tui.domain import Health

        return Health("embedded", "bench", True, "synthetic", True, "local")

    def suspended_memory(self):
        from ipynbsrv_tui.domain import SuspendedMemory

        return SuspendedMemory()

    def unread_count(self) -> int:
        return 0

    def follow_logs(self, container_id, tail=200):
        lines = (
            f"{i:06d} INFO [NotebookApp] kernel {i % 13} [/bin/sh -c] saved checkpoint"
            for i in range(LOG_LINES)
        )
        return paced(lines, self.rate)


async def build_log_stream(trace_memory: bool, rate: float | None) -> None:
    """The build panel as BuildScreen runs it: its pump threads feed a synthetic 100,000-line build."""
    from ipynbsrv_tui.tui.app import IpynbsrvApp
    from ipynbsrv_tui.tui.screens.build import BuildRequest, BuildScreen

    app = IpynbsrvApp(Config(), BenchSession(rate), theme="textual-dark", watch=False, tune_gc=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        memory = MemoryProbe() if trace_memory else None
        screen = BuildScreen(BuildRequest("synthetic", "bench/synthetic:latest"))
        started = time.perf_counter()
        await app.push_screen(screen)  # the stream starts on mount; the probe measures from here on
        probe = StallProbe()
        probe.start()
        lines = screen.log_view.view
        await until(pilot, lambda: screen.summary is not None, timeout=300,
                    during=(lambda: memory.sample(lines.total_lines)) if memory else None)
        if memory:
            memory.sample(LOG_LINES)
        elapsed = time.perf_counter() - started
        probe.stop()
        figure = f"build log {LOG_LINES:,} lines streamed into the build panel, {pace(rate)}"
        if memory:
            report(f"{figure}: traced memory at {memory.describe()}", memory.summary(), "bounded")
        else:
            report(f"{figure}: longest event-loop stall while streaming", probe.describe(), "50 ms")
            report(f"{figure}: time to stream them all ({lines.line_count:,} lines kept)", ms(elapsed), "-")


async def container_log_stream(trace_memory: bool, rate: float | None) -> None:
    """The details screen's log panel, fed by its follower thread with 100,000 lines."""
    from ipynbsrv_tui.domain import ContainerState, ContainerView
    from ipynbsrv_tui.tui.app import IpynbsrvApp
    from ipynbsrv_tui.tui.screens.details import ContainerDetailsScreen
    from ipynbsrv_tui.tui.widgets.logview import LogPanel

    app = IpynbsrvApp(Config(), BenchSession(rate), theme="textual-dark", watch=False, tune_gc=True)
    async with app.run_test(size=SIZE) as pilot:
        app.book.load([ContainerView(1, "nb", "root", "ipython3", "ref", ContainerState.RUNNING, 50000)])
        await pilot.pause()
        memory = MemoryProbe() if trace_memory else None
        started = time.perf_counter()
        await app.push_screen(ContainerDetailsScreen(1, "logs"))
        probe = StallProbe()
        probe.start()
        view = app.screen.query_one(LogPanel).view
        await until(pilot, lambda: view.line_count + view.dropped >= LOG_LINES, timeout=300,
                    during=(lambda: memory.sample(view.line_count + view.dropped)) if memory else None)
        if memory:
            memory.sample(LOG_LINES)
        elapsed = time.perf_counter() - started
        probe.stop()
        figure = f"container log {LOG_LINES:,} lines into the details log panel, {pace(rate)}"
        if memory:
            report(f"{figure}: traced memory at {memory.describe()}", memory.summary(), "bounded")
        else:
            report(f"{figure}: longest event-loop stall while streaming", probe.describe(), "50 ms")
            report(f"{figure}: time to stream them all ({view.line_count:,} lines kept)", ms(elapsed), "-")


class MemoryProbe:
    """tracemalloc's current size at 25 / 50 / 75 / 100 % of the stream: flat means bounded."""

    MARKS = (0.25, 0.5, 0.75, 1.0)

    def __init__(self) -> None:
        import tracemalloc

        self._tracemalloc = tracemalloc
        tracemalloc.start()
        self.base = tracemalloc.get_traced_memory()[0]
        self.samples: list[float] = []

    def sample(self, done: int) -> None:
        while len(self.samples) < len(self.MARKS) and done >= self.MARKS[len(self.samples)] * LOG_LINES:
            self.samples.append((self._tracemalloc.get_traced_memory()[0] - self.base) / 2**20)
        if len(self.samples) == len(self.MARKS):
            self._tracemalloc.stop()

    def describe(self) -> str:
        return " / ".join(f"{int(m * 100)}%" for m in self.MARKS)

    def summary(self) -> str:
        return " / ".join(f"{value:.1f} MiB" for value in self.samples)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ipynbsrv-bench-tui-") as tmp:
        folder = Path(tmp)
        for name, step in (("start", lambda: start_in_process(folder / "start")),
                           ("rows", lambda: ten_thousand_rows(folder / "rows"))):
            (folder / name).mkdir()
            asyncio.run(step())
        (folder / "cold").mkdir()
        start_cold_process(folder / "cold")
        for rate in (STREAM_RATE, None):
            asyncio.run(build_log_stream(False, rate))
            asyncio.run(container_log_stream(False, rate))
        asyncio.run(build_log_stream(True, None))
        asyncio.run(container_log_stream(True, None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
