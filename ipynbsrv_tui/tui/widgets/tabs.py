"""The section tab line: every section the actor may open and its key, always on screen (DESIGN §9).

It reads `app.sections` (each with `mode`, `title`, `short_title` and `key`) and `app.current_mode`, so a
new section appears here as soon as it is listed in `tui.app.SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.cells import cell_len
from rich.text import Text

CURRENT_STYLE = "bold reverse"
KEY_STYLE = "bold"


class SectionLike(Protocol):
    mode: str
    title: str
    key: str

    @property
    def short_title(self) -> str: ...


def _tab(key: str, title: str, current: bool) -> Text:
    text = Text(no_wrap=True)
    text.append(f" {key} ", style=CURRENT_STYLE if current else KEY_STYLE)
    text.append(f"{title} ", style=CURRENT_STYLE if current else "")
    return text


def tab_spans(sections: Sequence[SectionLike], current: str | None, width: int) -> list[tuple[str, Text]]:
    """Each section's tab as (mode, text): full titles when they fit in `width`, else short ones
    (the current section keeps its full title), else keys only around the current section."""
    attempts = (
        lambda s: s.title,
        lambda s: s.title if s.mode == current else s.short_title,
        lambda s: s.title if s.mode == current else "",
    )
    tabs: list[tuple[str, Text]] = []
    for title_of in attempts:
        tabs = [(s.mode, _tab(s.key, title_of(s), s.mode == current)) for s in sections]
        if sum(cell_len(t.plain) for _mode, t in tabs) <= width:
            break
    return tabs


def tab_line(sections: Sequence[SectionLike], current: str | None, width: int) -> Text:
    """The tab line as one styled Text (plain text only, never markup)."""
    line = Text(no_wrap=True, overflow="ellipsis")
    for _mode, tab in tab_spans(sections, current, width):
        line.append_text(tab)
    return line


def mode_at(sections: Sequence[SectionLike], current: str | None, width: int, x: int) -> str | None:
    """The section whose tab is at column `x` (for mouse clicks), or None."""
    start = 0
    for mode, tab in tab_spans(sections, current, width):
        end = start + cell_len(tab.plain)
        if start <= x < end:
            return mode
        start = end
    return None
