"""The Notifications section: the user's own notifications with read marks; send to own groups."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from ... import validation
from ...domain import NotificationView
from ..widgets.format import ago
from ..widgets.forms import FieldSpec, FormScreen
from ..widgets.table import Column
from .listscreen import ListScreen

KIND_CHOICES = tuple((kind, kind) for kind in ("misc", "container", "image", "group", "share"))


def one_line(text: str) -> str:
    return " ".join(text.split())


class NotificationsScreen(ListScreen):
    """Notifications, newest first: `enter` reads one (and marks it read), `m` marks it read,
    `M` marks all read, `n` sends a message to a group you belong to."""

    TITLE_TEXT = "Notifications"
    COLUMNS = (
        Column("new", "", 1),
        Column("when", "When", 9),
        Column("from", "From", 9),
        Column("about", "About", 12),
        Column("message", "Message", 20, grow=3),
    )
    FILTER_HINT = "filter by sender, subject or text"
    EMPTY = "No notifications. Shares, images and group changes are announced here."
    HINT = "enter read · m mark read · M mark all read · n send"
    BINDINGS = [
        Binding("n", "send", "Send"),
        Binding("m", "mark", "Mark read"),
        Binding("M", "mark_all", "All read", key_display="M"),
        *ListScreen.LIST_BINDINGS,
    ]

    def load_call(self):
        return self.app.session.list_notifications

    def key_of(self, view: NotificationView) -> int:
        return view.id

    def fields(self, view: NotificationView) -> tuple[object, ...]:
        return (view.sender or "system", view.message, view.target, view.kind)

    def row(self, view: NotificationView) -> tuple:
        style = "" if view.read else "bold"
        about = f"{view.kind} {view.target}" if view.target else view.kind
        message = Text(one_line(view.message), style=style)
        if view.repeats > 1:  # the same system notice, coalesced
            message.append(f" ×{view.repeats}", style="dim")
        return (Text("•" if not view.read else "", style="bold yellow"), ago(view.created),
                Text(view.sender or "system", style=style), Text(about), message)

    def summary(self, view: NotificationView) -> Text:
        text = Text(f"to {', '.join(view.groups)}: ", style="dim")
        text.append(one_line(view.message))
        return text

    def details(self, view: NotificationView) -> Text:
        text = Text(f"From {view.sender or 'the system'} to {', '.join(view.groups) or '-'}", style="bold")
        text.append(f"  ({ago(view.created)})\n")
        if view.target:
            text.append(f"About the {view.kind} {view.target}\n", style="dim")
        text.append("\n")
        text.append(view.message)
        return text

    def action_details(self) -> None:
        view = self.current()
        super().action_details()
        if view is not None and not view.read:
            self._mark(view.id)

    def _mark(self, notification_id: int | None) -> None:
        def marked(_count: int) -> None:
            self.action_reload()
            refresh = getattr(self.app, "check_unread", None)
            if refresh is not None:
                refresh()

        self.run_call(self.app.session.mark_read, notification_id, then=marked, title="Not marked as read")

    def action_mark(self) -> None:
        view = self.selected_or_warn()
        if view is not None:
            self._mark(view.id)

    def action_mark_all(self) -> None:
        self._mark(None)

    def action_send(self) -> None:
        view = self.current()
        form = FormScreen("Send a notification", [
            FieldSpec("group", "To group", check=validation.group_name, required=True,
                  value=view.groups[0] if view is not None and view.groups else ""),
            FieldSpec("message", "Message", check=validation.notification_message, required=True),
            FieldSpec("kind", "About", kind="choice", options=KIND_CHOICES, value="misc"),
            FieldSpec("target", "Its name", check=validation.notification_target),
        ], submit_label="Send")

        def submitted(values: dict | None) -> None:
            if values:
                self.run_call(self.app.session.send_notification, values["group"], values["message"],
                          kind=values["kind"], target=values["target"],
                          then=self.done(f"Sent to {values['group']}."), title="Not sent")

        self.app.push_screen(form, submitted)
