"""The live build log: classified BuildEvents, styled, in bounded memory, with a summary line."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Input, Static

from ...domain import BuildEvent, BuildEventKind, BuildStatus, BuildSummary
from .logsearch import SearchableLog
from .virtuallog import VirtualLog

MAX_LINES = 20_000
_CONTROL = re.compile("[\u0000-\u0008\u000a-\u001f\u007f]")

_COMPONENT: dict[str, str] = {  # BuildEventKind is a StrEnum: its values look up the same entries
    BuildEventKind.STEP: "buildlog--step",
    BuildEventKind.STDERR: "buildlog--stderr",
    BuildEventKind.TOLERATED: "buildlog--tolerated",
    BuildEventKind.ERROR: "buildlog--error",
    BuildEventKind.RESULT: "buildlog--result",
}


def display_text(event: BuildEvent) -> str:
    """The line shown for an event: plain text, tabs expanded, control characters made visible."""
    text = event.text
    if event.kind is BuildEventKind.RESULT:
        text = f"Image {event.image_id or event.text}"
    return _CONTROL.sub("\ufffd", text.expandtabs())


def log_lines(events: Sequence[BuildEvent]) -> list[tuple[str, str]]:
    """What `BuildLines` keeps for `events`: (kind value, shown text) per event."""
    return [(event.kind.value, display_text(event)) for event in events]


def format_duration(seconds: float) -> str:
    """`4.2s`, `3m 05s`, `1h 02m`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def short_id(image_id: str | None) -> str:
    """`sha256:0123456789ab` from a full image id."""
    if not image_id:
        return ""
    algorithm, _, digest = image_id.rpartition(":")
    return f"{algorithm + ':' if algorithm else ''}{digest[:12]}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


class BuildLines(SearchableLog, VirtualLog[tuple[str, str]]):
    """The build's lines, styled by kind: step bold, tolerated dim, warnings yellow, errors red.

    A line is kept as `(kind value, text)`: a tuple of plain strings, which the garbage collector
    stops tracking, so 20,000 kept lines add nothing to its collections while a build streams."""

    COMPONENT_CLASSES = VirtualLog.COMPONENT_CLASSES | set(_COMPONENT.values()) | {
        "buildlog--match", "buildlog--current-match"}
    DEFAULT_CSS = """
    BuildLines > .buildlog--step { color: $foreground; text-style: bold; }
    BuildLines > .buildlog--stderr { color: $warning; }
    BuildLines > .buildlog--tolerated { color: $text-muted; text-style: dim; }
    BuildLines > .buildlog--error { color: $error; text-style: bold; }
    BuildLines > .buildlog--result { color: $success; text-style: bold; }
    BuildLines > .buildlog--match { background: $warning 40%; }
    BuildLines > .buildlog--current-match { background: $accent; color: $foreground; text-style: bold; }
    """

    def __init__(self, max_lines: int = MAX_LINES, *, id: str | None = None) -> None:
        super().__init__(max_lines, id=id)
        self._styles: dict[str, Style] = {}

    @property
    def lines(self) -> list[str]:
        """The kept lines' text, oldest first."""
        return [text for _kind, text in self._items]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def item_text(self, item: tuple[str, str]) -> str:
        return item[1]

    def line_style(self, kind: str, base: Style) -> Style:
        """The style a line of `kind` is painted with (the base style for plain output)."""
        style = self._styles.get(kind)
        if style is None:
            component = _COMPONENT.get(kind)
            style = base + self.get_component_rich_style(component) if component else base
            self._styles[kind] = style
        return style

    def render_item(self, item: tuple[str, str], number: int, base: Style) -> Strip:
        kind, text = item
        if self.search_term:
            return self.highlighted(text, number, self.line_style(kind, base),
                                    self.get_component_rich_style("buildlog--match"),
                                    self.get_component_rich_style("buildlog--current-match"))
        return Strip([Segment(text, self.line_style(kind, base))], cell_len(text))

    def clear(self) -> None:
        self._current_match = None
        super().clear()


class BuildLogView(Vertical):
    """Shows a build's events live: tolerated debconf lines dimmed and counted, stderr warnings
    yellow, errors red, step lines emphasised; keeps the last `max_lines` lines; a summary line
    gives the state, duration, image id and counts.

    Feed it with `append_events(batch)` (batches, not single events), `start()` when a live build
    begins and `finish(summary)` when it ends.
    """

    DEFAULT_CSS = """
    BuildLogView { height: 1fr; }
    BuildLogView > Input { display: none; }
    BuildLogView.-searching > Input { display: block; }
    BuildLogView > #build-summary {
        height: auto; max-height: 4; padding: 0 1; background: $panel; color: $foreground;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "open_search", "Search"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False, key_display="N"),
    ]

    def __init__(self, max_lines: int = MAX_LINES, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = BuildLines(max_lines, id="build-lines")
        self.summary_line = Static("", id="build-summary")
        self.reset_counters()
        self._timer: Timer | None = None
        self._summary_length = 0
        self._summary_wrap = False

    def compose(self) -> ComposeResult:
        yield self.view
        yield Input(placeholder="search the log, Enter to find, Escape to close", id="build-search")
        yield self.summary_line

    # ------------------------------------------------------------------ search (as in a container's log)

    def action_open_search(self) -> None:
        self.add_class("-searching")
        search = self.query_one("#build-search", Input)
        search.value = self.view.search_term
        search.focus()

    def action_next_match(self) -> None:
        self.view.find(forward=True)

    def action_previous_match(self) -> None:
        self.view.find(forward=False)

    @on(Input.Submitted, "#build-search")
    def _search(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-searching")
        self.view.search(event.value)
        self.view.focus()
        self._refresh_summary()

    @on(VirtualLog.StateChanged)
    def _search_moved(self, _event: VirtualLog.StateChanged) -> None:
        # The summary says where the search is and whether lines wrap; otherwise nothing changed.
        if self.view.search_term or self.view.wrap != self._summary_wrap:
            self._refresh_summary()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.has_class("-searching"):
            event.stop()
            event.prevent_default()
            self.remove_class("-searching")
            self.view.focus()

    def reset_counters(self) -> None:
        self.tolerated = 0
        self.warnings = 0
        self.errors = 0
        self.step: int | None = None
        self.total_steps: int | None = None
        self.image_id: str | None = None
        self.exit_code: int | None = None
        self.error: str | None = None
        self.summary: BuildSummary | None = None
        self.started: float | None = None

    # ------------------------------------------------------------------ feeding

    def start(self) -> None:
        """A live build begins: show the running state and tick the elapsed time."""
        self.started = time.monotonic()
        self.summary = None
        self._refresh_summary()
        if self._timer is None and self.is_mounted:
            self._timer = self.set_interval(1.0, self._refresh_summary)

    def append_events(self, events: Sequence[BuildEvent], lines: list[tuple[str, str]] | None = None) -> None:
        """Add a batch of events (and update the counters); lines beyond `max_lines` drop off the top.

        `lines` are `log_lines(events)` when the caller made them already (off the UI thread)."""
        if not events:
            return
        for event in events:
            kind = event.kind
            if kind is BuildEventKind.TOLERATED:
                self.tolerated += 1
            elif kind is BuildEventKind.STDERR:
                self.warnings += 1
            elif kind is BuildEventKind.ERROR:
                self.errors += 1
                if self.error is None:
                    self.error = event.text
                if event.exit_code is not None and self.exit_code is None:
                    self.exit_code = event.exit_code
            elif kind is BuildEventKind.RESULT:
                self.image_id = event.image_id or event.text
        last = events[-1]
        if last.step is not None:
            self.step, self.total_steps = last.step, last.total_steps
        self.view.append(log_lines(events) if lines is None else lines)
        self._refresh_summary()

    def finish(self, summary: BuildSummary) -> None:
        """The build ended: stop the clock and show how it ended."""
        self.summary = summary
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._refresh_summary()

    def clear(self) -> None:
        self.view.clear()
        self.reset_counters()
        self._refresh_summary()

    @property
    def follow(self) -> bool:
        return self.view.follow

    @follow.setter
    def follow(self, value: bool) -> None:
        self.view.follow = value

    # ------------------------------------------------------------------ summary

    def summary_text(self) -> Text:
        """The summary line as plain, styled text (no markup is parsed)."""
        text = Text(no_wrap=False, overflow="fold")
        summary = self.summary
        if summary is None:
            if self.started is None:
                text.append("No build running.", style="dim")
                return text
            text.append("● Building", style="bold")
            if self.step is not None:
                text.append(f"  step {self.step}/{self.total_steps or '?'}")
            text.append(f"  ·  {format_duration(time.monotonic() - self.started)}")
            counts = self._counts(self.view.total_lines, self.tolerated, self.warnings)
        else:
            status = summary.status
            if status is BuildStatus.SUCCEEDED:
                text.append("✔ Succeeded", style="bold green")
                text.append(f" in {format_duration(summary.seconds)}")
                if summary.image_id:
                    text.append(f"  ·  image {short_id(summary.image_id)}")
            elif status is BuildStatus.RUNNING:
                text.append("● Still running", style="bold")
                text.append(" (the log so far)")
            elif status is BuildStatus.CANCELLED:
                text.append("■ Cancelled", style="bold yellow")
                text.append(f" after {format_duration(summary.seconds)}")
            else:
                text.append("✘ Failed", style="bold red")
                if summary.exit_code is not None:
                    text.append(f" (exit code {summary.exit_code})", style="bold red")
                text.append(f" after {format_duration(summary.seconds)}")
            counts = self._counts(
                max(summary.lines, self.view.total_lines), summary.tolerated, summary.warnings
            )
        text.append(f"  ·  {counts}")
        kept, total = self.view.line_count, self.view.total_lines
        if total > kept:
            text.append(f"  ·  showing the last {kept:,} of {total:,} lines", style="dim")
        if self.view.search_term:
            found = self.view.current_match
            where = f"line {found + 1}" if found is not None else "no match"
            text.append(f"  ·  search {self.view.search_term!r}: {where} (n/N)")
        if self.view.wrap:
            text.append("  ·  wrap (w unwraps)")
        if summary is not None and summary.status is BuildStatus.FAILED and summary.error:
            text.append("\n")
            text.append(summary.error, style="red")
        return text

    @staticmethod
    def _counts(lines: int, tolerated: int, warnings: int) -> str:
        return f"{_plural(lines, 'line')}  ·  {tolerated:,} tolerated  ·  {_plural(warnings, 'warning')}"

    def _refresh_summary(self) -> None:
        # A new layout (which repaints the whole screen) only when the line may wrap differently:
        # while a build streams, its counters change digits, rarely their length.
        text = self.summary_text()
        self.summary_line.update(text, layout=len(text) != self._summary_length)
        self._summary_length = len(text)
        self._summary_wrap = self.view.wrap

    def on_mount(self) -> None:
        if self.started is not None and self.summary is None and self._timer is None:
            self._timer = self.set_interval(1.0, self._refresh_summary)

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
