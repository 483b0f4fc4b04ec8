"""What one notebook container is and how to reach it: URL with token, ssh tunnel, usage against limits."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...domain import ConnectionInfo, ContainerState, ContainerStats, ContainerView
from . import format as fmt


class ContainerInfo(Static):
    """A read-only panel; call `show(view, connection, stats)` whenever one of them changes."""

    DEFAULT_CSS = """
    ContainerInfo { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self.view: ContainerView | None = None

    def show(self, view: ContainerView | None, connection: ConnectionInfo | None = None,
             stats: ContainerStats | None = None) -> None:
        self.view = view
        self.update(render_info(view, connection, stats))


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True, min_width=9)
    grid.add_column(overflow="fold")
    return grid


def ports_text(view: ContainerView) -> Text:
    """Every published port: the notebook's, then each public one as container → host."""
    text = Text(f"{view.host_port} (notebook)")
    for container_port, host_port in sorted(view.public_ports.items(), key=lambda item: str(item[0])):
        text.append(f" · {container_port} → {host_port}")
    return text


GONE_TEXT = ("none: its engine container is gone (removed outside ipynbsrv). s recreates it from its image, "
             "R restores a snapshot, d deletes it.")


def render_info(view: ContainerView | None, connection: ConnectionInfo | None,
                stats: ContainerStats | None) -> Group | Text:
    """The panel's content: two-column grids of plain text, with the URL on a line of its own
    (not folded into a column, so a terminal selects it in one piece when it fits the width)."""
    if view is None:
        return Text("No container selected. Press n to create a notebook.", style="italic")
    parts: list[Table | Text] = []
    grid = _grid()
    parts.append(grid)
    title = Text(f"{view.owner}/{view.name}  ")
    title.append_text(fmt.state_text(view.state))
    if view.up:
        title.append(f"  up {fmt.since(view.started_at)}")
    grid.add_row("Container", title)
    image = Text(view.image or "(unregistered)")
    if view.image_ref:
        image.append(f"  {view.image_ref}", style="dim")
    grid.add_row("Image", image)
    if view.description:
        grid.add_row("About", Text(fmt.printable(view.description)))
    if view.state == ContainerState.MISSING:
        grid.add_row("URL", Text(GONE_TEXT, style="bold"))
    elif view.url and view.state == ContainerState.STARTING:
        grid.add_row("URL", Text("offered when the notebook answers (it is starting)", style="dim"))
    elif view.url:
        grid.add_row(
            "URL", Text("(on the next line; o shows it alone for copying, y copies it)", style="dim")
        )
        parts.append(Text(view.url, no_wrap=False, overflow="fold"))
        grid = _grid()
        parts.append(grid)
        if connection is not None and connection.web_url:
            grid.add_row("Web", Text(connection.web_url))
        elif connection is not None:
            grid.add_row("Tunnel", Text(connection.tunnel_command))
            grid.add_row("then open", Text(connection.local_url))
        else:
            grid.add_row("Tunnel", Text("…", style="dim"))
    grid.add_row("CPU", _cpu(view, stats))
    grid.add_row("Memory", _memory(view, stats))
    grid.add_row("Ports", ports_text(view))
    extra = [f"last activity {fmt.ago(view.last_activity)}"]
    if view.clone_of:
        extra.append(f"clone of {view.clone_of}")
    grid.add_row("", Text(" · ".join(extra), style="dim"))
    if view.url and view.state not in (ContainerState.STARTING, ContainerState.MISSING):
        grid.add_row(
            "", Text("y copies the URL, Y the ssh command (terminal clipboard, OSC 52)", style="dim")
        )
    return Group(*parts)


def _cpu(view: ContainerView, stats: ContainerStats | None) -> Text:
    limit = view.cpus or 0
    if stats is None:
        return Text(f"- of {limit:g} CPU" if limit else "-", style="dim")
    if limit:
        bar = fmt.usage_bar(stats.cpu_percent / (limit * 100), width=16)
        bar.append(f" of {limit:g} CPU")
        return bar
    return Text(f"{stats.cpu_percent:.0f}%")


def _memory(view: ContainerView, stats: ContainerStats | None) -> Text:
    limit = view.memory_limit or (stats.memory_limit if stats else 0)
    if stats is None:
        return Text(f"- of {fmt.size(limit)}" if limit else "-", style="dim")
    if limit:
        bar = fmt.usage_bar(stats.memory_bytes / limit, width=16)
        bar.append(f"  {fmt.size(stats.memory_bytes)} of {fmt.size(limit)}")
        return bar
    return Text(fmt.size(stats.memory_bytes))
