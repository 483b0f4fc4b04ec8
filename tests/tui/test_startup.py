"""The start-up path (DESIGN §12, first screen ≤ 0.5 s): the container list asked for before textual
loads is in the first frame; the feed lists once more, after its watch began, so that nothing that
changed in between is missed; the engine's client and the command-line groups are not loaded
before that frame."""

from __future__ import annotations

import subprocess
import sys
import threading

from ipynbsrv_tui.cli import names_a_command
from ipynbsrv_tui.tui.early import EarlyCall

from .conftest import FixedSession, make_app, screen_text, wait_until


class CountingSession(FixedSession):
    """Records which thread asked for the list, and when the watch began."""

    def __init__(self, views=None) -> None:
        super().__init__(views=views)
        self.listed_by: list[str] = []

    def list_containers(self, owner=None):
        self.listed_by.append(threading.current_thread().name)
        return super().list_containers(owner)

    def watch_containers(self, since=None):
        self.listed_by.append("(watch began)")
        return super().watch_containers(since)


def feed_listed_once_after_its_watch(listed_by: list[str]) -> bool:
    return listed_by.count("ipynbsrv-container-feed") == 1 and \
        listed_by.index("(watch began)") < listed_by.index("ipynbsrv-container-feed")

    def unread_count(self) -> int:
        return 0


async def test_the_early_list_is_in_the_first_frame_and_the_feed_lists_after_its_watch():
    session = CountingSession()
    first_list = EarlyCall(session.list_containers, "test-first-list").start()
    assert first_list.wait(5)
    app = make_app(session, first_list=first_list)
    assert app.book.loaded  # before the app runs: the first frame can show the rows
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.feed is not None and app.feed.is_alive(), what="the feed")
        await pilot.pause(0.3)
        assert "thesis" in screen_text(app)
    assert session.listed_by.count("test-first-list") == 1
    assert feed_listed_once_after_its_watch(session.listed_by), session.listed_by


async def test_an_empty_early_list_is_in_the_first_frame_too():
    session = CountingSession(views=[])
    first_list = EarlyCall(session.list_containers, "test-first-list").start()
    assert first_list.wait(5)
    app = make_app(session, first_list=first_list)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.feed is not None and app.feed.is_alive(), what="the feed")
        await pilot.pause(0.3)
        assert "No notebook containers yet" in screen_text(app)
    assert session.listed_by.count("test-first-list") == 1
    assert feed_listed_once_after_its_watch(session.listed_by), session.listed_by


async def test_a_list_still_on_its_way_arrives_through_the_feed():
    session = CountingSession()
    release = threading.Event()

    def slow_list():
        release.wait(5)
        return session.list_containers()

    first_list = EarlyCall(slow_list, "test-slow-list").start()
    app = make_app(session, first_list=first_list)
    assert not app.book.loaded
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        assert "loading" in screen_text(app)
        release.set()
        await wait_until(pilot, lambda: "thesis" in screen_text(app), what="the rows")
        await wait_until(
            pilot, lambda: "ipynbsrv-container-feed" in session.listed_by, what="the feed's list"
        )
    assert feed_listed_once_after_its_watch(session.listed_by), session.listed_by


async def test_a_failed_early_list_is_asked_again_by_the_feed():
    session = CountingSession()

    def broken():
        raise OSError("the store is not there yet")

    first_list = EarlyCall(broken, "test-broken-list").start()
    assert first_list.wait(5) and first_list.error is not None
    app = make_app(session, first_list=first_list)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "thesis" in screen_text(app), what="the rows")
    assert session.listed_by.count("ipynbsrv-container-feed") == 1


def test_only_words_beyond_the_global_options_name_a_command():
    assert not names_a_command([])
    assert not names_a_command(["--config", "/etc/ipynbsrv/config.toml"])
    assert not names_a_command(["--config=/x.toml"])
    assert names_a_command(["containers", "list"])
    assert names_a_command(["--config", "x.toml", "users"])
    assert names_a_command(["-h"])
    assert names_a_command(["--unknown-option"])


def test_starting_the_ui_loads_no_command_group_and_no_engine_client():
    probe = (
        "import sys\n"
        "from ipynbsrv_tui.cli import main\n"
        "code = main([])\n"  # no terminal here: it stops at the hint, after the start-up imports
        "loaded = sorted(m for m in sys.modules if m.startswith(('ipynbsrv_tui.commands.', 'docker', "
        "'playhouse.migrations', 'http.client')) and m != 'ipynbsrv_tui.commands.output')\n"
        "print(code, loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60
    )
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr
    assert "needs an interactive terminal" in result.stderr


def test_the_first_screen_waits_for_no_engine_client_form_or_migration_runner(tmp_path):
    """The real start-up path up to the moment the app runs (a terminal assumed, the app's run
    replaced by a report of what is loaded by then; the rows being in the first frame is
    `test_the_early_list_is_in_the_first_frame_and_not_asked_again`)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "db.sqlite"}"\n[data]\nroot = "{tmp_path / "data"}"\n'
                      f'[docker]\nurl = "unix:///nonexistent/ipynbsrv.sock"\n'
                      f'[broker]\nsocket = "{tmp_path / "none.sock"}"\n')
    probe = (
        "import sys\n"
        "from ipynbsrv_tui.cli import main\n"
        "from ipynbsrv_tui.store import close_database, open_database\n"
        f"open_database({str(tmp_path / 'db.sqlite')!r}); close_database()\n"  # an installation's database
        "for name in [m for m in sys.modules if m.startswith('playhouse.migrat')]: del "
        "sys.modules[name]\nfrom ipynbsrv_tui.tui import launch\nlaunch.has_terminal = lambda: True\nfrom "
        "ipynbsrv_tui.tui.app import IpynbsrvApp\ndef report(app, *args, **kwargs):\n    print(sorted(m "
        "for m in sys.modules if m.startswith(('ipynbsrv_tui.commands.', 'docker', 'playhouse.migrat', "
        "'http.client', 'textual.widgets._text_area', 'ipynbsrv_tui.tui.widgets.forms', "
        "'ipynbsrv_tui.engine.dockerfiles')) and m != 'ipynbsrv_tui.commands.output'))\nIpynbsrvApp.run = "
        f"report\nmain(['--config', {str(config)!r}])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
