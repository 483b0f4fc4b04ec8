"""Containers (admins): every managed notebook container, live, with every action and reconcile."""

from __future__ import annotations

from textual.binding import Binding

from ...domain import ContainerState, SuspendedMemory
from ...validation import format_bytes
from ..widgets.confirm import ConfirmScreen
from ..widgets.report import ReportScreen
from .containerlist import ContainerListScreen

SUSPENDED_MEMORY_SECONDS = 15.0


class ContainersScreen(ContainerListScreen):
    """All users' containers: owner, name, image, state, port, CPU / memory, uptime, last activity."""

    SECTION = "Containers"
    STATS_CONSUMER = "containers"
    EMPTY_TEXT = "No notebook containers yet. Press n to create one."
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("E", "reconcile", "Reconcile", key_display="E"),  # ctrl+r is reload in k9s: not here
        Binding("S", "stop_suspended", "Stop suspended", show=False, key_display="S"),
    ]

    suspended: SuspendedMemory | None = None
    _paused: frozenset[int] = frozenset()

    # ------------------------------------------------------------------ memory held by suspended notebooks

    def on_mount(
        self,
    ) -> None:  # runs after ContainerListScreen.on_mount (Textual calls each class's handler)
        self.app.book.changed.subscribe(self, self._maybe_measure)
        self.measure_suspended()
        self.set_interval(SUSPENDED_MEMORY_SECONDS, self.measure_suspended)

    def _maybe_measure(self, ids: frozenset[int] | None) -> None:
        paused = frozenset(
            cid for cid, view in self.app.book.views.items() if view.state == ContainerState.PAUSED
        )
        if paused != self._paused:
            self._paused = paused
            self.measure_suspended()

    def measure_suspended(self) -> None:
        # On failure the summary keeps its last figure and the error is shown.
        self.run_call(self.app.session.suspended_memory, then=self._measured, group="suspended-memory",
                      exclusive=True)

    def _measured(self, figure: SuspendedMemory) -> None:
        self.suspended = figure
        self._update_summary()

    def summary_extra(self) -> list[str]:
        figure = self.suspended
        if figure is None or not figure.count:
            return []
        return [f"{figure.count:,} suspended hold {format_bytes(figure.bytes)} (S stops them)"]

    def action_stop_suspended(self) -> None:
        paused = [view for view in self.app.book.views.values() if view.state == ContainerState.PAUSED]
        if not paused:
            self.app.notify("No notebook is suspended.", markup=False)
            return
        held = (
            f", holding {format_bytes(self.suspended.bytes)}"
            if self.suspended and self.suspended.count
            else ""
        )
        which = "the suspended notebook" if len(paused) == 1 else f"all {len(paused)} suspended notebooks"
        question = (f"Stop {which}{held}? Kernels and anything not saved are lost; owners start them again "
                    "as usual.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_session("Stopping the suspended notebooks…", "Stopped the suspended notebooks.",
                                  self.app.session.stop_suspended)

        self.app.push_screen(ConfirmScreen(question, "Stop them"), answered)

    def action_new(self) -> None:
        self.new_notebook(with_owner=True)

    def action_reconcile(self) -> None:
        self.app.notify("Reconciling store and engine…", timeout=3, markup=False)
        self._reconcile()

    def _reconcile(self) -> None:
        session = self.app.session
        self.run_call(lambda: (session.reconcile(), session.list_containers()),
                      then=lambda answer: self._reconciled(*answer), group="reconcile", exclusive=True,
                      title="Reconcile failed")

    def _reconciled(self, report, views) -> None:
        self.app.book.load(views)
        summary = (f"Checked {report.checked} containers in {report.seconds:.2f} s: "
                   f"{len(report.repaired)} repaired, {len(report.flagged)} need a decision.")
        if not report.repaired and not report.flagged:
            self.app.notify(f"{summary} Store and engine agree.", markup=False)
            return
        self.app.push_screen(ReportScreen("Reconcile", summary, [
            ("Repaired", report.repaired),
            ("Flagged (needs you)", report.flagged),
        ]))
