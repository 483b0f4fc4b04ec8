"""Containers (admins): every managed notebook container, live, with every action and reconcile."""

from __future__ import annotations

from textual import work
from textual.binding import Binding

from ..widgets.report import ReportScreen
from .containerlist import ContainerListScreen


class ContainersScreen(ContainerListScreen):
    """All users' containers: owner, name, image, state, port, CPU / memory, uptime, last activity."""

    SECTION = "Containers"
    STATS_CONSUMER = "containers"
    EMPTY_TEXT = "No notebook containers yet. Press n to create one."
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("ctrl+r", "reconcile", "Reconcile"),
    ]

    def action_new(self) -> None:
        self.new_notebook(with_owner=True)

    def action_reconcile(self) -> None:
        self.app.notify("Reconciling store and engine…", timeout=3, markup=False)
        self._reconcile()

    @work(thread=True, exit_on_error=False, group="reconcile", exclusive=True)
    def _reconcile(self) -> None:
        app = self.app
        try:
            report = app.session.reconcile()
            views = app.session.list_containers()
        except Exception as exc:  # shown, never raised
            app.call_from_thread(app.report_error, exc)
            return
        app.call_from_thread(self._reconciled, report, views)

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
