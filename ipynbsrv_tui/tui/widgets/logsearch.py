"""Search in a `VirtualLog`: the container log and the build log find the same way (issue 28, item 7).

`SearchableLog` is mixed into a VirtualLog subclass: `search(term)` highlights the term
(case-insensitive) and jumps to its last match, `find()` to the next or previous one (following
stops); `highlighted()` paints a line with its matches. The panels bind `/`, `n` and `N` to it.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.strip import Strip


class SearchableLog:
    """Mixin for a VirtualLog: the search term, the line found last, and jumping between matches."""

    search_term: str = ""
    _current_match: int | None = None  # an absolute line number

    # provided by VirtualLog
    _items: Any
    first_number: int
    line_count: int

    @property
    def current_match(self) -> int | None:
        """The index (among the kept lines) of the line found last, or None."""
        if self._current_match is None or self._current_match < self.first_number:
            return None
        return self._current_match - self.first_number

    def search(self, term: str) -> int | None:
        """Highlight `term` (case-insensitive) and jump to its last match; the line index or None."""
        self.search_term = term
        self._current_match = None
        self.forget_strips()  # type: ignore[attr-defined]
        if not term:
            self.post_message(self.StateChanged())  # type: ignore[attr-defined]
            return None
        return self.find(forward=False, start=self.line_count)

    def find(self, forward: bool = True, start: int | None = None) -> int | None:
        """Jump to the next (or previous) line containing the search term; following stops."""
        term = self.search_term.lower()
        count = self.line_count
        if not term or not count:
            return None
        if start is None:
            current = self.current_match
            start = current if current is not None else (count if not forward else -1)
        step = 1 if forward else -1
        index = start + step
        for _ in range(count):
            if index >= count:
                index = 0
            elif index < 0:
                index = count - 1
            if term in self.item_text(self._items[index]).lower():  # type: ignore[attr-defined]
                self._jump(index)
                return index
            index += step
        self.post_message(self.StateChanged())  # type: ignore[attr-defined]
        return None

    def match_count(self) -> int:
        term = self.search_term.lower()
        if not term:
            return 0
        text = self.item_text  # type: ignore[attr-defined]
        return sum(1 for item in self._items if term in text(item).lower())

    def _jump(self, index: int) -> None:
        previous = self._current_match
        self._current_match = self.first_number + index
        self.follow = False
        self.forget_strips(*(n for n in (previous, self._current_match) if n is not None))  # type: ignore[attr-defined]
        height = self.scrollable_content_region.height  # type: ignore[attr-defined]
        row = self.row_of(index)  # type: ignore[attr-defined]
        self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)  # type: ignore[attr-defined]
        self.post_message(self.StateChanged())  # type: ignore[attr-defined]

    def highlighted(self, line: str, number: int, style: Style, match: Style, current: Style) -> Strip:
        """`line` painted in `style` with the search term's matches in `match` (`current` on the line
        found last)."""
        text = Text(line, no_wrap=True, end="")
        text.stylize(style)
        text.highlight_words([self.search_term], style=current if number == self._current_match else match,
                             case_sensitive=False)
        return Strip(text.render(self.app.console), text.cell_len)  # type: ignore[attr-defined]
