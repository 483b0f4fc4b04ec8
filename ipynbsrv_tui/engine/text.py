"""Turning terminal output into plain lines: ANSI stripping, `\\r` folding, joining split lines.

Shared by the build-log classifier and the container log follower, so both show the same text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# CSI sequences (colours, cursor moves), OSC sequences (window titles, links), then every other
# escape: optional intermediate bytes and one final byte (ESC 7, ESC ( B, ESC =).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])")
# Control characters left after the escapes are gone (tab is kept).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A line longer than this is cut into pieces: output without newlines must not grow without bound.
MAX_LINE = 65_536


def strip_ansi(text: str) -> str:
    """`text` without ANSI escape sequences."""
    return _ANSI.sub("", text)


def fold_carriage_returns(line: str) -> str:
    """What a terminal would finally show for a line rewritten with `\\r` (progress counters)."""
    if "\r" not in line:
        return line
    for segment in reversed(line.split("\r")):
        if segment:
            return segment
    return ""


def plain_line(raw: str) -> str:
    """One raw output line as plain text: folded, no escapes, no control characters, no trailing blanks."""
    return _CONTROL.sub("", strip_ansi(fold_carriage_returns(raw))).rstrip()


class Line(NamedTuple):
    """A complete raw line and whether any part of it was fed with `marked=True`."""

    text: str
    marked: bool


class LineAssembler:
    """Joins text fragments into complete lines, however the fragments were cut.

    A line that is rewritten with `\\r` is compacted as it grows, so a progress counter that
    runs for a long time without a newline keeps only its latest state in memory.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._marked = False

    def feed(self, text: str, marked: bool = False) -> list[Line]:
        """Add a fragment; return the lines it completed (without their `\\n`)."""
        if not text:
            return []
        pieces = text.split("\n")
        lines: list[Line] = []
        for piece in pieces[:-1]:
            lines.append(Line(self._pending + piece, self._marked or (marked and bool(piece))))
            self._pending, self._marked = "", False
        tail = pieces[-1]
        if tail:
            self._pending += tail
            self._marked = self._marked or marked
            if "\r" in tail:
                self._pending = _compact(self._pending)
            while len(self._pending) > MAX_LINE:
                lines.append(Line(self._pending[:MAX_LINE], self._marked))
                self._pending = self._pending[MAX_LINE:]
        return lines

    def flush(self) -> list[Line]:
        """The unfinished last line, if any (call when the stream has ended)."""
        if not self._pending:
            return []
        line = Line(self._pending, self._marked)
        self._pending, self._marked = "", False
        return [line]


def _compact(pending: str) -> str:
    """Keep only the latest state of a `\\r`-rewritten partial line (and a trailing `\\r`)."""
    ends_with_cr = pending.endswith("\r")
    latest = fold_carriage_returns(pending)
    return latest + "\r" if ends_with_cr else latest
