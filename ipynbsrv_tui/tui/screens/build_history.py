"""The build history: every build with its outcome; Enter reopens its log."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from ...domain import BuildStatus, BuildView
from ..background import Background
from ..widgets.buildlog import format_duration
from ..widgets.footer import KeysFooter
from ..widgets.format import ago
from ..widgets.statusbar import StatusBar
from ..widgets.table import Column, VirtualTable
from .build import BuildScreen

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


class BuildHistoryScreen(Background, Screen):
    """Every build, newest first: image, status, start, duration, tolerated lines, warnings, exit code."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open", "Open log"),
        Binding("f5", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.builds: dict[int, BuildView] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar("Images › Builds")
        yield VirtualTable(COLUMNS, self._row, empty_text="No builds yet: press b on the Images screen.",
                           id="builds")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(VirtualTable).focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.run_call(self.app.session.list_builds, then=self.show_builds, group="load", exclusive=True,
                  title="Cannot list the builds")

    def show_builds(self, builds: list[BuildView]) -> None:
        self.builds = {b.id: b for b in builds}
        self.query_one(VirtualTable).set_rows([b.id for b in builds])

    def _row(self, build_id: int):
        build = self.builds[build_id]
        took = "-"
        if build.started and build.finished:
            took = format_duration((build.finished - build.started).total_seconds())
        return (
            str(build.id), Text(build.image_ref), status_text(build.status), ago(build.started),
            took, str(build.tolerated), str(build.warnings), "" if build.exit_code is None else str(build.exit_code),
        )

    @on(VirtualTable.RowSelected)
    def _selected(self, event: VirtualTable.RowSelected) -> None:
        event.stop()
        self._open(event.key)

    def action_open(self) -> None:
        self._open(self.query_one(VirtualTable).cursor_key)

    def _open(self, build_id) -> None:
        build = self.builds.get(build_id)
        if build is not None:
            self.app.push_screen(BuildScreen(build=build))
