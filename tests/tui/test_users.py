"""The Users section: create, reset password, admin, disable / enable, delete (local directory and slapd)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import NotFound
from ipynbsrv_tui.service import Session, build_service
from ipynbsrv_tui.tui.screens.user_forms import CreateUserScreen, DeleteUserScreen, ResetPasswordScreen
from ipynbsrv_tui.tui.screens.users import UsersScreen
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen
from ipynbsrv_tui.tui.widgets.report import ReportScreen

from .fixtures_admin import (
    HEALTH,
    ROOT,
    AdminHarness,
    FixedAdminSession,
    notifications,
    screen_text,
    wait_for,
)

SIZE = (80, 24)


def error_of(screen, input_id: str) -> str:
    field = screen.query_one(f"#{input_id}").parent.parent
    return str(field.query_one(".error").render())


async def open_users(pilot, app) -> UsersScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, UsersScreen), what="the users screen")
    return app.screen


async def create_by_keyboard(pilot, app, username: str, password: str) -> None:
    """n → fill the form with some mistakes first → Enter; returns when the form closed."""
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, CreateUserScreen))
    form = app.screen
    await pilot.pause()
    await pilot.press(*"A B")
    assert "is not valid" in error_of(form, "username")
    await pilot.press(
        "ctrl+u", *username, "tab", *"C [b]S[/b]", "tab", *"c@e.org", "tab", *"short", "tab", "x"
    )
    assert "at least 8 characters" in error_of(form, "password")
    assert "differ" in error_of(form, "password-again")
    await pilot.press("enter")
    await pilot.pause()
    assert app.screen is form, "an invalid form must not be saved"
    assert form.focused.id == "password"
    await pilot.press("ctrl+u", *password, "tab", "ctrl+u", *password, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, UsersScreen), what="the form to close")


async def delete_by_keyboard(
    pilot, app, screen: UsersScreen, username: str, data_delete: bool
) -> ReportScreen:
    """d → (Cancel is the default: Enter keeps the user) → d → choose → Delete; returns the report."""
    assert screen.table.move_to(username)
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, DeleteUserScreen))
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is screen)
    assert username in screen.items

    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, DeleteUserScreen))
    dialog = app.screen
    await pilot.pause()
    if data_delete:
        await pilot.press("shift+tab", "down", "enter", "tab")  # data: archive → delete, back to Cancel
        assert dialog.choice("data") == "delete"
    assert dialog.choice("containers") == "archive"
    assert dialog.focused.id == "cancel"
    await pilot.press("tab", "enter")  # Cancel → Delete
    await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), timeout=30, what="the report")
    return app.screen


async def test_create_and_delete_a_user_in_the_local_directory(local_session, service_config):
    app = AdminHarness(local_session, service_config, mode="users")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_users(pilot, app)
        await create_by_keyboard(pilot, app, "carl", "secret-99")
        await wait_for(pilot, lambda: "carl" in screen.items, what="the new row")
        view = screen.items["carl"]
        assert view.display_name == "C [b]S[/b]" and view.email == "c@e.org"
        assert "C [b]S[/b]" in screen_text(app)
        local_session.service.directory.authenticate("carl", "secret-99")
        home = local_session.service.data.home_of("carl")
        assert home.is_dir()

        report = await delete_by_keyboard(pilot, app, screen, "carl", data_delete=True)
        assert report.report_title == "User carl deleted"
        assert "data: delete" in report.summary
        await pilot.press("escape")
        await wait_for(
            pilot, lambda: app.screen is screen and "carl" not in screen.items, what="the row to go"
        )
    assert not home.exists()
    with pytest.raises(NotFound):
        local_session.service.directory.get_user("carl")


@pytest.mark.ldap
async def test_create_and_delete_a_user_against_slapd(ldap_directory_config):
    session = Session(build_service(ldap_directory_config), ROOT)
    app = AdminHarness(session, ldap_directory_config, mode="users")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_users(pilot, app)
        await pilot.press("y")  # sync alice and bob from slapd
        await wait_for(pilot, lambda: {"alice", "bob"} <= set(screen.items), what="the synced users")
        assert any(n.startswith("Synced from the directory") for n in notifications(app))

        await create_by_keyboard(pilot, app, "carl", "secret-99")
        await wait_for(pilot, lambda: "carl" in screen.items, what="the new row")
        found = session.service.directory.get_user("carl")
        assert found.display_name == "C [b]S[/b]"
        session.service.directory.authenticate("carl", "secret-99")

        report = await delete_by_keyboard(pilot, app, screen, "carl", data_delete=False)
        assert "data: archive" in report.summary
        archived = [line for heading, lines in report.sections if heading == "Archived" for line in lines]
        assert archived and archived[0].endswith(".tar.gz")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.screen is screen and "carl" not in screen.items, what="the row to go"
        )
    with pytest.raises(NotFound):
        session.service.directory.get_user("carl")


async def test_reset_password_toggle_admin_disable_and_enable(local_session, service_config):
    local_session.create_user("dana", "dana-secret-1", display_name="Dana")
    directory = local_session.service.directory
    app = AdminHarness(local_session, service_config, mode="users")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_users(pilot, app)
        await wait_for(pilot, lambda: "dana" in screen.items)
        assert screen.table.move_to("dana")

        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ResetPasswordScreen))
        await pilot.pause()
        await pilot.press(*"secret-42", "tab", *"secret-42", "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the password form to close")
        directory.authenticate("dana", "secret-42")

        await pilot.press("a")  # granting asks first (issue 28, item 12); Cancel is the default
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "Make dana an admin?" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        assert not screen.items["dana"].is_admin
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.items["dana"].is_admin, what="admin")
        await pilot.press("a")  # revoking needs no question
        await wait_for(pilot, lambda: not screen.items["dana"].is_admin, what="not admin")

        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.items["dana"].active, what="disabled")
        assert "disabled" in screen_text(app)
        await pilot.press("t")  # enabling needs no confirmation
        await wait_for(pilot, lambda: screen.items["dana"].active, what="enabled")
    assert directory.get_user("dana").active


async def test_filter_and_stale_marker():
    app = AdminHarness(FixedAdminSession(stale=True), Config(), mode="users", health=HEALTH)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_users(pilot, app)
        await wait_for(pilot, lambda: screen.items and screen.health is not None)
        shown = screen_text(app)
        assert "Stale:" in shown and "unreachable" in shown
        assert "Bob [bold]Builder[/bold]" in shown  # markup-like names stay text
        await pilot.press("slash", *"liddell")
        assert list(screen.table.keys) == ["alice"]
        await pilot.press("escape")
        assert screen.table.row_count == 3
        assert isinstance(screen.query_one("#list-filter", Input), Input)


async def test_delete_choices_read_without_colour_and_arrows_right_never_change_them(
    local_session, service_config
):
    """Issue 28, item 8: every radio showed ● (only colour told the choice), and → Enter in the
    containers list, meant for the Delete button, changed archive to delete."""
    from ipynbsrv_tui.domain import UserView

    app = AdminHarness(local_session, service_config, mode="users")
    async with app.run_test(size=SIZE) as pilot:
        await open_users(pilot, app)
        dialog = DeleteUserScreen(UserView("carl", 3001, 3001))
        await app.push_screen(dialog)
        await pilot.pause()
        marks = {button.id: button.BUTTON_INNER for button in dialog.query("Choice")}
        assert marks == {"containers-keep": " ", "containers-archive": "●", "containers-delete": " ",
                         "data-keep": " ", "data-archive": "●", "data-delete": " "}
        dialog.query_one("#containers-choice").focus()
        await pilot.press("right", "enter", "left", "enter")
        assert dialog.choice("containers") == "archive"
        await pilot.press("down", "enter")
        assert dialog.choice("containers") == "delete"
        await pilot.pause()
        assert dialog.query_one("#containers-delete").BUTTON_INNER == "●"
        assert dialog.query_one("#containers-archive").BUTTON_INNER == " "
        await pilot.press("escape")
