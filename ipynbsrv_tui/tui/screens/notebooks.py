"""My notebooks (everyone): the actor's own containers, how to reach them, and what they use."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll

from ..widgets import format as fmt
from ..widgets.containerinfo import ContainerInfo
from ..widgets.table import Column
from .containerlist import ContainerListScreen, running_cells


class NotebooksScreen(ContainerListScreen):
    """Self-service: create, start / stop, suspend, clone, snapshot, restore, delete own notebooks."""

    SECTION = "My notebooks"
    STATS_CONSUMER = "notebooks"
    EMPTY_TEXT = "You have no notebooks yet. Press n to create one."
    SHOWS_NODE = False  # users see the node in the details
    KEY_HINTS_MIN_ROWS = 30  # below, the info pane needs the rows (URL, token, tunnel, usage)
    COLUMNS = (
        Column("name", "Name", 12, grow=2),
        Column("image", "Image", 10, grow=1),
        Column("state", "State", 8),
        Column("port", "Port", 5, justify="right"),
        Column("cpu", "CPU", 4, justify="right"),
        Column("memory", "Memory", 11),
        Column("uptime", "Up", 5),
    )
    BINDINGS = [Binding("n", "new", "New")]

    def compose_below(self) -> ComposeResult:
        with VerticalScroll(id="info-pane"):
            yield ContainerInfo(id="info")

    def owner_filter(self) -> str | None:
        return self.app.session.actor.username

    def row_cells(self, container_id: int) -> list:
        book = self.app.book
        view = book.views.get(container_id)
        if view is None:
            return []
        cpu, memory, uptime = running_cells(view, book.stats.get(container_id), book.stale)
        return [view.name, view.image, fmt.state_text(view.state), str(view.host_port), cpu, memory, uptime]

    def action_new(self) -> None:
        # root has no notebooks of its own: the form asks whose notebook it makes first
        self.new_notebook(with_owner=not self.app.session.actor.is_directory_user)

    def selection_changed(self) -> None:
        book = self.app.book
        cid = self.selected_id()
        view = book.get(cid)
        self.query_one("#info", ContainerInfo).show(view, book.connections.get(cid) if cid else None,
                                                    book.stats.get(cid) if cid else None)
        if view is not None and view.url and cid is not None:
            book.fetch_connection(cid, quiet=True)  # the panel shows the URL; the tunnel line waits
