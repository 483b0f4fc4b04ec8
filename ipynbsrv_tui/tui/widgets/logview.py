"""A bounded, searchable log view for live container logs.

`LogView` paints only visible lines from a bounded list of plain strings (no markup, control
characters shown as �), follows the end while `follow` is on, and highlights a search term.
`LogPanel` adds a status line, a search box (`/`), match jumping (`n` / `N`) and the follow
toggle (`f`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from .format import printable

DEFAULT_MAX_LINES = 20_000
MAX_WIDTH = 4_000


class LogView(ScrollView, can_focus=True):
    """Plain-text log lines, bounded to `max_lines`, rendered lazily; `follow` keeps the end in view."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-view--match", "log-view--current-match"}
    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .log-view--match { background: $warning 40%; }
        & > .log-view--current-match { background: $accent; color: $foreground; text-style: bold; }
        &:focus { background-tint: $foreground 5%; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_lines(-1)", "Up", show=False),
        Binding("down", "scroll_lines(1)", "Down", show=False),
        Binding("pageup", "scroll_page(-1)", "Page up", show=False),
        Binding("pagedown", "scroll_page(1)", "Page down", show=False),
        Binding("home", "top", "Top", show=False),
        Binding("end", "bottom", "End", show=False),
    ]

    follow: reactive[bool] = reactive(True)

    class StateChanged(Message):
        """Follow, line count or search position changed (for the status line)."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self._lines: list[str] = []
        self._dropped = 0
        self._width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(256)
        self.search_term = ""
        self._current_match: int | None = None

    # ------------------------------------------------------------------ content

    @property
    def lines(self) -> list[str]:
        return self._lines

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def dropped(self) -> int:
        """Lines dropped from the top to stay within max_lines."""
        return self._dropped

    @property
    def current_match(self) -> int | None:
        return self._current_match

    def append(self, lines: Iterable[str]) -> None:
        """Add a batch of lines (one repaint per batch, however large)."""
        new = [printable(line) for line in lines]
        if not new:
            return
        self._lines.extend(new)
        self._width = min(MAX_WIDTH, max(self._width, max(len(line) for line in new)))
        excess = len(self._lines) - self.max_lines
        if excess > 0:
            # Trim in chunks so that a steady stream does not shift the whole list on every batch.
            excess = max(excess, self.max_lines // 10)
            del self._lines[:excess]
            self._dropped += excess
            self._cache.clear()
            if self._current_match is not None:
                self._current_match = self._current_match - excess if self._current_match >= excess else None
        self.virtual_size = Size(self._width, len(self._lines))
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()
        self.post_message(self.StateChanged())

    def clear(self) -> None:
        self._lines.clear()
        self._cache.clear()
        self._width = 0
        self._dropped = 0
        self._current_match = None
        self.virtual_size = Size(0, 0)
        self.refresh()
        self.post_message(self.StateChanged())

    # ------------------------------------------------------------------ search

    def search(self, term: str) -> int | None:
        """Highlight `term` (case-insensitive) and jump to its last match; the line index or None."""
        self.search_term = term
        self._cache.clear()
        self._current_match = None
        self.refresh()
        if not term:
            self.post_message(self.StateChanged())
            return None
        return self.find(forward=False, start=len(self._lines))

    def find(self, forward: bool = True, start: int | None = None) -> int | None:
        """Jump to the next (or previous) line containing the search term; following stops."""
        term = self.search_term.lower()
        if not term or not self._lines:
            return None
        count = len(self._lines)
        if start is None:
            start = self._current_match if self._current_match is not None else (count if not forward else -1)
        step = 1 if forward else -1
        index = start + step
        for _ in range(count):
            if index >= count:
                index = 0
            elif index < 0:
                index = count - 1
            if term in self._lines[index].lower():
                self._jump(index)
                return index
            index += step
        self.post_message(self.StateChanged())
        return None

    def match_count(self) -> int:
        term = self.search_term.lower()
        return sum(1 for line in self._lines if term in line.lower()) if term else 0

    def _jump(self, index: int) -> None:
        previous = self._current_match
        self._current_match = index
        self.follow = False
        for line in (previous, index):
            if line is not None:
                self._cache.discard(line)
        height = self.scrollable_content_region.height
        self.scroll_to(y=max(0, index - height // 2), animate=False, immediate=True)
        self.refresh()
        self.post_message(self.StateChanged())

    # ------------------------------------------------------------------ scrolling

    def watch_follow(self, follow: bool) -> None:
        if follow and self.is_mounted:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.post_message(self.StateChanged())

    def action_scroll_lines(self, delta: int) -> None:
        if delta < 0:
            self.follow = False
        self.scroll_to(y=self.scroll_offset.y + delta, animate=False, immediate=True)

    def action_scroll_page(self, direction: int) -> None:
        if direction < 0:
            self.follow = False
        height = self.scrollable_content_region.height
        self.scroll_to(y=self.scroll_offset.y + direction * height, animate=False, immediate=True)

    def action_top(self) -> None:
        self.follow = False
        self.scroll_home(animate=False, immediate=True)

    def action_bottom(self) -> None:
        self.follow = True

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False

    # ------------------------------------------------------------------ painting

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = int(scroll_y) + y
        base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        strip = self._cache.get(index)
        if strip is None:
            strip = self._render_line(index, base)
            self._cache[index] = strip
        return strip.crop_extend(int(scroll_x), int(scroll_x) + width, base)

    def _render_line(self, index: int, base: Style) -> Strip:
        line = self._lines[index]
        text = Text(line, style=base, no_wrap=True, end="")
        term = self.search_term
        if term:
            component = "log-view--current-match" if index == self._current_match else "log-view--match"
            text.highlight_words([term], style=self.get_component_rich_style(component), case_sensitive=False)
        return Strip(text.render(self.app.console), text.cell_len)


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
        Binding("N", "previous_match", "Previous match", key_display="N"),
    ]

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = LogView(max_lines=max_lines)
        self.status = Static("", classes="log-status", markup=False)
        self.note = ""
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
        parts = ["following (f)" if view.follow else "paused (f to follow)", f"{view.line_count} lines"]
        if view.dropped:
            parts.append(f"{view.dropped} older dropped")
        if view.search_term:
            where = f"line {view.current_match + 1}" if view.current_match is not None else "no match"
            parts.append(f"search {view.search_term!r}: {where} (n/N)")
        if self.note:
            parts.append(self.note)
        line = " · ".join(parts)
        if line != self._status_line:
            self._status_line = line
            self.status.update(Text(line), layout=False)

    def action_toggle_follow(self) -> None:
        self.view.follow = not self.view.follow

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
