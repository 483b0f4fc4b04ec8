"""A bounded, searchable log view for live container logs.

`LogView` (a `VirtualLog`) paints only visible lines from a bounded list of plain strings (no
markup, control characters shown as �), follows the end while `follow` is on, and highlights a
search term.
`LogPanel` adds a status line, a search box (`/`), match jumping (`n` / `N`) and the follow
toggle (`f`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Input, Static

from .format import printable
from .logsearch import SearchableLog
from .virtuallog import VirtualLog

DEFAULT_MAX_LINES = 20_000


class LogView(SearchableLog, VirtualLog[str]):
    """Plain-text log lines (control characters shown as �) with a highlighted search term."""

    COMPONENT_CLASSES: ClassVar[set[str]] = VirtualLog.COMPONENT_CLASSES | {"log-view--match",
                                                                             "log-view--current-match"}
    DEFAULT_CSS = """
    LogView {
        & > .log-view--match { background: $warning 40%; }
        & > .log-view--current-match { background: $accent; color: $foreground; text-style: bold; }
    }
    """

    def __init__(
        self, max_lines: int = DEFAULT_MAX_LINES, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(max_lines, id=id, classes=classes)
        self.search_term = ""
        self._current_match: int | None = None  # absolute line number

    @property
    def lines(self) -> list[str]:
        return list(self._items)

    def append(self, lines: Iterable[str]) -> None:
        """Add a batch of lines (one repaint per batch, however large)."""
        super().append(printable(line) for line in lines)

    def clear(self) -> None:
        self._current_match = None
        super().clear()

    # ------------------------------------------------------------------ painting

    def render_item(self, item: str, number: int, base: Style) -> Strip:
        if not self.search_term:
            return Strip([Segment(item, base)], cell_len(item))
        return self.highlighted(item, number, base, self.get_component_rich_style("log-view--match"),
                                self.get_component_rich_style("log-view--current-match"))


class LogPanel(Vertical):
    """A LogView with a status line, a search box and the follow toggle."""

    DEFAULT_CSS = """
    LogPanel { height: 1fr; }
    LogPanel > .log-status { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    LogPanel > Input { display: none; }
    LogPanel.-searching > Input { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("slash", "open_search", "Search"),
        Binding("n", "next_match", "Next match"),
        # In ? help, not the footer: at 80 columns it keeps the tab keys after `w Wrap` (issue 28).
        Binding("N", "previous_match", "Previous match", show=False, key_display="N"),
        Binding("t", "toggle_timestamps", "Timestamps on/off", show=False),
    ]

    class TimestampsToggled(Message):
        """`t`: the log is to be read again with (or without) the engine's time of each line."""

        def __init__(self, timestamps: bool) -> None:
            super().__init__()
            self.timestamps = timestamps

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = LogView(max_lines=max_lines)
        self.status = Static("", classes="log-status", markup=False)
        self.note = ""
        self.timestamps = False
        self._status_line = ""

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.view
        yield Input(placeholder="search the log, Enter to find, Escape to close", id="log-search")

    def on_mount(self) -> None:
        self._update_status()

    def append(self, lines: Iterable[str]) -> None:
        self.view.append(lines)

    def set_note(self, note: str) -> None:
        """A short state shown in the status line, e.g. 'container stopped'."""
        self.note = note
        self._update_status()

    @on(LogView.StateChanged)
    def _state_changed(self, event: LogView.StateChanged) -> None:
        event.stop()
        self._update_status()

    def _update_status(self) -> None:
        view = self.view
        parts = [
            "following (f pauses)" if view.follow else "paused (End or f follows)",
            f"{view.line_count} lines",
        ]
        if view.dropped:
            parts.append(f"{view.dropped} older dropped")
        if view.search_term:
            where = f"line {view.current_match + 1}" if view.current_match is not None else "no match"
            parts.append(f"search {view.search_term!r}: {where} (n/N)")
        if view.wrap:
            parts.append("wrap (w unwraps)")
        if self.timestamps:
            parts.append("timestamps (t hides)")
        if self.note:
            parts.append(self.note)
        line = " · ".join(parts)
        if line != self._status_line:
            self._status_line = line
            self.status.update(Text(line), layout=False)

    def action_toggle_follow(self) -> None:
        self.view.follow = not self.view.follow

    def action_toggle_timestamps(self) -> None:
        """The lines are read again from the engine, each after its time (RFC 3339, UTC)."""
        self.timestamps = not self.timestamps
        self.view.clear()
        self.view.follow = True
        self._update_status()
        self.post_message(self.TimestampsToggled(self.timestamps))

    def action_open_search(self) -> None:
        self.add_class("-searching")
        search = self.query_one("#log-search", Input)
        search.value = self.view.search_term
        search.focus()

    def action_next_match(self) -> None:
        self.view.find(forward=True)

    def action_previous_match(self) -> None:
        self.view.find(forward=False)

    @on(Input.Submitted, "#log-search")
    def _search(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-searching")
        self.view.search(event.value)
        self.view.focus()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.has_class("-searching"):
            event.stop()
            event.prevent_default()
            self.remove_class("-searching")
            self.view.focus()
