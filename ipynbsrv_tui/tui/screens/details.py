"""Details of one container, with tabs info / logs / stats (shared by Containers and My notebooks)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import TabbedContent, TabPane

from ..book import ACTIVE_STATES
from ..streams import LineBuffer, LogFollower
from ..widgets.containerinfo import ContainerInfo
from ..widgets.footer import KeysFooter
from ..widgets.logview import LogPanel
from ..widgets.stats import StatsPanel
from ..widgets.statusbar import StatusBar
from .actions import ContainerScreen

DRAIN_SECONDS = 0.05
DRAIN_BATCH = 5000


class ContainerDetailsScreen(ContainerScreen):
    """Info (URL, token, ssh tunnel), a live log tail and resource sparklines for one container."""

    BINDINGS = [
        # Same actions as the lists, kept out of the footer here so that Back and the tabs show.
        Binding("s", "toggle_start", "Start/stop", show=False),
        Binding("r", "restart", "Restart", show=False),
        Binding("d", "delete", "Delete", show=False),
        Binding("escape", "back", "Back"),
        Binding("i", "tab('info')", "Info"),
        Binding("l", "tab('logs')", "Logs"),
        Binding("S", "tab('stats')", "Stats", key_display="S"),
    ]

    def __init__(self, container_id: int, tab: str = "info") -> None:
        super().__init__()
        self.container_id = container_id
        self.initial_tab = tab if tab in ("info", "logs", "stats") else "info"
        self._buffer: LineBuffer | None = None
        self._follower: LogFollower | None = None
        self._stream_note = ""
        self._gone = False

    def selected_id(self) -> int | None:
        return self.container_id

    def compose(self) -> ComposeResult:
        view = self.app.book.get(self.container_id)
        title = f"{view.owner}/{view.name}" if view else f"container {self.container_id}"
        yield StatusBar(f"Container {title}")
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane("Info", id="info"), VerticalScroll():
                yield ContainerInfo(id="info-panel")
            with TabPane("Logs", id="logs"):
                yield LogPanel(id="log-panel")
            with TabPane("Stats", id="stats"), VerticalScroll():
                yield StatsPanel(id="stats-panel")
        yield KeysFooter()

    def on_mount(self) -> None:
        book = self.app.book
        book.changed.subscribe(self, self._containers_changed)
        book.stats_changed.subscribe(self, self._stats_changed)
        self.set_interval(DRAIN_SECONDS, self._drain)
        self._refresh_all()
        self._want_stats()
        if self.initial_tab == "logs":
            self._start_logs()
        self._focus_tab(self.initial_tab)
        view = book.get(self.container_id)
        if view is not None and view.url:
            book.fetch_connection(self.container_id)

    def on_unmount(self) -> None:
        self._stop_logs()
        sampler = getattr(self.app, "sampler", None)
        if sampler is not None:
            sampler.want(f"details-{self.container_id}", ())

    def on_screen_resume(self) -> None:
        if self._gone:
            self.dismiss()

    # ------------------------------------------------------------------ tabs

    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        self._focus_tab(tab)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "logs":
            self._start_logs()

    def _focus_tab(self, tab: str) -> None:
        if tab == "logs":
            self.query_one(LogPanel).view.focus()
        else:
            self.query_one("#tabs", TabbedContent).query_one(f"#{tab} VerticalScroll").focus()

    # ------------------------------------------------------------------ live data

    def _refresh_all(self) -> None:
        book = self.app.book
        view = book.get(self.container_id)
        self.query_one("#info-panel", ContainerInfo).show(view, book.connections.get(self.container_id),
                                                          book.stats.get(self.container_id))
        self.query_one("#stats-panel", StatsPanel).show(view, list(book.history.get(self.container_id, ())))

    def _containers_changed(self, ids: frozenset[int] | None) -> None:
        if ids is not None and self.container_id not in ids:
            return
        view = self.app.book.get(self.container_id)
        if view is None:
            if self.app.book.loaded and not self._gone:
                self._gone = True
                self.app.notify("The container was deleted.", severity="warning", markup=False)
                if self.is_current:
                    self.dismiss()
            return
        self._refresh_all()
        self.refresh_bindings()  # `u` in the footer while it is paused
        self._want_stats()
        if view.up and self._buffer is not None and self._buffer.finished:
            self.query_one(LogPanel).append(["— container started: following again —"])
            self._start_logs(restart=True)

    def _stats_changed(self, ids: frozenset[int]) -> None:
        if self.container_id in ids:
            self._refresh_all()

    def _want_stats(self) -> None:
        sampler = getattr(self.app, "sampler", None)
        if sampler is None:
            return
        view = self.app.book.get(self.container_id)
        active = view is not None and view.state in ACTIVE_STATES
        sampler.want(f"details-{self.container_id}", (self.container_id,) if active else ())

    # ------------------------------------------------------------------ logs

    @on(LogPanel.TimestampsToggled)
    def _timestamps_toggled(self, event: LogPanel.TimestampsToggled) -> None:
        event.stop()
        self._start_logs(restart=True, tail=500)

    def _start_logs(self, restart: bool = False, tail: int | None = None) -> None:
        if self._follower is not None and not restart:
            return
        self._stop_logs()
        self._buffer = LineBuffer()
        self._stream_note = ""
        self._follower = LogFollower(self.app.session, self.container_id, self._buffer,
                                     tail=tail if tail is not None else (0 if restart else 500),
                                     timestamps=self.query_one(LogPanel).timestamps)
        self._follower.start()
        self.query_one(LogPanel).set_note("")

    def _stop_logs(self) -> None:
        if self._follower is not None:
            self._follower.stop()
        self._follower = None

    def _drain(self) -> None:
        buffer = self._buffer
        if buffer is None:
            return
        lines = buffer.drain(DRAIN_BATCH)
        panel = self.query_one(LogPanel)
        if lines:
            panel.append(lines)
        if buffer.finished and not len(buffer) and not self._stream_note:
            if buffer.error:
                self._stream_note = f"log stream failed: {buffer.error}"
            else:
                self._stream_note = (
                    "log stream ended (container stopped); it resumes when the container starts"
                )
            panel.set_note(self._stream_note)
            if buffer.error:
                self.app.notify(self._stream_note, severity="warning", markup=False)
