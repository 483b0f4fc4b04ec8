"""The Nodes section (swarm mode, admins): the swarm's nodes and the notebooks on each (DESIGN §15)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from ...domain import NodeView
from ..background import Background
from ..widgets.confirm import ConfirmScreen
from ..widgets.filterbar import FilterBar, matches
from ..widgets.footer import KeysFooter
from ..widgets.statusbar import StatusBar
from ..widgets.table import Column, VirtualTable

COLUMNS = (
    Column("name", "Node", 10, grow=1),
    Column("role", "Role", 9),
    Column("state", "State", 7),
    Column("availability", "Avail.", 6),
    Column("address", "Address", 15),
    Column("notebooks", "NBs", 3, justify="right"),
    Column("labels", "Labels", 10, grow=2),
)
STATE_STYLES = {"ready": "green", "down": "bold red", "unknown": "yellow", "disconnected": "red"}
AVAILABILITY_STYLES = {"active": "", "drain": "yellow", "pause": "yellow"}


def node_row(view: NodeView) -> tuple[Text | str, ...]:
    """The table cells of one node, as plain text (labels and names are never markup)."""
    role = Text(view.role + (" *" if view.leader else ""))
    labels = ", ".join(f"{key}={value}" for key, value in sorted(view.labels.items()))
    return (
        Text(view.name, style="bold" if view.state == "ready" else "dim"),
        role,
        Text(view.state, style=STATE_STYLES.get(view.state, "")),
        Text(view.availability, style=AVAILABILITY_STYLES.get(view.availability, "")),
        Text(view.address),
        str(len(view.notebooks)),
        Text(labels, style="dim"),
    )


class NodesScreen(Background, Screen):
    """Swarm nodes (admins, swarm mode): state, availability, role, address, labels, notebooks.

    `d` drains the highlighted node (Swarm moves its notebooks elsewhere), `a` activates it, both
    after a confirmation; `/` filters; F5 reloads.
    """

    DEFAULT_CSS = """
    NodesScreen #node-details { height: 3; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("d", "drain", "Drain"),
        Binding("a", "activate", "Activate"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f5", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, NodeView] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar("Nodes")
        yield FilterBar("filter by node, address, label or notebook", id="node-filter")
        yield VirtualTable(COLUMNS, self._row, id="nodes", empty_text="Loading the swarm's nodes…")
        yield Static("", id="node-details")
        yield KeysFooter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#nodes", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        self.run_call(self.app.session.list_nodes, then=self.show_nodes, group="load", exclusive=True,
                      title="Cannot list the nodes")

    def show_nodes(self, views: list[NodeView]) -> None:
        self.nodes = {view.id: view for view in views}
        self._apply_filter()

    def _apply_filter(self) -> None:
        query = self.query_one(FilterBar).value
        keys = [node_id for node_id, v in self.nodes.items()
                if matches(query, v.name, v.hostname, v.address, *v.labels.values(), *v.notebooks)]
        self.table.set_rows(keys)
        self.table.refresh_rows()
        self._show_details()

    def _row(self, node_id: str) -> tuple[Text | str, ...]:
        return node_row(self.nodes[node_id])

    def current(self) -> NodeView | None:
        key = self.table.cursor_key
        return self.nodes.get(key) if key is not None else None

    def _show_details(self) -> None:
        view = self.current()
        text = Text()
        if view is None:
            text.append("d drains a node (its notebooks move) · a activates it", style="dim")
        else:
            text.append(view.name, style="bold")
            text.append(f"  {view.hostname}  id {view.id[:12]}  Docker {view.engine_version or '?'}\n")
            text.append("notebooks: " + (", ".join(view.notebooks) or "none"), style="" if view.notebooks else "dim")
        self.query_one("#node-details", Static).update(text)

    @on(VirtualTable.RowHighlighted, "#nodes")
    def _highlighted(self, _event: VirtualTable.RowHighlighted) -> None:
        self._show_details()

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    @on(Input.Changed, "#node-filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self._apply_filter()

    @on(FilterBar.Done)
    def _filter_done(self, _event: FilterBar.Done) -> None:
        self.table.focus()

    # ------------------------------------------------------------------ actions

    def action_drain(self) -> None:
        view = self.current()
        if view is None:
            self.app.notify("No node selected.", severity="warning", markup=False)
            return
        moved = f" Swarm moves its {len(view.notebooks)} notebook(s) to other eligible nodes." if view.notebooks else ""
        self._confirm(view, f"Drain node {view.name}? No notebook is placed there any more.{moved}", "Drain",
                      self.app.session.drain_node, f"Drained node {view.name}.")

    def action_activate(self) -> None:
        view = self.current()
        if view is None:
            self.app.notify("No node selected.", severity="warning", markup=False)
            return
        self._confirm(view, f"Activate node {view.name}? Swarm may place notebooks there again.", "Activate",
                      self.app.session.activate_node, f"Activated node {view.name}.")

    def _confirm(self, view: NodeView, question: str, label: str, call, done_text: str) -> None:
        def done(_updated: NodeView) -> None:
            self.app.notify(done_text, markup=False)
            self.action_reload()

        def run(yes: bool | None) -> None:
            if yes:
                self.run_call(call, view.id, then=done, title=f"Node {view.name} not changed")

        self.app.push_screen(ConfirmScreen(question, confirm_label=label), run)
