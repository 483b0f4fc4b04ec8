"""Shared fixtures for the TUI tests.

- `FixedSession`: a deterministic stand-in for a session (fixed containers, stats, health), used
  by snapshot tests and by Pilot tests of pure UI logic (filter, forms, markup). Behaviour
  against Docker is tested with the real embedded session (`admin_session`, `user_session`).
- `chatty_image`: a tiny image registered in the store whose container prints log lines with
  markup-like text and ANSI colour every half second.
- `frozen_clock`: fixes "now" for uptimes and "ago" columns.
"""

from __future__ import annotations

import queue
import shutil
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from textual.widgets import Input

from ipynbsrv_tui.domain import (
    Actor,
    ConnectionInfo,
    ContainerChange,
    ContainerState,
    ContainerStats,
    ContainerView,
    Health,
    ImageView,
    SnapshotView,
    SuspendedMemory,
)

if TYPE_CHECKING:  # the fakes are checked against the UI's session face; at run time they are plain
    from ipynbsrv_tui.interface import ServiceSession as SessionFace
else:
    SessionFace = object

FIXED_NOW = datetime(2026, 1, 15, 12, 0, 0)
# A tag of this test session's own: a session that ends removes its image, and on an engine shared
# by several sessions a fixed tag went from under the others (ImageMissing in their tests).
CHATTY_IMAGE = f"ipynbsrv-test/tui-chatty:{uuid.uuid4().hex[:12]}"
FAKE_NOTEBOOK = Path(__file__).parent.parent / "integration" / "fake_notebook" / "status.pl"
ADMIN = Actor("root", 0, True, ())
GIB = 1024**3


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch):
    """A blinking cursor makes snapshots flaky."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None, raising=False)


@pytest.fixture
def frozen_clock(monkeypatch):
    from ipynbsrv_tui.tui.widgets import format as fmt

    monkeypatch.setattr(fmt, "now", lambda: FIXED_NOW)
    return FIXED_NOW


# --------------------------------------------------------------------------- fixed data


def fixed_view(cid: int, owner: str, name: str, state: ContainerState, *, image: str = "ipython3",
               description: str = "", minutes_up: int = 0, idle_minutes: int | None = None) -> ContainerView:
    port = 49151 + cid
    token = f"{cid:02d}" * 24
    return ContainerView(
        id=cid,
        name=name,
        owner=owner,
        image=image,
        image_ref=f"ipynbsrv/{image}-notebook:latest",
        state=state,
        host_port=port,
        description=description,
        url=f"http://127.0.0.1:{port}/user/{owner}/{name}/?token={token}",
        token=token,
        docker_id=f"{cid:064x}",
        created=FIXED_NOW - timedelta(days=3),
        started_at=FIXED_NOW - timedelta(minutes=minutes_up) if state == ContainerState.RUNNING else None,
        last_activity=FIXED_NOW - timedelta(minutes=idle_minutes) if idle_minutes is not None else None,
        memory_limit=2 * GIB,
        cpus=1.0,
    )


def fixed_views() -> list[ContainerView]:
    return [
        fixed_view(
            1,
            "alice",
            "thesis",
            ContainerState.RUNNING,
            minutes_up=185,
            idle_minutes=4,
            description="Chapter 3 analysis [/bin/sh -c] \x1b[31mred\x1b[0m",
        ),
        fixed_view(2, "alice", "scratch", ContainerState.EXITED, image="ipython2"),
        fixed_view(3, "bob", "[bold]lab[/bold]", ContainerState.PAUSED, minutes_up=30, idle_minutes=90),
        fixed_view(
            4, "bob", "course-2026", ContainerState.RUNNING, minutes_up=2 * 24 * 60 + 65, idle_minutes=0
        ),
        fixed_view(5, "carol", "gpu-sim", ContainerState.MISSING, image="[/bin/sh -c]"),
        fixed_view(6, "root", "admin-tools", ContainerState.RUNNING, minutes_up=12, idle_minutes=1),
    ]


FIXED_STATS = {
    1: ContainerStats(cpu_percent=12.5, memory_bytes=300 * 1024**2, memory_limit=2 * GIB, pids=12),
    3: ContainerStats(cpu_percent=0.0, memory_bytes=80 * 1024**2, memory_limit=2 * GIB, pids=4),
    4: ContainerStats(cpu_percent=97.0, memory_bytes=int(1.8 * GIB), memory_limit=2 * GIB, pids=40),
    6: ContainerStats(cpu_percent=3.0, memory_bytes=120 * 1024**2, memory_limit=2 * GIB, pids=7),
}
FIXED_HEALTH = Health(mode="embedded", host="testhost", engine_ok=True, engine_detail="Docker 20.10.24",
                      directory_ok=True, directory_detail="local")
FIXED_LOG = [
    "[I 12:00:01 NotebookApp] Serving notebooks from local directory: /data",
    "[/bin/sh -c] apt-get install -y python3 \x1b[31m(ANSI red)\x1b[0m",
    "[bold]not bold[/bold] and [link=http://x]no link[/link]",
    "[W 12:00:02 NotebookApp] WARNING: The notebook server is listening on all IP addresses",
]


class FixedWatch:
    """A closeable, blocking iterator of changes that tests feed with `put` (or end with `fail`)."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()

    def put(self, change) -> None:
        self._queue.put(change)

    def fail(self, error: BaseException) -> None:
        self._queue.put(error)

    def close(self) -> None:
        self._queue.put(None)

    def __iter__(self):
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


class FixedLogs:
    """A closeable log stream: the fixed lines, then it waits until closed (like `logs -f`)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    def __iter__(self):
        yield from self.lines
        self._closed.wait()


class FixedSession(SessionFace):
    """Deterministic containers, stats and health; lifecycle calls change the fixed data. mypy checks
    each call it fakes against `ServiceSession` (tests/tui/conftest.py is in mypy's files)."""

    mode = "embedded"

    def __init__(self, actor: Actor = ADMIN, views: list[ContainerView] | None = None,
                 log_lines: list[str] | None = None) -> None:
        self._actor = actor
        self.views = {v.id: v for v in (fixed_views() if views is None else views)}
        self.log_lines = FIXED_LOG if log_lines is None else log_lines
        self.watches: list[FixedWatch] = []
        self.rights = FixedWatch()  # tests put an Actor (a change of rights) or fail it (access ended)
        self.calls: list[tuple] = []
        self.snapshots: dict[int, list[SnapshotView]] = {
            1: [SnapshotView(1, 1, "before-upgrade", "ipynbsrv-snapshots/alice-thesis:before-upgrade",
                             created=FIXED_NOW - timedelta(days=1))],
        }

    def close(self) -> None:
        for watch in self.watches:
            watch.close()
        self.rights.close()

    def watch_rights(self) -> FixedWatch:
        self.rights.put(self.actor)
        return self.rights

    @property
    def actor(self) -> Actor:
        return self._actor

    def adopt_rights(self, actor: Actor) -> None:
        self._actor = actor

    def push(self, change: ContainerChange) -> None:
        for watch in self.watches:
            watch.put(change)

    def list_containers(self, owner: str | None = None) -> list[ContainerView]:
        views = sorted(self.views.values(), key=lambda v: (v.owner, v.name))
        if not self.actor.is_admin:
            views = [v for v in views if v.owner == self.actor.username]
        return views

    def watch_containers(self, since: float | None = None) -> FixedWatch:
        watch = FixedWatch()
        self.watches.append(watch)
        return watch

    def health(self) -> Health:
        return FIXED_HEALTH

    def container_stats(self, container_id: int) -> ContainerStats:
        return FIXED_STATS.get(container_id, ContainerStats(1.0, 50 * 1024**2, 2 * GIB, 3))

    def connection_info(self, container_id: int) -> ConnectionInfo:
        view = self.views[container_id]
        return ConnectionInfo(
            url=view.url or "", token=view.token or "", host_port=view.host_port,
            tunnel_command=f"ssh -N -L {view.host_port}:127.0.0.1:{view.host_port} {view.owner}@testhost",
            local_url=f"http://127.0.0.1:{view.host_port}/user/{view.owner}/{view.name}/?token={view.token}",
        )

    def usable_images(self) -> list[ImageView]:
        return [
            ImageView("ipython3", "ipynbsrv/ipython3-notebook:latest", description="Jupyter on Python 3",
                      is_public=True),
            ImageView("[/bin/sh -c]", "ipynbsrv/odd:latest", description="odd [b]name[/b]", is_public=True),
        ]

    def list_snapshots(self, container_id: int) -> list[SnapshotView]:
        return list(self.snapshots.get(container_id, []))

    def follow_logs(self, container_id: int, tail: int = 200, timestamps: bool = False) -> FixedLogs:
        return FixedLogs(list(self.log_lines))

    def _set_state(self, method: str, container_id: int, state: ContainerState) -> ContainerView:
        self.calls.append((method, container_id))
        view = replace(self.views[container_id], state=state)
        self.views[container_id] = view
        return view

    def start_container(self, container_id: int) -> ContainerView:
        return self._set_state("start_container", container_id, ContainerState.RUNNING)

    def stop_container(self, container_id: int) -> ContainerView:
        return self._set_state("stop_container", container_id, ContainerState.EXITED)

    def resume_container(self, container_id: int) -> ContainerView:
        return self._set_state("resume_container", container_id, ContainerState.RUNNING)

    def _paused(self) -> list[ContainerView]:
        return [v for v in self.list_containers() if v.state == ContainerState.PAUSED]

    def resume_suspended(self) -> list[ContainerView]:
        return [self.resume_container(v.id) for v in self._paused() if v.owner == self.actor.username]

    def suspended_memory(self) -> SuspendedMemory:
        paused = self._paused()
        return SuspendedMemory(len(paused), sum(FIXED_STATS.get(v.id, ContainerStats(0, 0, 0, 0)).memory_bytes
                                                for v in paused))

    def stop_suspended(self) -> list[str]:
        return [f"{v.owner}/{v.name}" for v in self._paused()
                if self._set_state("stop_container", v.id, ContainerState.EXITED)]

    def delete_container(self, container_id: int) -> None:
        self.calls.append(("delete_container", container_id))
        self.views.pop(container_id, None)

    def create_container(
        self,
        name: str,
        image: str,
        description: str = "",
        memory: str | None = None,
        cpus: float | None = None,
        owner: str | None = None,
        start: bool = True,
    ) -> ContainerView:
        self.calls.append(
            (
                "create_container",
                {
                    "name": name,
                    "image": image,
                    "description": description,
                    "memory": memory,
                    "cpus": cpus,
                    "owner": owner,
                    "start": start,
                },
            )
        )
        cid = max(self.views, default=0) + 1
        view = fixed_view(cid, owner or self.actor.username, name, ContainerState.RUNNING, image=image)
        self.views[cid] = view
        return view


def many_views(count: int) -> list[ContainerView]:
    """`count` containers of 100 owners, every third one running."""
    states = (ContainerState.RUNNING, ContainerState.EXITED, ContainerState.PAUSED)
    return [
        fixed_view(i, f"user{i % 100:03d}", f"nb{i:05d}", states[i % 3]) for i in range(1, count + 1)
    ]


# --------------------------------------------------------------------------- real engine


# The chatty container also answers BASE_URL/api/status (the broker tests' Jupyter stand-in), so it
# reads "running" once it answers, as a notebook does (DESIGN §5 states), not "starting" for ever.
CHATTY_SCRIPT = """\
perl /fake-notebook >/dev/null 2>&1 &
trap 'exit 0' TERM
echo "hello from $OWNER"
i=0
while :; do
  printf 'tick %s [/bin/sh -c] \\033[31mred\\033[0m [bold]x[/bold]\\n' "$i"
  i=$((i+1))
  sleep 0.5 & wait $!
done
"""
CHATTY_DOCKERFILE = """\
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
LABEL ipynbsrv.notebook-port="8888" ipynbsrv.description="chatty test image"
COPY chatty.sh /chatty.sh
COPY fake-notebook /fake-notebook
CMD ["sh", "/chatty.sh"]
"""


@pytest.fixture(scope="session")
def chatty_image(docker_client, base_image, tmp_path_factory):
    """The chatty image, built once per session and removed at the end."""
    context = tmp_path_factory.mktemp("chatty")
    (context / "Dockerfile").write_text(CHATTY_DOCKERFILE)
    (context / "chatty.sh").write_text(CHATTY_SCRIPT)
    shutil.copy(FAKE_NOTEBOOK, context / "fake-notebook")
    docker_client.images.build(
        path=str(context), tag=CHATTY_IMAGE, rm=True, buildargs={"BASE_IMAGE": base_image}
    )
    yield CHATTY_IMAGE
    try:
        docker_client.images.remove(CHATTY_IMAGE, force=True)
    except Exception:  # still used by a container another test leaked; the engine keeps it
        pass


@pytest.fixture
def admin_session(notebook_service, root_actor, people, chatty_image):
    """A real embedded session acting as carol (an admin in the directory), with the chatty image
    registered as `chatty`; alice and bob exist too."""
    from ipynbsrv_tui.service import Session

    notebook_service.register_image(root_actor, "chatty", chatty_image, description="chatty [/bin/sh -c]",
                                    is_public=True)
    return Session(notebook_service, people["carol"])


@pytest.fixture
def user_session(admin_session, people):
    """A real embedded session acting as alice (an ordinary user)."""
    from ipynbsrv_tui.service import Session

    return Session(admin_session.service, people["alice"])


# --------------------------------------------------------------------------- helpers


async def wait_until(pilot, condition, timeout: float = 15.0, step: float = 0.05, what: str = "") -> None:
    """Let the app run until `condition()` holds (polling, never a fixed sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            shown = getattr(pilot.app, "notes", [])[-5:]
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}; "
                                 f"last notifications: {shown}")
        await pilot.pause(step)


def screen_text(app) -> str:
    """The characters on the screen, line by line (what a person would read)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def make_app(session, **options):
    """The real app over `session`, with a temp-free default config."""
    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    app = IpynbsrvApp(options.pop("config", None) or Config(), session, **options)
    app.notes = []  # every notification, kept after its toast expires
    notify = app.notify

    def recording_notify(message, *args, **kwargs):
        app.notes.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recording_notify
    return app
