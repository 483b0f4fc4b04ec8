"""What the Groups, Shares and Notifications sections share: a filtered virtual table of views
loaded in a thread worker, a details line for the highlighted row, and a details modal on enter."""

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
from ..widgets.footer import KeysFooter
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


class CollabListScreen(Background, Screen):
    """Base of a collaboration section: subclasses set the title, columns and the load call."""

    DEFAULT_CSS = """
    CollabListScreen .collab-details { height: 2; padding: 0 1; background: $boost; }
    """
    TITLE_TEXT = ""
    COLUMNS: tuple[Column, ...] = ()
    FILTER_HINT = "filter"
    EMPTY = ""
    HINT = ""
    COMMON_BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("enter", "details", "Details", show=False),
        Binding("f5", "reload", "Refresh", show=False),
    ]

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

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar(self.TITLE_TEXT)
        yield FilterBar(self.FILTER_HINT, id="collab-filter")
        yield VirtualTable(self.COLUMNS, self._row, id="collab-table", empty_text=self.EMPTY)
        yield SummaryLine(classes="collab-details", id="collab-details")
        yield KeysFooter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#collab-table", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        self.run_call(self.load_call(), then=self.show_items, group="load", exclusive=True, title=f"Cannot list {self.TITLE_TEXT.lower()}")

    def show_items(self, views: list) -> None:
        self.items = {self.key_of(view): view for view in views}
        self._haystacks = {key: " ".join(str(f) for f in self.fields(view)).lower()
                           for key, view in self.items.items()}
        self._summary_key = ()  # the highlighted row's view may have changed
        self.apply_filter()  # set_rows renders every row again from the new views

    def apply_filter(self) -> None:
        words = self.query_one(FilterBar).value.lower().split()
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
            self.app.notify(f"Nothing selected in {self.TITLE_TEXT}.", severity="warning", markup=False)
        return view

    def _show_summary(self, force: bool = False) -> None:
        view = self.current()
        key = None if view is None else self.key_of(view)
        if key == self._summary_key and not force:
            return  # the same row stays highlighted: no repaint (and no layout) needed
        self._summary_key = key
        text = Text(self.HINT, style="dim") if view is None else self.summary(view)
        self.query_one("#collab-details", SummaryLine).show(text)

    @on(VirtualTable.RowHighlighted, "#collab-table")
    def _highlighted(self, _event: VirtualTable.RowHighlighted) -> None:
        self._show_summary()

    @on(VirtualTable.RowSelected, "#collab-table")
    def _selected(self, _event: VirtualTable.RowSelected) -> None:
        self.action_details()

    def action_details(self) -> None:
        view = self.selected_or_warn()
        if view is not None:
            self.app.push_screen(DetailsModal(self.details(view)))

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    @on(Input.Changed, "#collab-filter")
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
