"""The one virtual log view base, under the build log and the container log (DESIGN §9).

`VirtualLog` keeps the last `max_lines` items in a deque and paints only the visible ones, one
Strip per line (cached for a few screens, by absolute line number). It follows the end by
default; scrolling up (keys, wheel, scrollbar) pauses following and shows a marker on the last
row ("paused · N new lines · End or f follows"); `End`, `f` (in the panels) or scrolling back
down to the end resumes. Subclasses say how an item looks (`render_item`) and what its text is.

`w` wraps long lines (issue 28, item 7): an item then takes ceil(cells / view width) rows, at
least one, and there is no horizontal scrolling. Rows map to items through cumulative row counts
(`_ends`), extended as lines arrive and rebuilt only when the view's width changes; a row is found
by bisection, so following, the marker, search jumps and scrolling count rows, not lines.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable
from typing import ClassVar, Generic, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollDown, ScrollTo, ScrollUp
from textual.strip import Strip

Item = TypeVar("Item")
MAX_WIDTH = 4_000
CACHED_STRIPS = 128


class VirtualLog(ScrollView, Generic[Item], can_focus=True):
    """A bounded, lazily painted, following log of `Item`s (see the module docstring)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"virtual-log--paused"}
    DEFAULT_CSS = """
    VirtualLog {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .virtual-log--paused { background: $warning; color: $background; text-style: bold; }
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
        # The keys k9s, lazydocker and less users type (issue 28, item 7).
        Binding("k", "scroll_lines(-1)", "Up", show=False),
        Binding("j", "scroll_lines(1)", "Down", show=False),
        Binding("g", "top", "Top", show=False),
        Binding("G", "bottom", "End", show=False, key_display="G"),
        Binding("w", "toggle_wrap", "Wrap"),
    ]

    follow: reactive[bool] = reactive(True, init=False)
    """Keep the newest line in view; False while the reader looks at older lines."""

    class StateChanged(Message):
        """Following, the line count or a search position changed (for a status line)."""

    def __init__(self, max_lines: int, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self._items: deque[Item] = deque(maxlen=max_lines)
        self._lengths: deque[int] = deque(maxlen=max_lines)  # each kept item's width in cells
        self.wrap = False
        self._wrap_width = 0  # the width `_ends` was counted for; 0: not counted
        # `_ends[_skip + i]` is the first row of kept item i, counted from an arbitrary origin (the
        # rows of items dropped since the last compaction); the last entry ends the last item.
        self._ends: list[int] = [0]
        self._skip = 0
        self._total = 0
        self._width = 0
        self._unseen = 0
        self._cache: LRUCache[int, Strip] = LRUCache(CACHED_STRIPS)
        self._base: Style | None = None  # the widget's rich style, computed once per style change

    # ------------------------------------------------------------------ for subclasses

    def item_text(self, item: Item) -> str:
        """The plain text of an item (for widths and searching)."""
        return str(item)

    def render_item(self, item: Item, number: int, base: Style) -> Strip:
        """The whole line of one item; `number` is its absolute line number (see `first_number`)."""
        text = self.item_text(item)
        return Strip([Segment(text, base)], cell_len(text))

    # ------------------------------------------------------------------ content

    @property
    def line_count(self) -> int:
        """Lines kept (at most `max_lines`)."""
        return len(self._items)

    @property
    def total_lines(self) -> int:
        """Lines ever appended, including those no longer kept."""
        return self._total

    @property
    def dropped(self) -> int:
        """Lines dropped from the top to stay within max_lines."""
        return self._total - len(self._items)

    @property
    def first_number(self) -> int:
        """The absolute number of the oldest kept line."""
        return self._total - len(self._items)

    @property
    def unseen(self) -> int:
        """Lines appended since following paused."""
        return self._unseen

    def append(self, items: Iterable[Item]) -> None:
        """Add a batch of items (one repaint per batch, however large)."""
        new = list(items)
        if not new:
            return
        width = self._width
        lengths = []
        for item in new:
            text = self.item_text(item)
            length = len(text) if text.isascii() else cell_len(text)
            lengths.append(length)
            if length > width:
                width = length
        self._width = min(MAX_WIDTH, width)
        before = len(self._items)
        self._items.extend(new)
        self._lengths.extend(lengths)
        self._total += len(new)
        dropped = before + len(new) - len(self._items)
        dropped_rows = dropped
        if self._wrap_width:
            dropped_rows = self._add_rows(lengths, dropped)
        self._set_virtual_size()
        if self.follow:
            self._to_end()
        else:
            self._unseen += len(new)
            if dropped:  # keep the lines being read in place while older ones drop off the top
                self.scroll_to(y=max(0, self.scroll_y - dropped_rows), animate=False, immediate=True)
        self.refresh()
        self.post_message(self.StateChanged())

    def clear(self) -> None:
        self._items.clear()
        self._lengths.clear()
        self._ends, self._skip = [0], 0
        self._total = 0
        self._width = 0
        self._unseen = 0
        self._cache.clear()
        self._set_virtual_size()
        self.refresh()
        self.post_message(self.StateChanged())

    def item(self, index: int) -> Item:
        """The kept item at `index` (0 = oldest kept)."""
        return self._items[index]

    def forget_strips(self, *numbers: int) -> None:
        """Repaint these absolute lines (all when none are given), e.g. after a search changed."""
        if numbers:
            for number in numbers:
                self._cache.discard(number)
        else:
            self._cache.clear()
        self.refresh()

    # ------------------------------------------------------------------ wrapping

    def _view_width(self) -> int:
        return self.scrollable_content_region.width

    def _count_rows(self) -> None:
        """Count every kept item's rows for the view's width (after a resize or turning wrap on)."""
        width = self._view_width()
        if width <= 0:
            self._wrap_width = 0
            return
        ends = [0] * (len(self._lengths) + 1)
        total = 0
        for i, length in enumerate(self._lengths, 1):
            total += -(-length // width) or 1
            ends[i] = total
        self._ends, self._skip, self._wrap_width = ends, 0, width

    def _add_rows(self, lengths: list[int], dropped: int) -> int:
        """Extend the row counts by new items and drop `dropped` old ones; the rows dropped."""
        width, ends = self._wrap_width, self._ends
        total = ends[-1]
        for length in lengths:
            total += -(-length // width) or 1
            ends.append(total)
        # Items appended and dropped in the same batch were never counted as kept: skip them too.
        skip = self._skip + dropped
        dropped_rows = ends[skip] - ends[self._skip]
        if skip > 4096 and skip * 2 > len(ends):  # compact now and then: amortised O(1) per line
            del ends[:skip]
            skip = 0
        self._skip = skip
        return dropped_rows

    def _rows_ready(self, width: int | None = None) -> bool:
        """Whether rows are wrapped items (counted for the current width), else one row per item.
        `width` is the view's width when the caller has it (painting a row asks once per row)."""
        if not self.wrap:
            return False
        if self._wrap_width != (self._view_width() if width is None else width):
            self._count_rows()
        return self._wrap_width > 0

    @property
    def row_count(self) -> int:
        """Rows the kept items take (the line count unless wrapping)."""
        if self._rows_ready():
            return self._ends[-1] - self._ends[self._skip]
        return len(self._items)

    def row_of(self, index: int) -> int:
        """The first row of kept item `index`."""
        if self._rows_ready():
            return self._ends[self._skip + index] - self._ends[self._skip]
        return index

    def locate(self, row: int, width: int | None = None) -> tuple[int, int]:
        """(kept item index, which of its rows) at `row`; the index is `line_count` past the end."""
        if not self._rows_ready(width):
            return row, 0
        ends, skip = self._ends, self._skip
        absolute = ends[skip] + row
        if absolute >= ends[-1]:
            return len(self._items), 0
        position = bisect_right(ends, absolute, skip, len(ends)) - 1
        return position - skip, absolute - ends[position]

    def action_toggle_wrap(self) -> None:
        """`w`: wrap long lines to the view's width, or go back to one row per line."""
        self.set_wrap(not self.wrap)

    def set_wrap(self, wrap: bool) -> None:
        if wrap == self.wrap:
            return
        top, _part = self.locate(int(self.scroll_y))
        self.wrap = wrap
        self._wrap_width = 0
        self._ends, self._skip = [0], 0
        # The scrollbar's column stays reserved while wrapping: the wrap width cannot flip with it.
        self.styles.scrollbar_gutter = "stable" if wrap else "auto"
        self._relayout(top)
        self.post_message(self.StateChanged())

    def _relayout(self, top: int) -> None:
        """A new virtual size for the rows; the end in view when following, else item `top` on top."""
        self._set_virtual_size()
        if self.follow:
            self._to_end()
        elif top < len(self._items):
            self.scroll_to(y=self.row_of(top), animate=False, immediate=True, force=True)
        self.refresh()

    # ------------------------------------------------------------------ following

    def _set_virtual_size(self) -> None:
        # While paused the last row shows the marker, so the content is one row taller.
        width = self._wrap_width if self._rows_ready() else self._width
        self.virtual_size = Size(width, self.row_count + (0 if self.follow else 1))

    def _to_end(self) -> None:
        # Forced: while wrapping the gutter is stable, so new rows bring no Resize that would
        # scroll again once the scrollbar shows (scrolling is refused until it does).
        self.scroll_to(y=max(0, self.virtual_size.height - self.scrollable_content_region.height),
                       animate=False, immediate=True, force=True)

    def watch_follow(self, follow: bool) -> None:
        self._set_virtual_size()
        if follow:
            self._unseen = 0
            self._to_end()
        self.refresh()
        self.post_message(self.StateChanged())

    def on_resize(self, _event: events.Resize) -> None:
        if self.wrap and self._wrap_width != self._view_width():
            top = self._top_before_resize()
            self._relayout(top)
        elif self.follow:
            self._to_end()

    def _top_before_resize(self) -> int:
        """The item on the top row, located with the rows counted for the old width."""
        if not self._wrap_width:
            return 0
        ends, skip = self._ends, self._skip
        absolute = ends[skip] + int(self.scroll_y)
        if absolute >= ends[-1]:
            return len(self._items)
        return bisect_right(ends, absolute, skip, len(ends)) - 1 - skip

    def on_show(self, _event: events.Show) -> None:
        if self.follow:
            self.call_after_refresh(self._to_end)

    def _pause(self) -> None:
        if self.follow:
            self.follow = False

    def _resume_at_end(self) -> None:
        if not self.follow and self.scroll_y >= self.max_scroll_y:
            self.follow = True

    def action_scroll_lines(self, delta: int) -> None:
        if delta < 0:
            self._pause()
        self.scroll_to(y=self.scroll_y + delta, animate=False, immediate=True)
        if delta > 0:
            self._resume_at_end()

    def action_scroll_page(self, direction: int) -> None:
        if direction < 0:
            self._pause()
        height = self.scrollable_content_region.height
        self.scroll_to(y=self.scroll_y + direction * height, animate=False, immediate=True)
        if direction > 0:
            self._resume_at_end()

    def action_top(self) -> None:
        self._pause()
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_bottom(self) -> None:
        self.follow = True
        self._to_end()

    def on_mouse_scroll_up(self, _event: events.MouseScrollUp) -> None:
        self._pause()

    def on_mouse_scroll_down(self, _event: events.MouseScrollDown) -> None:
        self.call_after_refresh(self._resume_at_end)

    def on_scroll_up(self, _message: ScrollUp) -> None:
        self._pause()

    def on_scroll_down(self, _message: ScrollDown) -> None:
        self.call_after_refresh(self._resume_at_end)

    def on_scroll_to(self, message: ScrollTo) -> None:
        if message.y is not None and message.y < self.max_scroll_y:
            self._pause()

    # ------------------------------------------------------------------ painting

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._base = None

    @property
    def base_style(self) -> Style:
        """`rich_style`, cached: computing it from the CSS is most of a line's painting cost."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def marker(self, width: int) -> Strip:
        """The last row while paused: says so, how many lines came since, and how to resume."""
        text = f" ‖ paused · {self._unseen:,} new line{'' if self._unseen == 1 else 's'} · End or f follows "
        style = self.get_component_rich_style("virtual-log--paused")
        return Strip([Segment(text, style)], cell_len(text)).crop_extend(0, width, style)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width, height = self.scrollable_content_region.size  # without the scrollbars
        base = self.base_style
        if not self.follow and y == height - 1:
            return self.marker(width)
        index, part = self.locate(scroll_y + y, width)
        if index >= len(self._items):
            return Strip.blank(width, base)
        number = self._total - len(self._items) + index
        strip = self._cache.get(number)
        if strip is None:
            strip = self.render_item(self._items[index], number, base)
            self._cache[number] = strip
        if self.wrap and self._wrap_width:
            start = part * width
            return fit(strip, start, width, base).apply_offsets(start, index)
        return fit(strip, scroll_x, width, base).apply_offsets(scroll_x, index)


def fit(strip: Strip, start: int, width: int, pad: Style) -> Strip:
    """`strip` from cell `start`, exactly `width` cells, padded in `pad`. A one-segment ASCII line
    (most log lines) is cut by slicing its text: Strip's own cropping builds a strip per step."""
    segments = list(strip)
    if len(segments) == 1 and segments[0].text.isascii() and not segments[0].control:
        text, style, _control = segments[0]
        piece = text[start:start + width]
        if len(piece) == width:
            return Strip([Segment(piece, style)], width)
        return Strip([Segment(piece, style), Segment(" " * (width - len(piece)), pad)], width)
    return strip.crop_extend(start, start + width, pad)
