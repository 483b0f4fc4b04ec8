"""One-widget apps around the build log and the container log, for the log tests."""

from __future__ import annotations

from textual.app import App

from ipynbsrv_tui.tui.widgets.buildlog import BuildLogView
from ipynbsrv_tui.tui.widgets.logview import LogPanel


class BuildLogApp(App):
    def __init__(self, theme: str = "textual-dark") -> None:
        super().__init__()
        self.wanted_theme = theme

    def compose(self):
        yield BuildLogView(max_lines=1000)

    def on_mount(self) -> None:
        self.theme = self.wanted_theme


class LogApp(App):
    def compose(self):
        yield LogPanel(max_lines=1000)
