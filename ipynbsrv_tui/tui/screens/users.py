"""The Users section: directory users, and creating, changing and deleting them (admins)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from ...domain import DeleteUserReport, Health, UserView
from ..widgets.confirm import ConfirmScreen
from ..widgets.format import ago
from ..widgets.table import Column
from .listscreen import ListScreen
from .user_forms import CreateUserScreen, DeleteUserScreen, ResetPasswordScreen, delete_report

COLUMNS = (
    Column("username", "Username", 10, grow=1),
    Column("name", "Name", 12, grow=2),
    Column("uid", "UID", 6, justify="right"),
    Column("admin", "Admin", 5),
    Column("status", "Status", 8),
    Column("containers", "Used", 4, justify="right"),
    Column("seen", "Last seen", 10),
)


def user_row(view: UserView) -> tuple[Text | str, ...]:
    """The table cells of one user, as plain text."""
    return (
        Text(view.username, style="" if view.active else "dim"),
        Text(view.display_name),
        str(view.uid),
        Text("admin", style="bold") if view.is_admin else "",
        Text("active", style="green") if view.active else Text("disabled", style="yellow"),
        str(view.containers),
        ago(view.last_seen),
    )


def stale_text(health: Health) -> Text:
    """The banner over a user list that may be out of date."""
    when = (
        health.directory_synced_at.strftime("%Y-%m-%d %H:%M UTC") if health.directory_synced_at else "never"
    )
    text = Text("Stale: ", style="bold")
    reason = health.directory_detail if not health.directory_ok else "the last sync failed"
    text.append(f"{reason}. This list was last synced {when}; y syncs again.")
    return text


class UsersScreen(ListScreen):
    """Directory users (admins): username, name, uid, admin, status, containers, last seen.

    `n` create, `p` reset password, `a` toggle admin, `t` disable or enable, `d` delete (choosing
    what happens to containers and data), `y` sync from the directory, `/` filter, f5 reload.
    """

    DEFAULT_CSS = """
    UsersScreen #stale { height: auto; padding: 0 1; background: $warning 30%; display: none; }
    UsersScreen #stale.-shown { display: block; }
    """
    TITLE_TEXT = "Users"
    COLUMNS = COLUMNS
    FILTER_HINT = "filter by username, name or email"
    EMPTY = "No users yet: n creates one, y syncs them from the directory."
    HINT = "n creates a user · y syncs from the directory"
    LOAD_ERROR = "Cannot list the users"
    NOTHING_SELECTED = "No user selected."
    BINDINGS = [  # the filter first: the footer cuts from the right at 80 columns
        *ListScreen.FILTER_BINDINGS,
        Binding("n", "create", "New user"),
        Binding("p", "password", "Password"),
        Binding("a", "toggle_admin", "Admin"),
        Binding("t", "toggle_active", "Disable/enable"),
        Binding("d", "delete", "Delete"),
        Binding("y", "sync", "Sync"),
        ListScreen.RELOAD_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.health: Health | None = None

    def compose_banner(self) -> ComposeResult:
        yield Static("", id="stale")

    def load_call(self) -> Callable[[], list[UserView]]:
        return self.app.session.list_users

    def key_of(self, view: UserView) -> str:
        return view.username

    def fields(self, view: UserView) -> tuple[object, ...]:
        return (view.username, view.display_name, view.email)

    def row(self, view: UserView) -> tuple[Text | str, ...]:
        return user_row(view)

    def summary(self, view: UserView) -> Text:
        text = Text(view.username, style="bold")
        text.append(f"  {view.email or '(no email)'}  uid {view.uid} gid {view.gid}  source {view.source}")
        return text

    def details(self, view: UserView) -> Text:
        text = Text(view.username, style="bold")
        text.append(f"  ({view.display_name})\n\n" if view.display_name else "\n\n")
        for label, value in (
            ("Email", view.email or "-"), ("UID / GID", f"{view.uid} / {view.gid}"),
            ("Admin", "yes" if view.is_admin else "no"), ("Status", "active" if view.active else "disabled"),
            ("Source", view.source), ("Containers", str(view.containers)), ("Last seen", ago(view.last_seen)),
        ):
            text.append(f"{label:<12}", style="bold")
            text.append(f"{value}\n")
        return text

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        super().action_reload()
        self.run_call(self.app.session.health, then=self.show_health, failed=lambda _exc: None)

    def show_health(self, health: Health) -> None:
        self.health = health
        banner = self.query_one("#stale", Static)
        if health.directory_stale:
            banner.update(stale_text(health))
        banner.set_class(health.directory_stale, "-shown")

    # ------------------------------------------------------------------ actions

    def action_create(self) -> None:
        def created(view: UserView | None) -> None:
            if view is not None:
                self.app.notify(f"Created user {view.username} (uid {view.uid}).", title="User created",
                                markup=False)
                self.action_reload()

        self.app.push_screen(CreateUserScreen(), created)

    def action_password(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return

        def done(changed: bool | None) -> None:
            if changed:
                self.app.notify(f"Set a new password for {view.username}.", markup=False)

        self.app.push_screen(ResetPasswordScreen(view.username), done)

    def action_toggle_admin(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return

        def done(updated: UserView) -> None:
            state = "an admin" if updated.is_admin else "no longer an admin"
            self.app.notify(f"{updated.username} is {state}.", markup=False)
            self.action_reload()

        def run(yes: bool | None = True) -> None:
            if yes:
                self.run_call(self.app.session.set_admin, view.username, not view.is_admin, then=done,
                              title="Admin flag not changed")

        if view.is_admin:
            run()  # taking rights away needs no question (as enabling does not)
            return
        question = (f"Make {view.username} an admin? They may then see and act on every user's notebooks, "
                    "tokens included, and manage users and images.")
        self.app.push_screen(ConfirmScreen(question, confirm_label="Make admin", cancel_label="Cancel"), run)

    def action_toggle_active(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return

        def done(updated: UserView) -> None:
            state = "enabled" if updated.active else "disabled"
            self.app.notify(f"User {updated.username} is {state}.", markup=False)
            self.action_reload()

        def run(yes: bool | None = True) -> None:
            if yes:
                self.run_call(self.app.session.set_active, view.username, not view.active, then=done,
                          title="User not disabled" if view.active else "User not enabled")

        if view.active:
            question = (f"Disable user {view.username}? They cannot log in or create containers, "
                        "and their running containers are stopped.")
            self.app.push_screen(ConfirmScreen(question, confirm_label="Disable"), run)
        else:
            run()

    def action_delete(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            containers, data = choice
            self.app.notify(f"Deleting {view.username}…", markup=False)
            self.run_call(self.app.session.delete_user, view.username, containers=containers, data=data,
                      then=self._deleted, title=f"User {view.username} not deleted")

        self.app.push_screen(DeleteUserScreen(view), chosen)

    def _deleted(self, report: DeleteUserReport) -> None:
        self.action_reload()
        self.app.push_screen(delete_report(report))

    def action_sync(self) -> None:
        def done(report) -> None:
            summary = report.summary() if hasattr(report, "summary") else str(report)
            self.app.notify(f"Synced from the directory: {summary}", title="Users synced", markup=False)
            self.action_reload()

        self.app.notify("Syncing users from the directory…", markup=False)
        self.run_call(self.app.session.sync_users, then=done, title="Sync failed")
