"""A read-only modal that lists the outcome of a long action (e.g. what reconcile repaired)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from .dialog import Dialog


class ReportScreen(Dialog[None]):
    """Titled sections of plain-text lines; Escape or Enter closes it."""

    DEFAULT_CSS = """
    ReportScreen { align: center middle; }
    ReportScreen > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ReportScreen .report-title { text-style: bold; }
    ReportScreen VerticalScroll { height: auto; max-height: 1fr; }
    ReportScreen .report-heading { text-style: bold; margin-top: 1; }
    ReportScreen .report-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("enter", "dismiss", "Close", show=False)]

    def __init__(self, title: str, summary: str, sections: Sequence[tuple[str, Sequence[str]]]) -> None:
        super().__init__()
        self.report_title = title
        self.summary = summary
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.report_title), classes="report-title")
            yield Static(Text(self.summary))
            with VerticalScroll():
                for heading, lines in self.sections:
                    if not lines:
                        continue
                    yield Static(Text(f"{heading} ({len(lines)})"), classes="report-heading")
                    yield Static(Text("\n".join(f"• {line}" for line in lines)))
            yield Static(Text("Escape closes."), classes="report-hint")
