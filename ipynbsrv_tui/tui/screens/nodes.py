"""The Nodes section (swarm mode, admins): the swarm's nodes and the notebooks on each (DESIGN §15)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.binding import Binding

from ...domain import NodeView
from ..widgets.confirm import ConfirmScreen
from ..widgets.table import Column
from .listscreen import ListScreen

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


class NodesScreen(ListScreen):
    """Swarm nodes (admins, swarm mode): state, availability, role, address, labels, notebooks.

    `d` drains the highlighted node (Swarm moves its notebooks elsewhere), `a` activates it, both
    after a confirmation; `/` filters; enter shows a node's details; f5 reloads.
    """

    DEFAULT_CSS = """
    NodesScreen #list-details { height: 3; }
    """
    TITLE_TEXT = "Nodes"
    COLUMNS = COLUMNS
    FILTER_HINT = "filter by node, address, label or notebook"
    EMPTY = "Loading the swarm's nodes…"
    HINT = "d drains a node (its notebooks move) · a activates it"
    LOAD_ERROR = "Cannot list the nodes"
    NOTHING_SELECTED = "No node selected."
    BINDINGS = [
        Binding("d", "drain", "Drain"),
        Binding("a", "activate", "Activate"),
        *ListScreen.LIST_BINDINGS,
    ]

    def load_call(self) -> Callable[[], list[NodeView]]:
        return self.app.session.list_nodes

    def key_of(self, view: NodeView) -> str:
        return view.id

    def fields(self, view: NodeView) -> tuple[object, ...]:
        return (view.name, view.hostname, view.address, *view.labels.values(), *view.notebooks)

    def row(self, view: NodeView) -> tuple[Text | str, ...]:
        return node_row(view)

    def summary(self, view: NodeView) -> Text:
        text = Text(view.name, style="bold")
        text.append(f"  {view.hostname}  id {view.id[:12]}  Docker {view.engine_version or '?'}\n")
        text.append(
            "notebooks: " + (", ".join(view.notebooks) or "none"), style="" if view.notebooks else "dim"
        )
        return text

    def details(self, view: NodeView) -> Text:
        text = self.summary(view)
        labels = ", ".join(f"{key}={value}" for key, value in sorted(view.labels.items()))
        text.append(f"\n\nrole {view.role}{' (leader)' if view.leader else ''} · state {view.state} · "
                    f"availability {view.availability} · address {view.address}\nlabels: {labels or 'none'}")
        return text

    # ------------------------------------------------------------------ actions

    def action_drain(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return
        moved = (
            f" Swarm moves its {len(view.notebooks)} notebook(s) to other eligible nodes."
            if view.notebooks
            else ""
        )
        self._confirm(view, f"Drain node {view.name}? No notebook is placed there any more.{moved}", "Drain",
                      self.app.session.drain_node, f"Drained node {view.name}.")

    def action_activate(self) -> None:
        view = self.selected_or_warn()
        if view is None:
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
