"""The build history: every build with its outcome; Enter reopens its log."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.binding import Binding

from ...domain import BuildStatus, BuildView
from ..widgets.buildlog import format_duration
from ..widgets.format import ago
from ..widgets.table import Column
from .build import BuildScreen
from .listscreen import ListScreen

STATUS_STYLES = {
    BuildStatus.SUCCEEDED: "green",
    BuildStatus.FAILED: "bold red",
    BuildStatus.CANCELLED: "yellow",
    BuildStatus.RUNNING: "cyan",
}

COLUMNS = (
    Column("id", "#", 4, justify="right"),
    Column("ref", "Image", 20, grow=3),
    Column("status", "Status", 9),
    Column("started", "Started", 10),
    Column("took", "Took", 7, justify="right"),
    Column("tolerated", "Tol.", 5, justify="right"),
    Column("warnings", "Warn", 5, justify="right"),
    Column("exit", "Exit", 4, justify="right"),
)


def status_text(status: BuildStatus | str | None) -> Text:
    """A build status, coloured; `-` for an image never built here."""
    if status is None:
        return Text("-", style="dim")
    status = BuildStatus(status)
    return Text(status.value, style=STATUS_STYLES.get(status, ""))


class BuildHistoryScreen(ListScreen):
    """Every build, newest first: image, status, start, duration, tolerated lines, warnings, exit code.
    Enter reopens a build's log; f5 reloads."""

    TITLE_TEXT = "Images › Builds"
    COLUMNS = COLUMNS
    FILTER_HINT = ""  # no filter bar: the newest builds are on top
    SUMMARY = False
    EMPTY = "No builds yet: press b on the Images screen."
    LOAD_ERROR = "Cannot list the builds"
    NOTHING_SELECTED = "No build selected."
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "details", "Open log"),
        ListScreen.RELOAD_BINDING,
    ]

    def load_call(self) -> Callable[[], list[BuildView]]:
        return self.app.session.list_builds

    def key_of(self, view: BuildView) -> int:
        return view.id

    def fields(self, view: BuildView) -> tuple[object, ...]:
        return (view.image_ref, view.status)

    def row(self, build: BuildView) -> tuple[Text | str, ...]:
        took = "-"
        if build.started and build.finished:
            took = format_duration((build.finished - build.started).total_seconds())
        return (
            str(build.id),
            Text(build.image_ref),
            status_text(build.status),
            ago(build.started),
            took,
            str(build.tolerated),
            str(build.warnings),
            "" if build.exit_code is None else str(build.exit_code),
        )

    def open(self, view: BuildView) -> None:
        self.app.push_screen(BuildScreen(build=view))
