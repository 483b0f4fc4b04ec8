"""The header: the section tab line, then section, host, mode, engine, directory and (admins) backup
health, and who is acting."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widget import Widget

from ...domain import Health
from .tabs import mode_at, tab_line


class StatusBar(Widget):
    """Two lines: the sections with their keys (a click switches), then the app's `health` and
    `session.actor`; repaints when the app's health changes."""

    DEFAULT_CSS = """
    StatusBar {
        height: 2;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    StatusBar:ansi { background: ansi_blue; color: ansi_bright_white; }
    """

    def __init__(self, section: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.section = section

    def on_mount(self) -> None:
        self.watch(self.app, "health", self._health_changed, init=False)
        if hasattr(self.app, "service_lost"):
            self.watch(self.app, "service_lost", self._health_changed, init=False)
        for name in ("unread", "build_note"):
            if hasattr(self.app, name):
                self.watch(self.app, name, self._health_changed, init=False)

    def _health_changed(self, _health: Health | None) -> None:
        self.refresh()

    def _sections(self) -> list:
        return list(getattr(self.app, "sections", ()))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y != 0:
            return
        mode = mode_at(self._sections(), self.app.current_mode, self.size.width, offset.x)
        if mode is not None and mode != self.app.current_mode:
            self.app.action_section(mode)  # type: ignore[attr-defined]

    def render(self) -> Text:
        tabs = tab_line(self._sections(), self.app.current_mode, self.size.width)
        return Text("\n", no_wrap=True, overflow="ellipsis").join([tabs, self.status_line()])

    def status_line(self) -> Text:
        """The second line: section, host and mode, health signals, actor."""
        app = self.app
        health: Health | None = getattr(app, "health", None)
        session = getattr(app, "session", None)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(self.section, style="bold")
        unread = getattr(app, "unread", 0)
        if unread:  # first after the section, so it stays visible at 80 columns
            line.append(f" ✉ {unread} unread", style="bold yellow")
        build = getattr(app, "build_note", "")
        if build:  # a build going on in the background (B brings it back)
            line.append(f" {build} B", style="bold cyan")
        line.append(" │ ")
        host = health.host if health else getattr(session, "host", "") or "…"
        mode = getattr(session, "mode", "") or (health.mode if health else "")
        line.append(host)
        line.append(f" ({mode})" if mode else "")
        line.append(" │ ")
        if getattr(app, "service_lost", None) is not None:
            # Nothing about the engine or directory is known while the broker is away.
            line.append_text(Text("broker ✗ retrying", style="bold red"))
        else:
            line.append_text(_signal("engine", health.engine_ok if health else None))
            line.append(" ")
            line.append_text(_signal(_directory_label(health), health.directory_ok if health else None,
                                     stale=bool(health and health.directory_stale)))
            if health is not None and health.backup_problem:  # admins only (DESIGN §17)
                line.append(" ")
                late = health.backup_problem.startswith("backup late")
                line.append_text(Text("backup late" if late else "backup ✗", style="bold red"))
        if session is not None:
            actor = session.actor
            line.append(" │ ")
            line.append(actor.username, style="bold")
            if actor.is_admin:
                line.append(" (admin)")
        return line


def _directory_label(health: Health | None) -> str:
    if health is None or not health.directory_ok:
        return "directory"
    return health.directory_detail or "directory"


def _signal(label: str, ok: bool | None, stale: bool = False) -> Text:
    if ok is None:
        return Text(f"{label} …", style="dim")
    if not ok:
        return Text(f"{label} ✗", style="bold red")
    if stale:
        return Text(f"{label} ~", style="yellow")
    return Text(f"{label} ✓", style="green")
