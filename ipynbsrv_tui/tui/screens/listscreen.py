"""One list screen for every section that lists views: a filtered virtual table of views loaded in a
thread worker (j/k/g/G move, the highlighted row is kept across reloads, cells are plain Text, never
markup), a summary of the highlighted row, enter to open it, and one reload key (f5) in the footer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from ..background import Background
from ..widgets.filterbar import FilterBar
from ..widgets.footer import RELOAD_KEY, KeysFooter
from ..widgets.statusbar import StatusBar
from ..widgets.table import Column, VirtualTable


class SummaryLine(Widget):
    """The highlighted row's one-line summary. Fixed height: a new text repaints it without the
    screen layout pass `Static.update` costs (half of a filter keystroke on 1,000 rows)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = Text()

    def show(self, text: Text) -> None:
        self.text = text
        self.refresh()

    def render(self) -> Text:
        return self.text


class DetailsModal(ModalScreen[None]):
    """A read-only page of details (plain Text); escape or enter closes it."""

    DEFAULT_CSS = """
    DetailsModal { align: center middle; }
    DetailsModal > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    DetailsModal VerticalScroll { height: auto; max-height: 1fr; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("enter", "dismiss", "Close", show=False)]

    def __init__(self, body: Text) -> None:
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll():
                yield Static(self.body)
            yield KeysFooter()


class ListScreen(Background, Screen):
    """Base of a listed section: subclasses set the title, columns and the load call.

    A section that is not live (as Containers is, from the engine's events) shows the reload key in
    its footer: `LIST_BINDINGS` carries it, with `/` filter and enter (`FILTER_BINDINGS`; a section
    whose own keys would crowd out the filter at 80 columns puts these first and the reload key last).
    """

    DEFAULT_CSS = """
    ListScreen #list-details { height: 2; padding: 0 1; background: $boost; }
    """
    TITLE_TEXT = ""
    COLUMNS: tuple[Column, ...] = ()
    FILTER_HINT = "filter"  # "" shows no filter bar
    EMPTY = ""
    HINT = ""
    LOAD_ERROR = ""  # the title of a failed load; "" says "Cannot list <title>"
    NOTHING_SELECTED = ""  # the warning when an action needs a row; "" says "Nothing selected in <title>."
    SUMMARY = True  # the line(s) under the table about the highlighted row
    RELOAD_BINDING = Binding(RELOAD_KEY, "reload", "Refresh")
    FILTER_BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("enter", "details", "Details", show=False),
    ]
    LIST_BINDINGS = [*FILTER_BINDINGS, RELOAD_BINDING]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[Any, Any] = {}
        self._haystacks: dict[Any, str] = {}  # lower-cased filter text per row, made once per load
        self._summary_key: object = ()

    # ------------------------------------------------------------------ for subclasses

    # Each section defines `load_call()` (the service call that lists it) and `row(view)` (its cells).
    load_call: Callable[[], Callable[[], Any]]

    def key_of(self, view: Any) -> Any:
        return view.name

    row: Callable[[Any], tuple]

    def fields(self, view: Any) -> tuple[object, ...]:
        return (view.name,)

    def summary(self, view: Any) -> Text:
        return Text(str(self.key_of(view)), style="bold")

    def details(self, view: Any) -> Text:
        return self.summary(view)

    def open(self, view: Any) -> None:
        """Enter on a row: a page of its details (sections with a page of their own override it)."""
        self.app.push_screen(DetailsModal(self.details(view)))

    def compose_banner(self) -> ComposeResult:
        """Widgets between the title bar and the filter (none by default)."""
        yield from ()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar(self.TITLE_TEXT)
        yield from self.compose_banner()
        if self.FILTER_HINT:
            yield FilterBar(self.FILTER_HINT, id="list-filter")
        yield VirtualTable(self.COLUMNS, self._row, id="list-table", empty_text=self.EMPTY)
        if self.SUMMARY:
            yield SummaryLine(id="list-details")
        yield KeysFooter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#list-table", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        self.run_call(self.load_call(), then=self.show_items, group="load", exclusive=True,
                      title=self.LOAD_ERROR or f"Cannot list {self.TITLE_TEXT.lower()}")

    def show_items(self, views: list) -> None:
        self.items = {self.key_of(view): view for view in views}
        self._haystacks = {key: " ".join(str(f) for f in self.fields(view) if f is not None).lower()
                           for key, view in self.items.items()}
        self._summary_key = ()  # the highlighted row's view may have changed
        self.apply_filter()  # set_rows renders every row again from the new views

    def apply_filter(self) -> None:
        words = self.query_one(FilterBar).value.lower().split() if self.FILTER_HINT else []
        haystacks = self._haystacks
        keys = [key for key in self.items if all(word in haystacks[key] for word in words)]
        self.table.set_rows(keys)
        self._show_summary()

    def _row(self, key: Any) -> tuple:
        return self.row(self.items[key])

    def current(self) -> Any:
        key = self.table.cursor_key
        return self.items.get(key) if key is not None else None

    def selected_or_warn(self) -> Any:
        view = self.current()
        if view is None:
            text = self.NOTHING_SELECTED or f"Nothing selected in {self.TITLE_TEXT}."
            self.app.notify(text, severity="warning", markup=False)
        return view

    def _show_summary(self, force: bool = False) -> None:
        if not self.SUMMARY:
            return
        view = self.current()
        key = None if view is None else self.key_of(view)
        if key == self._summary_key and not force:
            return  # the same row stays highlighted: no repaint (and no layout) needed
        self._summary_key = key
        text = Text(self.HINT, style="dim") if view is None else self.summary(view)
        self.query_one("#list-details", SummaryLine).show(text)

    @on(VirtualTable.RowHighlighted, "#list-table")
    def _highlighted(self, _event: VirtualTable.RowHighlighted) -> None:
        self._show_summary()

    @on(VirtualTable.RowSelected, "#list-table")
    def _selected(self, event: VirtualTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_details(self) -> None:
        view = self.selected_or_warn()
        if view is not None:
            self.open(view)

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        if self.FILTER_HINT:
            self.query_one(FilterBar).open()

    @on(Input.Changed, "#list-filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self.apply_filter()

    @on(FilterBar.Done)
    def _filter_done(self, _event: FilterBar.Done) -> None:
        self.table.focus()

    # ------------------------------------------------------------------ helpers

    def done(self, text: str) -> Callable[[Any], None]:
        """A `then` callback: notify `text` (plain) and reload."""

        def callback(_result: Any) -> None:
            self.app.notify(text, markup=False)
            self.action_reload()

        return callback


def names(values: tuple[str, ...] | list[str], empty: str = "-") -> str:
    return ", ".join(values) if values else empty
