"""The Textual application."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

from ..config import Config


class IpynbsrvApp(App):
    """ipynbsrv-tui: admin console and self-service screen."""

    TITLE = "ipynbsrv-tui"

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Configuration: {self.config.source or 'embedded defaults'}", markup=False)
        yield Footer()
