"""Marked rows and the bulk actions on them, for the container lists (issue 28, item 14).

`space` marks or unmarks the highlighted row, `*` marks every row the filter shows (or, when all
of them are marked already, clears the marks); ctrl+space does the same where the terminal sends
it. While rows are marked, a ✓ column shows them (readable without colour) and `s`, `r`, `p`, `u`
act on the marked rows instead of the highlighted one: one question naming how many, the calls in
a thread worker, then one report of what succeeded and what did not, each failure with its
one-line reason. Each container is still authorized by the service on its own (`bulk.run_each`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from textual.binding import Binding

from ... import bulk
from ...domain import ContainerState, ContainerView
from ..widgets.confirm import ConfirmScreen
from ..widgets.report import ReportScreen
from ..widgets.table import Column
from .actions import RUNNING_STATES

MARK = "✓"
MARK_COLUMN = Column("mark", MARK, 1)
VERBS = {"start": ("Start", "Starting"), "stop": ("Stop", "Stopping"), "restart": ("Restart", "Restarting"),
         "suspend": ("Suspend", "Suspending"), "resume": ("Resume", "Resuming")}
NAMED = 3  # how many marked containers the question names
# Textual reads BINDINGS from widget classes only: the list screen lists these in its own.
MARK_BINDINGS = [
    Binding("space", "mark", "Mark / unmark the row", show=False),
    Binding("asterisk,ctrl+@,ctrl+space", "mark_all", "Mark all shown, or unmark all", show=False,
            key_display="*"),
]


def toggle_action(view: ContainerView) -> str:
    """What `s` does to one row: resume a paused one (its kernels are kept), stop a running one,
    start the others."""
    if view.state == ContainerState.PAUSED:
        return "resume"
    return "stop" if view.state in RUNNING_STATES else "start"


def question(steps: Sequence[bulk.Step], hidden: int) -> str:
    """`Stop 3 and start 2 of the 5 marked containers (alice/a, bob/b, carol/c and 2 more)?` and what
    a stop or restart costs."""
    counts = Counter(step.action for step in steps)
    parts = [
        f"{VERBS[action][0] if i == 0 else action} {count}"
        for i, (action, count) in enumerate(counts.items())
    ]
    what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    total = len(steps)
    names = ", ".join(step.label for step in steps[:NAMED])
    if total > NAMED:
        names += f" and {total - NAMED} more"
    text = f"{what} of the {total} marked container{'s' if total != 1 else ''} ({names})?"
    if hidden:
        text += f" {hidden} of them {'is' if hidden == 1 else 'are'} hidden by the filter."
    if counts["stop"] or counts["restart"]:
        text += " Running kernels end where a notebook stops or restarts; saved files stay."
    return text


class MarkedRows:
    """Mixin for a container list (`ContainerListScreen`): the marks and the bulk actions on them.

    The list calls `marks_changed` hooks through `show_marks`; it provides `table`, `app` and the
    single-row actions (`ContainerScreen`) the bulk ones stand in for while rows are marked.
    """

    marked: set[int]

    def show_marks(self) -> None:
        """Repaint after the marks changed: the ✓ column is there while any row is marked."""
        table = self.table  # type: ignore[attr-defined]
        table.set_columns(self.table_columns())  # type: ignore[attr-defined]
        table.refresh_rows()
        self._update_summary()  # type: ignore[attr-defined]

    def mark_cells(self, container_id: int, cells: list) -> list:
        return [MARK if container_id in self.marked else "", *cells] if self.marked else cells

    def action_mark(self) -> None:
        key = self.table.cursor_key  # type: ignore[attr-defined]
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.show_marks()
        self.table.action_cursor_down()  # type: ignore[attr-defined]  # as k9s: space walks down the list

    def action_mark_all(self) -> None:
        shown = set(self.table.keys)  # type: ignore[attr-defined]
        if shown and shown <= self.marked:
            self.marked.clear()
        else:
            self.marked |= shown
        self.show_marks()

    def marks_summary(self) -> list[str]:
        if not self.marked:
            return []
        return [f"{len(self.marked):,} marked: s r p u act on them (* clears)"]

    # ------------------------------------------------------------------ bulk actions

    def act_on_marked(self, action: str) -> None:
        """One question for every marked row; `action` "toggle" is what `s` does to each row."""
        book = self.app.book  # type: ignore[attr-defined]
        shown = set(self.table.keys)  # type: ignore[attr-defined]
        steps: list[bulk.Step] = []
        for cid in sorted(self.marked, key=lambda cid: _sort_key(book.views.get(cid), cid)):
            view = book.views.get(cid)
            label = f"{view.owner}/{view.name}" if view is not None else f"container #{cid}"
            if view is None:
                steps.append(bulk.Step(label, cid, action if action != "toggle" else "start"))
            else:
                steps.append(bulk.Step(label, cid, toggle_action(view) if action == "toggle" else action))
        hidden = sum(1 for step in steps if step.container_id not in shown)
        counts = Counter(step.action for step in steps)
        confirm = f"{VERBS[steps[0].action][0]} {len(steps)}" if len(counts) == 1 else f"Act on {len(steps)}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_bulk(steps)

        self.app.push_screen(ConfirmScreen(question(steps, hidden), confirm, "Cancel"), answered)  # type: ignore[attr-defined]

    def _run_bulk(self, steps: list[bulk.Step]) -> None:
        counts = Counter(step.action for step in steps)
        doing = (f"{VERBS[steps[0].action][1]} {len(steps)} containers…" if len(counts) == 1
                 else f"Acting on {len(steps)} containers…")
        self.run_call(bulk.run_each, self.app.session, steps, then=self._bulk_done,  # type: ignore[attr-defined]
                      notify_start=doing, group="container-actions")

    def _bulk_done(self, outcomes: list[bulk.Outcome]) -> None:
        book = self.app.book  # type: ignore[attr-defined]
        for outcome in outcomes:
            if outcome.view is not None:
                book.put(outcome.view)
            if outcome.ok:
                self.marked.discard(outcome.step.container_id)  # the failed ones stay marked, to try again
        self.show_marks()
        actions = Counter(outcome.step.action for outcome in outcomes)
        title = ", ".join(f"{VERBS[action][0]} {count}" for action, count in actions.items())
        self.app.push_screen(ReportScreen(title, bulk.summary(outcomes), [  # type: ignore[attr-defined]
            ("Succeeded", [outcome.line() for outcome in outcomes if outcome.ok]),
            ("Failed (still marked)", [outcome.line() for outcome in outcomes if not outcome.ok]),
        ]))


def _sort_key(view: ContainerView | None, cid: int) -> tuple[str, str, int]:
    return (view.owner, view.name.lower(), cid) if view is not None else ("", "", cid)
