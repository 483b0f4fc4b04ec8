"""The Users section: directory users, and creating, changing and deleting them (admins)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from ...domain import DeleteUserReport, Health, UserView
from ..background import Background
from ..widgets.confirm import ConfirmScreen
from ..widgets.filterbar import FilterBar, matches
from ..widgets.footer import KeysFooter
from ..widgets.format import ago
from ..widgets.statusbar import StatusBar
from ..widgets.table import Column, VirtualTable
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
    when = health.directory_synced_at.strftime("%Y-%m-%d %H:%M UTC") if health.directory_synced_at else "never"
    text = Text("Stale: ", style="bold")
    reason = health.directory_detail if not health.directory_ok else "the last sync failed"
    text.append(f"{reason}. This list was last synced {when}; y syncs again.")
    return text


class UsersScreen(Background, Screen):
    """Directory users (admins): username, name, uid, admin, status, containers, last seen.

    `n` create, `p` reset password, `a` toggle admin, `t` disable or enable, `d` delete (choosing
    what happens to containers and data), `y` sync from the directory, `/` filter.
    """

    DEFAULT_CSS = """
    UsersScreen #stale { height: auto; padding: 0 1; background: $warning 30%; display: none; }
    UsersScreen #stale.-shown { display: block; }
    UsersScreen #user-details { height: 2; padding: 0 1; background: $boost; }
    """
    BINDINGS = [  # the filter first: the footer cuts from the right at 80 columns
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("n", "create", "New user"),
        Binding("p", "password", "Password"),
        Binding("a", "toggle_admin", "Admin"),
        Binding("t", "toggle_active", "Disable/enable"),
        Binding("d", "delete", "Delete"),
        Binding("y", "sync", "Sync"),
        Binding("f5", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, UserView] = {}
        self.health: Health | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("Users")
        yield Static("", id="stale")
        yield FilterBar("filter by username, name or email", id="user-filter")
        yield VirtualTable(COLUMNS, self._row, id="users",
                           empty_text="No users yet: n creates one, y syncs them from the directory.")
        yield Static("", id="user-details")
        yield KeysFooter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#users", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        session = self.app.session
        self.run_call(session.list_users, then=self.show_users, group="load", exclusive=True, title="Cannot list the users")
        self.run_call(session.health, then=self.show_health, failed=lambda _exc: None)

    def show_users(self, views: list[UserView]) -> None:
        self.users = {view.username: view for view in views}
        self._apply_filter()

    def show_health(self, health: Health) -> None:
        self.health = health
        banner = self.query_one("#stale", Static)
        if health.directory_stale:
            banner.update(stale_text(health))
        banner.set_class(health.directory_stale, "-shown")

    def _apply_filter(self) -> None:
        query = self.query_one(FilterBar).value
        keys = [name for name, v in self.users.items() if matches(query, v.username, v.display_name, v.email)]
        self.table.set_rows(keys)
        self.table.refresh_rows()
        self._show_details()

    def _row(self, username: str):
        return user_row(self.users[username])

    def current(self) -> UserView | None:
        key = self.table.cursor_key
        return self.users.get(key) if key is not None else None

    def _selected_or_warn(self) -> UserView | None:
        view = self.current()
        if view is None:
            self.app.notify("No user selected.", severity="warning", markup=False)
        return view

    def _show_details(self) -> None:
        view = self.current()
        text = Text()
        if view is None:
            text.append("n creates a user · y syncs from the directory", style="dim")
        else:
            text.append(view.username, style="bold")
            text.append(f"  {view.email or '(no email)'}  uid {view.uid} gid {view.gid}  source {view.source}")
        self.query_one("#user-details", Static).update(text)

    @on(VirtualTable.RowHighlighted, "#users")
    def _highlighted(self, _event: VirtualTable.RowHighlighted) -> None:
        self._show_details()

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    @on(Input.Changed, "#user-filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self._apply_filter()

    @on(FilterBar.Done)
    def _filter_done(self, _event: FilterBar.Done) -> None:
        self.table.focus()

    # ------------------------------------------------------------------ actions

    def action_create(self) -> None:
        def created(view: UserView | None) -> None:
            if view is not None:
                self.app.notify(f"Created user {view.username} (uid {view.uid}).", title="User created",
                                markup=False)
                self.action_reload()

        self.app.push_screen(CreateUserScreen(), created)

    def action_password(self) -> None:
        view = self._selected_or_warn()
        if view is None:
            return

        def done(changed: bool | None) -> None:
            if changed:
                self.app.notify(f"Set a new password for {view.username}.", markup=False)

        self.app.push_screen(ResetPasswordScreen(view.username), done)

    def action_toggle_admin(self) -> None:
        view = self._selected_or_warn()
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
        view = self._selected_or_warn()
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
        view = self._selected_or_warn()
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
