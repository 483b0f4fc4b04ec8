"""Fixtures for the Images and Users screens: a small app shell around a session, a session with
fixed data for snapshots, and helpers for Pilot tests against the real service."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from rich.console import Console
from textual.app import App
from textual.reactive import reactive

from ipynbsrv_tui.domain import (
    Actor,
    BuildEvent,
    BuildEventKind,
    BuildStatus,
    BuildView,
    GroupView,
    Health,
    ImageDefaults,
    ImageInfo,
    ImageView,
    UserView,
)
from ipynbsrv_tui.service import Session, build_service
from ipynbsrv_tui.tui.screens.images import ImagesScreen
from ipynbsrv_tui.tui.screens.users import UsersScreen

if TYPE_CHECKING:  # the fake is checked against the UI's session face; at run time it is plain
    from ipynbsrv_tui.interface import ServiceSession as SessionFace
else:
    SessionFace = object

ROOT = Actor("root", 0, True, ())
NOW = datetime(2026, 1, 15, 12, 0, 0)
HEALTH = Health(mode="embedded", host="testhost", engine_ok=True, engine_detail="Docker 20.10.24",
                directory_ok=True, directory_detail="local")


class AdminHarness(App):
    """The contract the real app shell keeps (app.session, app.config, app.health, modes named
    "images" and "users"), without its other sections, so these screens are tested on their own."""

    MODES = {"images": ImagesScreen, "users": UsersScreen}
    health: reactive[Health | None] = reactive(None)

    def __init__(self, session, config, mode: str = "images", health: Health | None = None) -> None:
        super().__init__()
        self.session = session
        self.config = config
        self.start_mode = mode
        self.initial_health = health

    def on_mount(self) -> None:
        self.health = self.initial_health
        self.switch_mode(self.start_mode)


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Let the app run until `condition()` holds (polling, never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        await pilot.pause(0.05)


def screen_text(app: App) -> str:
    """What the terminal shows now, as plain text (for assertions on rendered content)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens,
                                                        simplify=True))
    return console.export_text()


def notifications(app: App) -> list[str]:
    return [n.message for n in app._notifications]


# --------------------------------------------------------------------------- fixed data

FIXED_IMAGES = [
    ImageView("ipython3", "ipynbsrv/ipython3-notebook:latest", description="Jupyter Notebook on Python 3",
              notebook_port=8888, is_public=True, containers=3, last_build_status="succeeded",
              docker_id="sha256:" + "3" * 64, source_folder="ipython3-notebook", memory="2g", cpus=1.0),
    ImageView("ipython2", "ipynbsrv/ipython2-notebook:latest", description="Legacy Python 2.7 kernel",
              is_public=False, access_groups=("physics",), containers=0, last_build_status="failed",
              retired=True, docker_id="sha256:" + "2" * 64),
    ImageView("[/bin/sh -c]", "ipynbsrv/odd:latest", description="odd [b]label[/b] from a Dockerfile",
              command="[/bin/sh -c] start", public_ports=(22,), owner="alice", is_public=True, containers=1),
]
FIXED_BUILDS = [
    BuildView(
        2,
        "ipynbsrv/ipython2-notebook:latest",
        "/srv/dockerfiles/ipython2-notebook",
        BuildStatus.FAILED,
        started=NOW - timedelta(minutes=10),
        finished=NOW - timedelta(minutes=9, seconds=18),
        exit_code=3,
        error="The command '/bin/sh -c exit 3' returned a non-zero code: 3",
        tolerated=7,
        warnings=1,
        lines=14,
        actor="root",
    ),
    BuildView(
        1,
        "ipynbsrv/ipython3-notebook:latest",
        "/srv/dockerfiles/ipython3-notebook",
        BuildStatus.SUCCEEDED,
        started=NOW - timedelta(hours=2),
        finished=NOW - timedelta(hours=2) + timedelta(seconds=95),
        image_id="sha256:" + "3" * 64,
        tolerated=7,
        warnings=0,
        lines=40,
        actor="root",
        build_args={"BASE_IMAGE": "ipynbsrv/base-ldap:bookworm"},
    ),
]
TOLERATED_LINES = [
    "debconf: delaying package configuration, since apt-utils is not installed",
    "debconf: unable to initialize frontend: Dialog",
    "debconf: (TERM is not set, so the dialog frontend is not usable.)",
    "debconf: falling back to frontend: Readline",
    "debconf: unable to initialize frontend: Readline",
    "debconf: falling back to frontend: Teletype",
    "dpkg-preconfigure: unable to re-open stdin: ",
]


def fixed_build_events() -> list[BuildEvent]:
    """A failed build's log: steps, output, tolerated debconf noise, a warning, markup-like text, the
    error."""
    k = BuildEventKind
    events = [
        BuildEvent(k.STEP, "Step 1/3 : FROM debian:bookworm-slim", 1, 3),
        BuildEvent(k.OUTPUT, " ---> 2cbec9886ffe", 1, 3),
        BuildEvent(k.STEP, "Step 2/3 : RUN apt-get install -y libpaper1 [/bin/sh -c]", 2, 3),
        BuildEvent(k.OUTPUT, " ---> Running in 0123456789ab", 2, 3),
        BuildEvent(k.OUTPUT, "Setting up libpaper1:amd64 (1.1.29) ... [bold]not bold[/bold]", 2, 3),
    ]
    events += [BuildEvent(k.TOLERATED, line, 2, 3) for line in TOLERATED_LINES]
    events += [
        BuildEvent(k.STEP, "Step 3/3 : RUN echo about to fail >&2; exit 3", 3, 3),
        BuildEvent(k.STDERR, "about to fail", 3, 3),
        BuildEvent(k.ERROR, "The command '/bin/sh -c exit 3' returned a non-zero code: 3", 3, 3, exit_code=3),
    ]
    return events


FIXED_USERS = [
    UserView("alice", 2001, 2000, "Alice Liddell", "alice@example.org", containers=2,
             last_seen=NOW - timedelta(minutes=5)),
    UserView("bob", 2002, 2000, "Bob [bold]Builder[/bold]", "bob@example.org", active=False, containers=0,
             last_seen=NOW - timedelta(days=40)),
    UserView("carol", 2003, 2000, "Carol", "", is_admin=True, source="ldap", containers=1),
]


class FixedAdminSession(SessionFace):
    """Deterministic images, builds, users and health for snapshots (no engine, no directory). mypy
    checks each call it fakes against `ServiceSession`."""

    mode = "embedded"

    @property
    def actor(self) -> Actor:
        return ROOT

    def __init__(self, stale: bool = False) -> None:
        self.stale = stale

    def list_images(self, include_retired: bool = True) -> list[ImageView]:
        return list(FIXED_IMAGES)

    def engine_images(self) -> list[ImageInfo]:
        return [
            ImageInfo("sha256:" + "3" * 64, ("ipynbsrv/ipython3-notebook:latest",), {}, 10**9),
            ImageInfo("sha256:" + "2" * 64, ("ipynbsrv/ipython2-notebook:latest",), {}, 10**9),
            ImageInfo("sha256:" + "1" * 64, ("debian:bookworm-slim",), {}, 10**8),
        ]

    def image_defaults(self, ref: str) -> ImageDefaults:
        return ImageDefaults(
            ref,
            name=ref.split("/")[-1].split(":")[0],
            description="from labels [/bin/sh -c]",
            notebook_port=8888,
            public_ports=(22,),
        )

    def list_groups(self) -> list[GroupView]:
        return [GroupView("ipynbsrv-users", 2000, members=("alice", "bob")), GroupView("physics", 2100)]

    def list_builds(self, limit: int = 100) -> list[BuildView]:
        return list(FIXED_BUILDS)

    def build_log(self, build_id: int, limit: int | None = None) -> list[BuildEvent]:
        return fixed_build_events()

    def dockerfile_folders(self) -> list[str]:
        return ["base-ldap", "ipython2-notebook", "ipython3-notebook"]

    def build_defaults(self, folder: str) -> dict[str, str]:
        if folder == "base-ldap":
            return {"BASE_IMAGE": "debian:bookworm-slim"}
        return {"BASE_IMAGE": "ipynbsrv/base-ldap:latest"}

    def build_plan(self, folder: str, tag: str | None = None, build_args: dict[str, str] | None = None,
                   nocache: bool = False) -> list[str]:
        lines = [f"{tag} will be built from {folder}/."]
        if "BASE_IMAGE" not in (build_args or {}):
            lines.insert(0, "ipynbsrv/base-ldap:latest is missing and will be built first, from base-ldap/.")
        return lines

    def list_users(self, query: str = "") -> list[UserView]:
        return list(FIXED_USERS)

    def health(self) -> Health:
        if not self.stale:
            return HEALTH
        return Health(mode="embedded", host="testhost", engine_ok=True, engine_detail="Docker 20.10.24",
                      directory_ok=False, directory_detail="LDAP server ldap://127.0.0.1:389 unreachable",
                      directory_synced_at=NOW - timedelta(hours=3), directory_stale=True)


# --------------------------------------------------------------------------- real service


@pytest.fixture
def local_session(service_config):
    """An embedded session acting as root over a temp store and the local directory (no engine needed
    until a call touches it)."""
    return Session(build_service(service_config), ROOT)


@pytest.fixture
def engine_session(notebook_service):
    """An embedded session acting as root whose engine containers are removed afterwards."""
    return Session(notebook_service, ROOT)


@pytest.fixture
def test_tag(docker_client):
    """A unique `ipynbsrv-test-…` image tag, removed from the engine afterwards."""
    tag = f"ipynbsrv-test-{uuid.uuid4().hex[:8]}/img:latest"
    yield tag
    try:
        docker_client.images.remove(tag, force=True)
    except Exception:  # never built (a failing or cancelled build)
        pass
