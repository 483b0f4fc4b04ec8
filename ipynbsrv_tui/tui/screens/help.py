"""`?`: the keys of the screen underneath and of the whole app."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ..widgets.dialog import Dialog

# Scrolling and cursor keys of the widgets themselves: summarised in NAVIGATION_HELP instead.
NAVIGATION_ACTIONS = ("scroll_", "page_", "cursor_", "copy_text", "first", "last", "top", "bottom")
FILTER_HELP = (
    "Filter (/): words match the owner, the name or the state (prefix); "
    "owner:alice, name:thesis, state:run and image:py narrow to one field. "
    "Enter keeps the filter, Escape clears it."
)
NAVIGATION_HELP = (
    "Arrows or j/k, PgUp/PgDn, Home/End or g/G move; Tab moves between fields; ctrl+p finds any action by "
    "name. The URL copy (y / Y) uses your terminal's clipboard (OSC 52)."
)


class HelpScreen(Dialog[None]):
    """Lists every key active on the screen it was opened from, then the app-wide keys.

    A screen that is not a section's list names itself with `HELP_TITLE` and replaces the list
    notes (filter syntax) with its own `HELP_NOTES`.
    """

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 100; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .help-title { text-style: bold; }
    HelpScreen .help-hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, screen: Screen, section: str) -> None:
        super().__init__()
        self.section = getattr(screen, "HELP_TITLE", "") or section
        self.notes: tuple[str, ...] = getattr(screen, "HELP_NOTES", (FILTER_HELP, NAVIGATION_HELP))
        self.rows = self._collect(screen)

    def _collect(self, screen: Screen) -> list[tuple[str, str, str]]:
        app = screen.app
        rows: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if (not binding.description or binding.system or binding.action in seen
                    or binding.action.rsplit(".", 1)[-1].startswith(NAVIGATION_ACTIONS)):
                continue
            seen.add(binding.action)
            where = "everywhere" if active.node is app else "here"
            rows.append((app.get_key_display(binding), binding.description, where))
        rows.sort(key=lambda row: (row[2] != "here", row[0].lower()))
        return rows

    def compose(self) -> ComposeResult:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        grid.add_column(style="dim")
        for key, description, where in self.rows:
            grid.add_row(Text(key), Text(description), Text(where))
        with Vertical():
            yield Static(Text(f"Keys — {self.section}"), classes="help-title")
            with VerticalScroll():
                yield Static(grid)
                yield Static(Text(""))
                for note in self.notes:
                    yield Static(Text(note))
            yield Static(Text("Escape or ? closes."), classes="help-hint")
