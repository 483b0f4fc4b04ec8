"""A live, filterable list of notebook containers: the base of Containers and My notebooks.

Rows come from the app's container book (fed by engine events); the table paints only what is
on screen, and `/` filters in memory, so 10,000 containers stay responsive. CPU and memory are
sampled only for the running containers currently visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from ...domain import ContainerState, ContainerView
from ..book import ACTIVE_STATES, parse_filter
from ..widgets import format as fmt
from ..widgets.footer import KeyHints, KeysFooter
from ..widgets.statusbar import StatusBar
from ..widgets.table import Column, VirtualTable
from .actions import ContainerScreen
from .marks import MARK_BINDINGS, MARK_COLUMN, MarkedRows
from .sorting import LIVE_COLUMNS, SORT_BINDINGS, SORT_VALUES, headed, next_column, sort_ids

TICK_SECONDS = 30.0
VISIBLE_CHECK_SECONDS = 1.0


NODE_COLUMN = Column("node", "Node", 7, grow=1)


def node_text(view: ContainerView) -> Text:
    """Where a swarm-mode notebook runs; a lost node in red."""
    if view.node_lost:
        return Text(f"{view.node} (lost)", style="bold red")
    return Text(view.node or "-", style="" if view.node else "dim")


class ContainerListScreen(MarkedRows, ContainerScreen):
    """Every container the actor may see; subclasses narrow it (`owner_filter`), change the columns
    (COLUMNS / `row_cells`) or add widgets under the table (`compose_below`)."""

    SECTION: ClassVar[str] = "Containers"
    COLUMNS: ClassVar[Sequence[Column]] = (
        Column("owner", "Owner", 8, grow=1),
        Column("name", "Name", 12, grow=2),
        Column("image", "Image", 10, grow=1),
        Column("state", "State", 8),
        Column("port", "Port", 5, justify="right"),
        Column("cpu", "CPU", 4, justify="right"),
        Column("memory", "Memory", fmt.MEMORY_WIDTH),
        Column("uptime", "Up", 5),
        Column("activity", "Active", 6),
    )
    SHOWS_NODE: ClassVar[bool] = True  # swarm mode: a Node column (where each notebook runs)
    # The keys the footer leaves out are listed above it on a screen of this many rows or more.
    KEY_HINTS_MIN_ROWS: ClassVar[int] = 0
    STATS_CONSUMER: ClassVar[str] = "containers"
    EMPTY_TEXT: ClassVar[str] = "No containers yet."

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("enter", "details", "Details"),
        Binding("l", "logs", "Logs", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        *MARK_BINDINGS,
        *SORT_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self._ordered: list[int] = []
        self._order_keys: dict[int, tuple] = {}
        self.sort_column: str | None = None  # None: by owner, then name
        self.sort_descending = False
        self._filter_text = ""
        self.marked: set[int] = set()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar(self.SECTION)
        yield Input(placeholder="filter: words match owner, name or state; owner:… name:… state:… image:…",
                    id="filter", compact=True)
        yield VirtualTable(self.table_columns(), self._cells, empty_text="Loading…", id="table")
        yield from self.compose_below()
        yield Static("", id="summary", markup=False)
        yield KeyHints()
        yield KeysFooter()

    def columns(self) -> tuple[Column, ...]:
        """COLUMNS, and in swarm mode the node each notebook runs on."""
        return tuple(self.COLUMNS) + ((NODE_COLUMN,) if self._with_node() else ())

    def table_columns(self) -> tuple[Column, ...]:
        """What the table shows: a ✓ column while rows are marked, the sort column's ▲ / ▼."""
        marks = (MARK_COLUMN,) if self.marked else ()
        return marks + headed(self.columns(), self.sort_column, self.sort_descending)

    def _with_node(self) -> bool:
        return self.SHOWS_NODE and self.app.config.engine.mode == "swarm"

    def compose_below(self) -> ComposeResult:
        """Widgets between the table and the summary line (none by default)."""
        yield from ()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#table", VirtualTable)

    def owner_filter(self) -> str | None:
        """Only this owner's containers are listed (None = everything the actor may see)."""
        return None

    def row_cells(self, container_id: int) -> list[Text | str]:
        """The cells of one row, in COLUMNS order (plain text only)."""
        book = self.app.book
        view = book.views.get(container_id)
        if view is None:
            return []
        cpu, memory, uptime = running_cells(view, book.stats.get(container_id), book.stale)
        cells: list[Text | str] = [view.owner, view.name, view.image, fmt.state_text(view.state),
                                   str(view.host_port), cpu, memory, uptime, fmt.since(view.last_activity)]
        if self._with_node():
            cells.append(node_text(view))
        return cells

    def _cells(self, container_id: int) -> list[Text | str]:
        return self.mark_cells(container_id, self.row_cells(container_id))

    def on_resize(self) -> None:
        self.query_one(KeyHints).display = self.size.height >= self.KEY_HINTS_MIN_ROWS

    def on_mount(self) -> None:
        book = self.app.book
        book.changed.subscribe(self, self._containers_changed)
        book.stats_changed.subscribe(self, self._stats_changed)
        self.table.focus()
        if book.loaded:
            self._containers_changed(None)
        self.set_interval(TICK_SECONDS, self._tick)
        self.set_interval(VISIBLE_CHECK_SECONDS, self._want_stats)

    def on_screen_resume(self) -> None:
        self._want_stats()

    def on_screen_suspend(self) -> None:
        sampler = getattr(self.app, "sampler", None)
        if sampler is not None:
            sampler.want(self.STATS_CONSUMER, ())

    # ------------------------------------------------------------------ data

    def selected_id(self) -> int | None:
        return self.table.cursor_key

    def _rebuild_order(self) -> None:
        book = self.app.book
        self._ordered = book.ordered(owner=self.owner_filter())
        if self.sort_column is not None:
            self._ordered = sort_ids(
                self._ordered, book.views, book.stats, self.sort_column, self.sort_descending
            )
        self._order_keys = {cid: self._order_key(book.views[cid]) for cid in self._ordered}

    def _order_key(self, view: ContainerView) -> tuple:
        """What the row's place depends on (the live CPU / memory figures are watched apart)."""
        column = self.sort_column
        if column is None or column in LIVE_COLUMNS:
            return _order_key(view)
        return (*_order_key(view), SORT_VALUES[column](view, None))

    def apply_filter(self) -> None:
        """Show the rows that match the filter (all when it is empty), in one batch."""
        terms = parse_filter(self._filter_text)
        book = self.app.book
        rows = [cid for cid in self._ordered if book.matches(cid, terms)] if terms else self._ordered
        table = self.table
        if book.loaded:
            table.empty_text = (f"No container matches {self._filter_text!r}." if terms else self.EMPTY_TEXT)
        table.set_rows(rows)
        self._update_summary()
        self._want_stats()

    def _containers_changed(self, ids: frozenset[int] | None) -> None:
        book = self.app.book
        owner = self.owner_filter()
        if ids is None:
            self._rebuild_order()
            self.apply_filter()
            self._selection_changed()
            return
        reorder = False
        for cid in ids:
            view = book.views.get(cid)
            listed = cid in self._order_keys
            wanted = view is not None and (owner is None or view.owner == owner)
            if listed != wanted or (
                view is not None and listed and self._order_keys[cid] != self._order_key(view)
            ):
                reorder = True
                break
        if reorder:
            self._rebuild_order()
            self.apply_filter()
        elif self._filter_text:
            terms = parse_filter(self._filter_text)
            shown = set(self.table.keys)
            if any((cid in shown) != book.matches(cid, terms) for cid in ids if cid in self._order_keys):
                self.apply_filter()
            else:
                self._refresh_rows(ids)
        else:
            self._refresh_rows(ids)
        if self.selected_id() in ids:
            self._selection_changed()

    def _refresh_rows(self, ids: frozenset[int]) -> None:
        for cid in ids:
            self.table.refresh_row(cid)
        self._update_summary()

    def _stats_changed(self, ids: frozenset[int]) -> None:
        if self.sort_column in LIVE_COLUMNS:
            self._rebuild_order()
            self.apply_filter()
        for cid in ids:
            self.table.refresh_row(cid)
        if self.selected_id() in ids:
            self._selection_changed()

    def selection_changed(self) -> None:
        """The highlighted container or its data changed (subclasses show details)."""

    def _selection_changed(self) -> None:
        self.refresh_bindings()  # the footer follows the highlighted row's state (`u` on a paused one)
        self.selection_changed()

    @on(VirtualTable.RowHighlighted, "#table")
    def _highlighted(self, event: VirtualTable.RowHighlighted) -> None:
        self._selection_changed()

    @on(VirtualTable.RowSelected, "#table")
    def _selected(self, event: VirtualTable.RowSelected) -> None:
        self.open_details(event.key, "info")

    def _tick(self) -> None:
        self.table.refresh_rows()

    def _want_stats(self) -> None:
        sampler = getattr(self.app, "sampler", None)
        if sampler is None or not self.is_current:
            return
        book = self.app.book
        ids = tuple(cid for cid in self.table.visible_keys()
                    if (view := book.views.get(cid)) is not None and view.state in ACTIVE_STATES)
        sampler.want(self.STATS_CONSUMER, ids)

    def _update_summary(self) -> None:
        book = self.app.book
        total = len(self._ordered)
        shown = self.table.row_count
        paused = sum(1 for cid in self._ordered if book.views[cid].state == ContainerState.PAUSED)
        running = sum(1 for cid in self._ordered if book.views[cid].state in ACTIVE_STATES) - paused
        noun = "container" if total == 1 else "containers"
        parts = [f"{shown:,} of {total:,} {noun}" if self._filter_text else f"{total:,} {noun}",
                 f"{running:,} running"]
        extra = self.summary_extra()  # each notebook counted once: a paused one is not also running
        parts.extend(extra or ([f"{paused:,} suspended"] if paused else []))
        if self._filter_text:
            parts.append(f"filter: {self._filter_text}")
        parts.extend(self.marks_summary())
        if not book.loaded:
            parts = ["loading…"]
        self.query_one("#summary", Static).update(Text(" · ".join(parts)), layout=False)

    def summary_extra(self) -> list[str]:
        """More parts of the summary line (none by default)."""
        return []

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self.add_class("-filtering")
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if self._filter_text or self.has_class("-filtering"):
            field.value = ""
            self._filter_text = ""
            self.remove_class("-filtering")
            self.apply_filter()
            self.table.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter_text = event.value.strip()
        self.apply_filter()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        if not self._filter_text:
            self.remove_class("-filtering")
        self.table.focus()

    # ------------------------------------------------------------------ on the marked rows, when there are

    def action_toggle_start(self) -> None:
        if self.marked:
            self.act_on_marked("toggle")
        else:
            super().action_toggle_start()

    def action_restart(self) -> None:
        if self.marked:
            self.act_on_marked("restart")
        else:
            super().action_restart()

    def action_suspend(self) -> None:
        if self.marked:
            self.act_on_marked("suspend")
        else:
            super().action_suspend()

    def action_resume(self) -> None:
        if self.marked:
            self.act_on_marked("resume")
        else:
            super().action_resume()

    # ------------------------------------------------------------------ sorting

    def action_sort_next(self) -> None:
        self.sort_column = next_column(self.columns(), self.sort_column)
        self.sort_descending = False
        self._resort()

    def action_sort_reverse(self) -> None:
        if self.sort_column is None:
            self.sort_column = next_column(self.columns(), None)
        self.sort_descending = not self.sort_descending
        self._resort()

    def _resort(self) -> None:
        self._rebuild_order()
        self.apply_filter()
        self.table.set_columns(self.table_columns())

    # ------------------------------------------------------------------ navigation

    def action_details(self) -> None:
        if (cid := self.selected_id()) is not None:
            self.open_details(cid, "info")

    def action_logs(self) -> None:
        if (cid := self.selected_id()) is not None:
            self.open_details(cid, "logs")

    def open_details(self, container_id: int, tab: str) -> None:
        from .details import ContainerDetailsScreen

        self.app.push_screen(ContainerDetailsScreen(container_id, tab))

    # ------------------------------------------------------------------ create

    def new_notebook(self, with_owner: bool) -> None:
        self.run_call(self.app.session.usable_images, then=lambda images: self._open_form(images, with_owner),
                      group="new-notebook", exclusive=True)

    def _open_form(self, images, with_owner: bool) -> None:
        if not images:
            hint = ("Register one in Images (n) first." if self.app.session.actor.is_admin
                    else "Ask an admin to register one or to share one with your group.")
            self.app.notify(f"No image is available to you yet. {hint}", severity="warning", markup=False)
            return
        config = self.app.config.notebooks
        me = self.app.session.actor.username
        mine = [view for view in self.app.book.views.values() if view.owner == me and view.created]
        last = max(mine, key=lambda view: view.created or datetime.min).image if mine else None
        from ..widgets.notebook_form import NewNotebookForm  # loaded on first use: the first screen is sooner

        form = NewNotebookForm(images, owner="" if with_owner else None, default_memory=config.memory,
                               default_cpus=config.cpus, last_image=last)

        def answered(values: dict | None) -> None:
            if values:
                arguments = form.create_arguments(values)
                label = f"{arguments.get('owner', self.app.session.actor.username)}/{arguments['name']}"
                self.call_session(
                    f"Creating {label}…",
                    f"Created {label}; it is starting.",
                    self.app.session.create_container,
                    **arguments,
                )

        self.app.push_screen(form, answered)


def _order_key(view: ContainerView) -> tuple[str, str]:
    return view.owner, view.name.lower()


def running_cells(view: ContainerView, stats, stale: bool = False) -> tuple[str, str, str]:
    """CPU, memory and uptime cells of a row ("?" while the service is lost: nothing is known)."""
    active = view.state in ACTIVE_STATES
    if stale:
        return ("?", "?", "?") if active else ("", "", "")
    return (fmt.cpu(stats) if active else "", fmt.memory(stats, view.memory_limit) if active else "",
            fmt.since(view.started_at) if active else "")
