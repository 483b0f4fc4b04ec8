"""A table that paints only the rows on screen, so 10,000 rows cost no more than 20.

The table holds row *keys*; the screen gives a `render_row(key)` function that returns the cells
as plain `str` or `rich.text.Text` (never markup). Filtering is the screen's job: it computes the
matching keys in memory and calls `set_rows(keys)`, which is O(rows) and paints nothing off
screen. Used by the container lists; any screen with a long list can use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .format import printable

Cell = str | Text
RowKey = Any  # an int id or a str name: Hashable would refuse the callbacks typed for either


@dataclass(frozen=True)
class Column:
    """A table column: `width` is its minimum, `grow` its share of the spare width."""

    key: str
    label: str
    width: int
    grow: int = 0
    justify: str = "left"


class VirtualTable(ScrollView, can_focus=True):
    """A keyboard-driven table with a row cursor that renders only its visible rows."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--even-row",
        "virtual-table--empty",
    }
    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .virtual-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .virtual-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .virtual-table--even-row { background: $surface-lighten-1 50%; }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .virtual-table--empty { color: $text-muted; text-style: italic; }
        &:focus {
            background-tint: $foreground 5%;
            & > .virtual-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Details", show=False),
        # The keys k9s and lazydocker users type (issue 28, item 7).
        Binding("k", "cursor_up", "Up", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False, key_display="G"),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)

    class RowHighlighted(Message):
        """The cursor moved to another row (`key` is None when the table is empty)."""

        def __init__(self, table: VirtualTable, key: RowKey | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    class RowSelected(Message):
        """Enter (or a click on the highlighted row) chose a row."""

        def __init__(self, table: VirtualTable, key: RowKey) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        render_row: Callable[[RowKey], Sequence[Cell]],
        *,
        empty_text: str = "Nothing to show.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.render_row = render_row
        self.empty_text = empty_text
        self._keys: list[RowKey] = []
        self._index: dict[RowKey, int] = {}
        self._widths: list[int] = [c.width for c in self.columns]
        self._cache: LRUCache[tuple, Strip] = LRUCache(512)
        self._last_highlighted: RowKey | None = None

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> Sequence[RowKey]:
        return self._keys

    @property
    def cursor_key(self) -> RowKey | None:
        if not self._keys:
            return None
        return self._keys[min(self.cursor_row, len(self._keys) - 1)]

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show other columns (e.g. a mark column while rows are marked); the rows are repainted."""
        columns = tuple(columns)
        if columns == self.columns:
            return
        self.columns = columns
        self._widths = [c.width for c in columns]
        self._cache.clear()
        self._update_virtual_size()
        self.refresh()

    def set_rows(self, keys: Sequence[RowKey]) -> None:
        """Show these rows in this order; the cursor stays on the same key when it is still shown."""
        current = self.cursor_key
        self._keys = list(keys)
        self._index = {key: i for i, key in enumerate(self._keys)}
        self._cache.clear()
        self._update_virtual_size()
        if current is not None and current in self._index:
            self.cursor_row = self._index[current]
        else:
            self.cursor_row = min(self.cursor_row, max(0, len(self._keys) - 1))
        self.refresh()

    def refresh_row(self, key: RowKey) -> None:
        """Repaint one row after its data changed (nothing happens when it is not shown)."""
        index = self._index.get(key)
        if index is None:
            return
        self._discard(key)
        self.refresh_line(index + 1)

    def refresh_rows(self, keys: Sequence[RowKey] | None = None) -> None:
        """Repaint several rows (all when `keys` is None), e.g. for ticking uptimes."""
        if keys is None:
            self._cache.clear()
            self.refresh()
            return
        for key in keys:
            self.refresh_row(key)

    def visible_keys(self) -> list[RowKey]:
        """The keys of the rows currently on screen."""
        first = int(self.scroll_offset.y)
        return self._keys[first : first + self._page_height()]

    def move_to(self, key: RowKey) -> bool:
        """Put the cursor on `key` if it is shown."""
        index = self._index.get(key)
        if index is None:
            return False
        self.cursor_row = index
        return True

    # ------------------------------------------------------------------ geometry

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _update_virtual_size(self) -> None:
        self._layout_columns()
        self.virtual_size = Size(sum(self._widths) + max(0, len(self._widths) - 1), len(self._keys) + 1)

    def _layout_columns(self) -> None:
        available = self.scrollable_content_region.width or self.size.width
        minimum = sum(c.width for c in self.columns) + max(0, len(self.columns) - 1)
        spare = max(0, available - minimum)
        weights = sum(c.grow for c in self.columns)
        widths = [c.width for c in self.columns]
        if spare and weights:
            given = 0
            growing = [i for i, c in enumerate(self.columns) if c.grow]
            for i in growing:
                share = spare * self.columns[i].grow // weights
                widths[i] += share
                given += share
            widths[growing[-1]] += spare - given
        if widths != self._widths:
            self._widths = widths
            self._cache.clear()

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._scroll_cursor_into_view()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # ------------------------------------------------------------------ cursor

    def watch_cursor_row(self, old: int, new: int) -> None:
        if self._keys:
            clamped = max(0, min(new, len(self._keys) - 1))
            if clamped != new:
                self.cursor_row = clamped
                return
        self._discard_index(old)
        self._discard_index(new)
        self._scroll_cursor_into_view()
        self.refresh()
        key = self.cursor_key
        if key != self._last_highlighted:
            self._last_highlighted = key
            self.post_message(self.RowHighlighted(self, key))

    def _scroll_cursor_into_view(self) -> None:
        if not self._keys:
            return
        top = int(self.scroll_offset.y)
        page = self._page_height()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.cursor_row = max(0, self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.cursor_row = min(max(0, len(self._keys) - 1), self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.cursor_row = max(0, self.cursor_row - self._page_height())

    def action_page_down(self) -> None:
        self.cursor_row = min(max(0, len(self._keys) - 1), self.cursor_row + self._page_height())

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = max(0, len(self._keys) - 1)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self._keys):
            if index == self.cursor_row:
                self.action_select()
            else:
                self.cursor_row = index

    # ------------------------------------------------------------------ painting

    def _discard(self, key: RowKey) -> None:
        for is_cursor in (False, True):
            self._cache.discard((key, is_cursor, self.has_focus))

    def _discard_index(self, index: int) -> None:
        if 0 <= index < len(self._keys):
            self._discard(self._keys[index])

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            strip = self._header_strip(base)
        else:
            index = int(scroll_y) + y - 1
            if index >= len(self._keys):
                if not self._keys and y == 1:
                    style = base + self.get_component_rich_style("virtual-table--empty")
                    return Strip(Text(self.empty_text, style=style).render(self.app.console)).crop_extend(
                        0, width, base
                    )
                return Strip.blank(width, base)
            strip = self._row_strip(index, base)
        return strip.crop_extend(int(scroll_x), int(scroll_x) + width, base)

    def _header_strip(self, base: Style) -> Strip:
        style = base + self.get_component_rich_style("virtual-table--header")
        cells: list[Cell] = [Text(c.label) for c in self.columns]
        return self._render_cells(cells, style)

    def _row_strip(self, index: int, base: Style) -> Strip:
        key = self._keys[index]
        is_cursor = index == self.cursor_row
        cache_key = (key, is_cursor, self.has_focus)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        style = base
        if index % 2:
            style = style + self.get_component_rich_style("virtual-table--even-row")
        if is_cursor:
            style = style + self.get_component_rich_style("virtual-table--cursor")
        strip = self._render_cells(list(self.render_row(key)), style)
        self._cache[cache_key] = strip
        return strip

    def _render_cells(self, cells: list[Cell], style: Style) -> Strip:
        line = Text(no_wrap=True, end="")
        for i, (column, width) in enumerate(zip(self.columns, self._widths, strict=False)):
            cell = cells[i] if i < len(cells) else ""
            text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            cleaned = printable(text.plain.replace("\n", " "))
            if cleaned != text.plain:
                text = Text(cleaned, style=text.style)
            text.truncate(width, overflow="ellipsis")
            text.align(column.justify, width)  # type: ignore[arg-type]
            if i:
                line.append(" ")
            line.append_text(text)
        segments = [
            Segment(seg.text, style + seg.style if seg.style else style)
            for seg in line.render(self.app.console)
        ]
        return Strip(segments, line.cell_len)
