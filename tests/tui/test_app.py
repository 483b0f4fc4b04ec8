"""The app shell: sections, header, help, palette, themes, error handling, hang-up, launch."""

from __future__ import annotations

import os
import pty

import pytest
from textual.command import CommandPalette

from ipynbsrv_tui.domain import Actor, ContainerChange, ContainerState, NotAuthorized
from ipynbsrv_tui.tui.app import SECTIONS, Section, choose_theme
from ipynbsrv_tui.tui.commands import class_bindings, section_commands
from ipynbsrv_tui.tui.hangup import HANGUP_EXIT_CODE, HangupGuard, terminal_gone
from ipynbsrv_tui.tui.screens.build import BuildRequest
from ipynbsrv_tui.tui.screens.containers import ContainersScreen
from ipynbsrv_tui.tui.screens.help import HelpScreen
from ipynbsrv_tui.tui.screens.notebooks import NotebooksScreen
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen
from ipynbsrv_tui.tui.widgets.footer import KeyHints
from ipynbsrv_tui.tui.widgets.statusbar import StatusBar
from ipynbsrv_tui.tui.widgets.tabs import mode_at, tab_line

from .conftest import FixedSession, fixed_view, make_app, screen_text, wait_until

ALICE = Actor("alice", 2001, False, ("ipynbsrv-users",))


async def test_admin_starts_in_containers_with_all_sections():
    app = make_app(FixedSession())
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, ContainersScreen)
        assert [s.mode for s in app.sections] == [
            "containers", "images", "users", "notebooks", "groups", "shares", "notifications"]
        await pilot.press("4")
        assert isinstance(app.screen, NotebooksScreen)
        await pilot.press("1")
        assert isinstance(app.screen, ContainersScreen)


async def test_root_commits_nothing_and_is_asked_whose_notebook_to_make():
    """Issue 28, bug 5: root's m (commit) is refused before its form, with the reason; n in My
    notebooks asks for the owner first (root has no notebooks of its own)."""
    from ipynbsrv_tui.tui.widgets.notebook_form import NewNotebookForm

    app = make_app(FixedSession(), watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.book.load(app.session.list_containers())
        await pilot.pause()
        app.screen.query_one("#table").move_to(1)
        await pilot.press("m")
        await wait_until(
            pilot,
            lambda: any(
                "root is not a directory user, so cannot own a committed image" in n for n in app.notes
            ),
            what="the refusal",
        )
        assert isinstance(app.screen, ContainersScreen)  # no form
        await pilot.press("4")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewNotebookForm), what="the form")
        assert "owner" in {spec.name for spec in app.screen.fields}
    mine = make_app(FixedSession(actor=ALICE), watch=False)
    async with mine.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(mine.screen, NewNotebookForm), what="alice's form")
        assert "owner" not in {spec.name for spec in mine.screen.fields}  # her own, as before


async def test_user_gets_only_my_notebooks():
    app = make_app(FixedSession(actor=ALICE))
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, NotebooksScreen)
        assert [s.mode for s in app.sections] == ["notebooks", "groups", "shares", "notifications"]
        await pilot.press("1")
        assert isinstance(app.screen, NotebooksScreen)
        assert any("admins only" in n.message for n in app._notifications)
        await wait_until(pilot, lambda: app.book.loaded)
        await pilot.pause()
        rows = app.screen.query_one("#table").keys
        assert rows == [2, 1]  # alice's scratch and thesis, sorted by name


async def test_header_shows_host_mode_health_and_actor():
    app = make_app(FixedSession())
    async with app.run_test(size=(120, 24)) as pilot:
        await wait_until(pilot, lambda: app.health is not None)
        await pilot.pause()
        header = screen_text(app).splitlines()[1]
        for part in ("Containers", "testhost", "embedded", "engine ✓", "local ✓", "root (admin)"):
            assert part in header


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_tab_line_shows_every_section_and_its_key(size):
    app = make_app(FixedSession())
    async with app.run_test(size=size) as pilot:
        for section in (app.sections[0], app.sections[3]):  # FixedSession serves the container sections
            await pilot.press(section.key)
            tabs = screen_text(app).splitlines()[0]
            for other in app.sections:
                assert f" {other.key} " in tabs
            assert f" {section.key} {section.title} " in tabs
            rendered = app.screen.query_one(StatusBar).render()
            at = rendered.plain.index(f" {section.key} {section.title} ")
            styles = {str(span.style) for span in rendered.spans if span.start <= at + 1 < span.end}
            assert styles == {"bold reverse"}  # the current section stands out


async def test_tab_line_fits_80_columns_with_eight_sections():
    many = [Section(f"s{i}", title, str(i), False, "", "", short)
            for i, (title, short) in enumerate([("Containers", "Ctrs"), ("Images", "Img"), ("Users", ""),
                                                 ("My notebooks", "Mine"), ("Groups", ""), ("Shares", ""),
                                                 ("Notifications", "Notif"), ("Nodes", "")], 1)]
    for current in ("s1", "s4", "s7"):
        line = tab_line(many, current, 78)
        assert line.cell_len <= 78
        assert all(f" {s.key} " in line.plain for s in many)
        assert next(s.title for s in many if s.mode == current) in line.plain
    assert [mode_at(many, "s1", 78, x) for x in (0, 14)] == ["s1", "s2"]


@pytest.mark.parametrize("current", [s.mode for s in SECTIONS if not (s.swarm_only or s.backup_only)])
def test_tab_titles_are_words_at_80_columns(current):
    """Issue 28, item 11: no Img / Grp / Shr / Note (which read like notebooks) at 80 columns."""
    sections = [s for s in SECTIONS if not (s.swarm_only or s.backup_only)]
    line = tab_line(sections, current, 78).plain
    shown = {s.mode: s.title if s.mode == current else s.short_title for s in sections}
    assert line == "".join(f" {s.key} {shown[s.mode]} " for s in sections)
    assert all(word not in line.split() for word in ("Img", "Grp", "Shr", "Note", "Ctrs"))
    assert " 2 Images " in line and (" 7 Inbox " in line or " 7 Notifications " in line)


async def test_clicking_a_tab_switches_section():
    app = make_app(FixedSession())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click(StatusBar, offset=(37, 0))  # " 4 My notebooks " after padding and tabs 1-3
        await pilot.pause()
        assert app.current_mode == "notebooks"


async def test_help_key_is_not_cut_at_80_columns():
    app = make_app(FixedSession())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: screen_text(app).splitlines()[-1].strip(), what="the footer")
        assert screen_text(app).splitlines()[-1].rstrip().endswith("? Help")


async def test_help_lists_section_and_global_keys():
    app = make_app(FixedSession())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = {(key, description) for key, description, _ in app.screen.rows}
        for expected in [("/", "Filter"), ("s", "Start/stop"), ("d", "Delete"), ("E", "Reconcile"),
                         ("R", "Restore snapshot"), ("?", "Help"), ("^q", "Quit"), ("4", "My notebooks")]:
            assert expected in keys
        await pilot.press("escape")
        assert isinstance(app.screen, ContainersScreen)


async def test_help_on_the_build_log_names_the_build_log_and_its_keys_not_the_lists():
    from ipynbsrv_tui.tui.screens.build import BuildScreen
    from ipynbsrv_tui.tui.screens.help import FILTER_HELP

    from .fake_builds import BuildingSession

    session = BuildingSession()
    app = make_app(session, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = BuildScreen(BuildRequest("slow", "t/slow:1"))
        await app.push_screen(panel)
        await wait_until(pilot, lambda: panel.log_view.view.line_count == 1, what="the first step")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.section == "Build log"  # not the section underneath (Containers, Images)
        assert FILTER_HELP not in app.screen.notes and any("g/G" in note for note in app.screen.notes)
        keys = {(key, description) for key, description, _ in app.screen.rows}
        assert ("c", "Stop build") in keys and ("f", "Follow/pause") in keys
        await pilot.press("q")  # q closes the help, as Escape does
        assert app.screen is panel
        session.build.gate.set()
        await wait_until(pilot, lambda: panel.summary is not None, what="the build to end")


async def test_q_goes_back_from_a_pushed_screen_keeps_typed_text_and_quits_on_a_section():
    app = make_app(FixedSession(), watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        assert isinstance(app.screen, ContainersScreen)
        await pilot.press("slash", "q")  # the filter takes the q as text
        await pilot.pause()
        assert app.is_running and app.screen.query_one("#filter").value == "q"
        await pilot.press("escape", "escape")
        app.screen.query_one("#table").focus()
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="q to quit on a section's own screen")


async def test_palette_reaches_every_action_of_every_section():
    session = FixedSession()
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        titles = {command.title for command in section_commands(app, app.screen)}
        for section in app.sections:
            assert f"Go to {section.title}" in titles
            for binding in class_bindings(section.screen_class):
                if binding.description and not binding.system:
                    assert f"{section.title}: {binding.description}" in titles
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Go to My notebooks", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NotebooksScreen))
        await pilot.press("ctrl+p")
        await pilot.press(*"Containers: Delete")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the delete confirmation")
        assert app.current_mode == "containers"
        await pilot.press("escape")
        assert session.calls == []


async def test_sections_of_the_other_helper_are_real_modes():
    names = {section.mode: section.screen_class.__name__ for section in SECTIONS}
    assert names == {
        "containers": "ContainersScreen",
        "images": "ImagesScreen",
        "users": "UsersScreen",
        "notebooks": "NotebooksScreen",
        "groups": "GroupsScreen",
        "shares": "SharesScreen",
        "notifications": "NotificationsScreen",
        "nodes": "NodesScreen",
        "backups": "BackupsScreen",
    }


@pytest.mark.parametrize(
    ("environ", "theme"),
    [
        ({"TERM": "xterm-256color"}, "textual-dark"),
        ({"TERM": "xterm-256color", "SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"}, "ansi-dark"),
        ({"TERM": "linux"}, "ansi-dark"),
        ({"TERM": "xterm-256color", "IPYNBSRV_THEME": "nord"}, "nord"),
        ({"TERM": "xterm-256color", "TEXTUAL_THEME": "gruvbox"}, "gruvbox"),
    ],
)
def test_theme_choice(environ, theme):
    assert choose_theme(environ) == theme


async def test_ansi_dark_theme_is_selectable():
    app = make_app(FixedSession(), theme="ansi-dark")
    async with app.run_test(size=(80, 24)):
        assert app.theme == "ansi-dark"
        assert "ansi-dark" in app.available_themes


async def test_untrusted_text_is_never_markup():
    session = FixedSession()
    app = make_app(session)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "[bold]lab[/bold]" in text
        assert "[/bin/sh -c]" in text
        session.push(
            ContainerChange(7, "create", fixed_view(7, "dave", "[/link] [b]x", ContainerState.CREATED))
        )
        await wait_until(pilot, lambda: 7 in app.book.views)
        await pilot.pause()
        assert "[/link] [b]x" in screen_text(app)
        app.show_error(NotAuthorized("[/bin/sh -c] is [b]not[/b] yours"))
        await pilot.pause()
        assert (
            app._notifications and "[/bin/sh -c] is [b]not[/b] yours" in list(app._notifications)[-1].message
        )


async def test_a_failing_call_becomes_a_notification_not_a_crash():
    class Refusing(FixedSession):
        def stop_container(self, container_id):
            raise NotAuthorized("That container belongs to another user [/bin/sh -c].")

    app = make_app(Refusing())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        await pilot.pause()
        app.screen.query_one("#table").move_to(1)  # alice/thesis, running
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the stop's question")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("another user" in n.message for n in app._notifications))
        assert app.is_running
        assert app.book.views[1].state == ContainerState.RUNNING


def test_terminal_gone_detects_a_closed_pty():
    master, slave = pty.openpty()
    try:
        assert terminal_gone((slave,), os.getppid()) is None
        os.close(master)
        assert "hung up" in terminal_gone((slave,), os.getppid())
    finally:
        os.close(slave)


async def test_hangup_guard_exits_the_app_and_arms_the_hard_exit():
    exits: list[int] = []
    app = make_app(FixedSession())
    async with app.run_test(size=(80, 24)) as pilot:
        master, slave = pty.openpty()
        try:
            guard = HangupGuard(app, fds=(slave,), grace=0.2, poll=0.05, hard_exit=exits.append).install(
                sighup=False
            )
            os.close(master)
            await wait_until(pilot, lambda: guard.reason is not None, timeout=5, what="the watchdog")
            assert "hung up" in guard.reason
            await wait_until(pilot, lambda: exits == [HANGUP_EXIT_CODE], timeout=5, what="the hard exit")
        finally:
            os.close(slave)
    assert app.return_code == HANGUP_EXIT_CODE


def test_launch_refuses_without_a_terminal(capsys, monkeypatch):
    import argparse

    from ipynbsrv_tui.tui.launch import launch

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert launch(argparse.Namespace(config=None)) == 2
    assert "ssh -t" in capsys.readouterr().err


def test_launch_falls_back_to_embedded_when_the_broker_is_absent(tmp_config, monkeypatch):
    from ipynbsrv_tui.connect import open_session

    config = tmp_config.replace(broker={"socket": str(tmp_config.database.resolved_path.parent / "no.sock")})
    session = open_session(config)
    assert session.mode == "embedded"
    assert session.actor.is_admin  # root, unknown to the fresh directory


async def test_new_notebook_without_images_explains_what_to_do():
    class NoImages(FixedSession):
        def usable_images(self):
            return []

    app = make_app(NoImages(actor=ALICE))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_until(pilot, lambda: any("No image is available" in note for note in app.notes))
        assert isinstance(app.screen, NotebooksScreen)


@pytest.mark.docker
async def test_client_mode_through_the_broker(tmp_path, docker_client, chatty_image):
    """When the broker's socket answers, the same screens run over it (header says client)."""
    from ipynbsrv_tui.config import load_config
    from ipynbsrv_tui.connect import open_session
    from tests.fixtures.notebook_service import free_port_range
    from tests.integration import broker_support as support

    config_path = support.write_config(tmp_path, port_range=free_port_range(), uid_range=(62000, 62999))
    broker = support.BrokerProcess(
        config_path, str(tmp_path / "run" / "broker.sock"), tmp_path / "broker.log"
    )
    broker.start()
    session = None
    try:
        session = open_session(load_config(str(config_path)))
        assert session.mode == "client" and session.actor.is_admin
        session.create_user("alice", "alice-password")
        session.register_image("chatty", chatty_image, is_public=True)
        view = session.create_container("remote", "chatty", owner="alice")
        app = make_app(session, config=load_config(str(config_path)))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.health is not None and view.id in app.book.views)
            await pilot.pause()
            assert "(client)" in screen_text(app).splitlines()[1]
            # running, not starting: only a notebook whose kernels may run is asked about
            await wait_until(pilot, lambda: app.book.views[view.id].state == ContainerState.RUNNING,
                             what="the notebook answers")
            app.screen.query_one("#table").move_to(view.id)
            await pilot.press("s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the stop's question")
            await pilot.press("y")
            await wait_until(
                pilot, lambda: app.book.views[view.id].state == ContainerState.EXITED, what="stop"
            )
            docker_client.api.start(view.docker_id)
            await wait_until(pilot, lambda: app.book.views[view.id].state == ContainerState.RUNNING,
                             what="the start event through the broker")
        session.delete_container(view.id)
    finally:
        if session is not None:
            session.close()
        broker.stop()
        for container in docker_client.containers.list(all=True, filters={"label": "ipynbsrv.owner=alice"}):
            if container.name.startswith("ipynbsrv-") and container.name.endswith("-remote"):
                container.remove(force=True)


def test_shell_command_runs_a_login_shell_as_the_owner_in_the_container():
    from ipynbsrv_tui.domain import UserView
    from ipynbsrv_tui.tui.shell import shell_command

    view = fixed_view(1, "alice", "thesis", ContainerState.RUNNING)
    alice = UserView("alice", 2001, 2001)
    command = shell_command(view, alice, "unix:///run/x.sock", "/usr/bin/docker")
    assert command[:3] == ["/usr/bin/docker", "-H", "unix:///run/x.sock"]
    assert command[3:7] == ["exec", "-it", "-u", "2001:2001"]
    assert "HOME=/home/alice" in command and view.docker_id in command
    assert shell_command(view, alice)[:2] == ["docker", "exec"]  # DOCKER_HOST / the default engine
    # The shell's stderr (bash's prompt, error messages) reaches the terminal (issue 28, bug 4).
    assert "/dev/null" not in command[-1].split("exec bash", 1)[1]
    assert "IPYNBSRV_PROMPT=alice@thesis:\\w\\$ " in command


def test_shell_and_url_print_on_a_clean_alternate_screen_and_leave_the_normal_one_as_it_was():
    import io

    from ipynbsrv_tui.domain import UserView
    from ipynbsrv_tui.tui.shell import ALT_SCREEN_OFF, ALT_SCREEN_ON, alternate_screen, shell_banner

    out = io.StringIO()
    with alternate_screen(out) as stream:
        stream.write("http://host/?token=secret\n")
    assert out.getvalue() == ALT_SCREEN_ON + "http://host/?token=secret\n" + ALT_SCREEN_OFF
    assert ALT_SCREEN_OFF.endswith("\x1b[?1049l")  # back to the normal screen: the token is not on it
    banner = shell_banner(
        fixed_view(1, "alice", "thesis", ContainerState.RUNNING), UserView("alice", 2001, 2001)
    )
    assert banner.startswith("Shell in alice's notebook thesis as alice (uid 2001).") and "exit" in banner



async def test_x_asks_for_embedded_mode_and_explains_when_the_terminal_cannot_be_handed_over():
    from ipynbsrv_tui.domain import UserView

    class WithUsers(FixedSession):
        def get_user(self, username):
            return UserView(username, 2001, 2001)

    session = WithUsers()
    app = make_app(session, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.book.load(session.list_containers())
        await pilot.pause()
        app.screen.query_one("#table").move_to(1)  # alice/thesis, running
        await pilot.press("x")  # headless: no terminal to hand over
        await wait_until(pilot, lambda: any("cannot hand itself over" in note for note in app.notes))
        session.mode = "client"
        await pilot.press("x")
        await wait_until(
            pilot, lambda: any("only when ipynbsrv-tui talks to the engine" in n for n in app.notes)
        )

    user_app = make_app(FixedSession(actor=ALICE), watch=False)
    async with user_app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "shell" not in {b.binding.action for b in user_app.screen.active_bindings.values()}


@pytest.mark.parametrize("width", [80, 100])
async def test_details_show_the_url_in_one_piece_every_port_and_o_prints_it(width):
    from dataclasses import replace

    from ipynbsrv_tui.tui.screens.details import ContainerDetailsScreen

    view = replace(fixed_view(1, "alice", "thesis", ContainerState.RUNNING, minutes_up=5),
                   public_ports={"22": 52002}, ready=True)
    session = FixedSession(views=[view])
    app = make_app(session, watch=False)
    async with app.run_test(size=(width, 40)) as pilot:
        app.book.load(session.list_containers())
        await app.push_screen(ContainerDetailsScreen(1))
        await pilot.pause()
        lines = screen_text(app).splitlines()
        if width >= 100:  # it fits: one line holds all of it, for a terminal selection
            assert any(view.url in line for line in lines)
        else:  # it does not fit: its start stands alone at the left edge, o shows it whole
            assert any(line.strip().startswith(view.url[:60]) for line in lines)
        ports = next(line for line in lines if "Ports" in line)
        assert "49152 (notebook)" in ports and "22 → 52002" in ports
        await pilot.press("o")  # headless: no terminal to hand over, so a notification holds it
        await wait_until(pilot, lambda: any(view.url in note for note in app.notes))
        await pilot.press("y")
        assert app.clipboard == view.url


async def test_a_change_of_rights_reopens_the_sections_the_user_may_use_and_drops_others_rows():
    """Issue 28, bug 2 (the console's half; the broker's is in test_liveness): a demoted admin's
    open console drops the admin sections, every modal on them and the rows of other users."""
    session = FixedSession()
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded and 3 in app.book.views)
        await pilot.press("enter")  # a details screen over the admin's list
        demoted = Actor("alice", 2001, False, ("ipynbsrv-users",))
        session.rights.put(demoted)
        await wait_until(pilot, lambda: isinstance(app.screen, NotebooksScreen))
        await wait_until(pilot, lambda: app.book.loaded)
        assert [s.mode for s in app.sections] == ["notebooks", "groups", "shares", "notifications"]
        assert all(view.owner == "alice" for view in app.book.views.values())
        assert "alice" in screen_text(app).splitlines()[1] and "(admin)" not in screen_text(app)
        assert any("no longer an admin" in note for note in app.notes)
        await pilot.press("1")
        assert isinstance(app.screen, NotebooksScreen)


async def test_an_ended_access_closes_the_console_with_the_reason():
    session = FixedSession(actor=ALICE)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        from ipynbsrv_tui.domain import RightsChanged

        session.rights.fail(RightsChanged("Your access ended: User 'alice' is disabled."))
        await wait_until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 1
    assert not app.book.views


async def test_the_same_error_from_a_repeated_call_shows_once_while_it_is_on_screen():
    """Bob, demoted, got one error toast per refresh (issue 28): the same failure every second
    (the health check here) is one notification until it answers again."""

    class FailingHealth(FixedSession):
        failing = True

        def health(self):
            if self.failing:
                raise NotAuthorized("Only admins may see the engine's health.")
            return super().health()

    session = FailingHealth()
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(3.5)  # three health checks and more
        assert app.notes.count("Only admins may see the engine's health.") == 1
        session.failing = False
        await pilot.pause(1.5)
        session.failing = True
        app.error_toasts = type(app.error_toasts)()  # the first toast has expired meanwhile
        await wait_until(pilot, lambda: app.notes.count("Only admins may see the engine's health.") == 2,
                         what="the error again after a recovery")


def test_error_toasts_repeat_only_once_the_first_has_gone():
    from ipynbsrv_tui.tui.background import ERROR_SECONDS, ErrorToasts

    now = [100.0]
    toasts = ErrorToasts(clock=lambda: now[0])
    assert toasts.due("Error", "refused") and not toasts.due("Error", "refused")
    assert toasts.due("Error", "another") and toasts.due("Not saved", "refused")
    now[0] += ERROR_SECONDS + 0.1
    assert toasts.due("Error", "refused")


async def test_greater_than_sorts_by_the_next_column_and_less_than_reverses_shown_in_the_header():
    """Issue 28, item 7: sort by column as k9s does; the header names the sort and its direction."""
    app = make_app(FixedSession())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        table = screen.query_one("#table")
        await wait_until(pilot, lambda: table.row_count == 6, what="the rows")
        names = lambda: [app.book.views[cid].name for cid in table.keys]  # noqa: E731
        default = names()
        assert default == ["scratch", "thesis", "[bold]lab[/bold]", "course-2026", "gpu-sim", "admin-tools"]
        await pilot.press("greater_than_sign")  # owner ▲: the same order, now said in the header
        assert screen.sort_column == "owner" and names() == default and "Owner ▲" in screen_text(app)
        await pilot.press("greater_than_sign")
        assert screen.sort_column == "name" and "Name ▲" in screen_text(app)
        assert names() == sorted(default, key=str.lower)
        table.move_to(3)
        await pilot.press("less_than_sign")
        assert names() == sorted(default, key=str.lower, reverse=True) and "Name ▼" in screen_text(app)
        assert table.cursor_key == 3  # the cursor stays on its row
        await pilot.press("greater_than_sign", "greater_than_sign")  # image, then state
        assert screen.sort_column == "state" and "State ▲" in screen_text(app)
        states = [app.book.views[cid].state.value for cid in table.keys]
        assert states == sorted(states)
        # a change of state moves the row to its place while sorted by state
        app.book.put(fixed_view(2, "alice", "scratch", ContainerState.RUNNING, image="ipython2"))
        await pilot.pause()
        states = [app.book.views[cid].state.value for cid in table.keys]
        assert states == sorted(states)
        for _ in range(10):  # past the last column: back to owner / name, no arrow
            if screen.sort_column is None:
                break
            await pilot.press("greater_than_sign")
        assert screen.sort_column is None and "▲" not in screen_text(app) and names()[0] == "scratch"


async def test_every_containers_action_key_is_on_screen_at_80x24():
    """Issue 28, item 11: at 80x24 the Containers screen shows every key of its own under the
    table — the footer's, and the others (l p u c t R m x o y Y, space, *, >, <, …) as bare keys
    with a word each — without `?`; the screen still fits 24 rows (nothing scrolls) and the table
    keeps most of them."""
    app = make_app(FixedSession(), watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.book.load(app.session.list_containers())
        await pilot.press("1")
        await pilot.pause(0.3)
        screen = app.screen
        keys = {
            active.binding.key_display or app.get_key_display(active.binding)
            for active in screen.active_bindings.values()
            if active.node is screen and "." not in active.binding.action
        }
        assert {"l", "p", "u", "c", "t", "R", "m", "x", "o", "y", "s", "r", "d"} <= keys
        assert {"space", "*", ">", "<", "E", "S", "n", "/"} <= keys
        lines = screen_text(app).splitlines()
        assert len(lines) == 24
        under_summary = screen.query_one("#summary").region.bottom
        under_table = " ".join(lines[under_summary:]).split()
        missing = sorted(key for key in keys if key not in under_table)
        assert not missing, "\n".join(lines[under_summary:])
        assert not screen.scrollbars_enabled[0] and screen.max_scroll_y == 0
        assert screen.query_one("#table").region.height >= 12


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_my_notebooks_lists_its_keys_where_its_info_pane_keeps_its_rows(size):
    """My notebooks lists the keys its footer leaves out (p suspend, c clone, o show-url, …) from
    30 rows up; at 80x24 its info pane needs those rows for the URL, the token, the tunnel and the
    usage line, and `?` lists the keys. Nothing scrolls either way."""
    app = make_app(FixedSession(ALICE), watch=False)
    async with app.run_test(size=size) as pilot:
        app.book.load(app.session.list_containers())
        await pilot.press("4")
        await pilot.pause(0.3)
        screen = app.screen
        hints = screen.query_one(KeyHints)
        assert hints.display is (size[1] >= 30)
        under_summary = " ".join(screen_text(app).splitlines()[screen.query_one("#summary").region.bottom:])
        assert ("p suspend" in under_summary and "o show-url" in under_summary) is (size[1] >= 30)
        assert "x shell" not in under_summary  # admins only: not offered to a user
        assert screen.query_one("#info-pane").region.height >= (10 if size[1] < 30 else 13)
        assert screen.max_scroll_y == 0


async def test_toasts_leave_the_tables_left_columns_and_the_status_line_and_success_goes_soon():
    """Issue 28, item 11: at 80x24 a toast sits on the right of at most 45% of the width, above the
    footer and the line over it (a log's status line); a success toast goes within 3 s, an error
    stays long enough to read."""
    from textual.widgets._toast import Toast

    app = make_app(FixedSession(), watch=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.book.load(app.session.list_containers())
        await pilot.pause(0.2)
        app.notify("Started alice/thesis.", title="Started", markup=False)
        app.notify("alice/thesis does not exist any more: refresh and try again.", severity="error",
                   title="Error", markup=False)
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 2, what="the toasts")
        await pilot.pause(0.1)
        for toast in app.screen.query(Toast):
            region = toast.region
            assert region.x >= 40, region  # Owner, Name and Image stay readable
            assert region.bottom <= 22, region  # the footer and the line over it stay visible
        await pilot.pause(3.5)
        left = [toast for toast in app.screen.query(Toast) if toast.display and toast.region]
        assert len(left) == 1, "the success toast is gone after 3 s, the error stays"
        assert "does not exist" in str(left[0].render())
        await wait_until(pilot, lambda: not app.screen.query(Toast), timeout=12, what="the error gone")
