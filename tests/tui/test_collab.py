"""Groups, Shares and Notifications sections by keyboard, over a real embedded service (local
directory, store on disk; a recording engine stands in for Docker, which these screens never call)."""

from __future__ import annotations

import pytest

from ipynbsrv_tui.service import Session
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.tui.screens.groups import GroupsScreen
from ipynbsrv_tui.tui.screens.listscreen import DetailsModal
from ipynbsrv_tui.tui.screens.notifications import NotificationsScreen
from ipynbsrv_tui.tui.screens.shares import SharesScreen
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen
from ipynbsrv_tui.tui.widgets.forms import FormScreen
from tests.fixtures.recorded_service import ROOT, make_recorded_service
from tests.unit.fake_engine import RecordingEngine

from .conftest import make_app, screen_text, wait_until

SIZE = (80, 24)


@pytest.fixture
def people_service(tmp_path):
    from ipynbsrv_tui.store.models import Image, User

    people_service = make_recorded_service(tmp_path, RecordingEngine())
    for name in ("alice", "bob", "carol"):
        people_service.create_user(ROOT, name, f"{name}-password")
    Image.create(
        name="alices-image", ref="ipynbsrv-user/alice:alices-image", owner=User.get(User.username == "alice")
    )
    yield people_service
    close_database()


def session_of(people_service, name: str) -> Session:
    return Session(people_service, people_service.actor_for_username(name))


async def fill(pilot, app, *keys: str) -> None:
    await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="a form")
    await pilot.pause()
    await pilot.press(*keys)


async def test_groups_and_shares_by_keyboard_with_restart_hint_and_not_found_for_others(people_service):
    app = make_app(session_of(people_service, "alice"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupsScreen), what="the groups section")
        assert "5 Groups" in screen_text(app) and "7 Inbox" in screen_text(app).replace(
            "Notifications", "Inbox"
        )
        await pilot.press("n")
        await fill(pilot, app, *"lab", "enter")
        await wait_until(pilot, lambda: "lab" in app.screen.items, what="the new group")
        assert app.screen.table.move_to("lab")
        await pilot.press("a")
        await fill(pilot, app, *"bob", "enter")
        await wait_until(pilot, lambda: app.screen.items["lab"].members == ("alice", "bob"), what="bob added")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsModal))
        assert "Members       alice, bob" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("i")
        await fill(pilot, app, *"alices-image", "enter")
        await wait_until(pilot, lambda: any("Shared image alices-image with lab." in n for n in app.notes),
                         what="the image shared")

        await pilot.press("6")
        await wait_until(pilot, lambda: isinstance(app.screen, SharesScreen), what="the shares section")
        await pilot.press("n")
        await fill(pilot, app, *"thesis", "tab", *"[b]draft[/b]", "enter")
        await wait_until(pilot, lambda: "thesis" in app.screen.items, what="the new share")
        assert "[b]draft[/b]" in screen_text(app)  # shown literally
        await pilot.press("a")  # a grants (g is "first row" as in k9s)
        await fill(pilot, app, *"lab", "enter")
        await wait_until(pilot, lambda: app.screen.items["thesis"].grants == ("lab",), what="the grant")
        assert any("Granted lab on thesis. Notified: bob." in note for note in app.notes)

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # Cancel is the default
        await wait_until(pilot, lambda: isinstance(app.screen, SharesScreen))
        assert "thesis" in people_service.list_shares(ROOT)[0].name

    assert [n.message for n in people_service.list_notifications(people_service.actor_for_username("bob"))][
        :3
    ] == [
        "alice shared thesis with lab: it is at /data/shares/thesis in your notebooks "
        "(restart running ones to see it).",
        "alice shared the image alices-image with lab: you can create notebooks from it now.",
        "bob joined lab (added by alice).",
    ]
    carol = make_app(session_of(people_service, "carol"), watch=False)
    async with carol.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await wait_until(pilot, lambda: isinstance(carol.screen, SharesScreen))
        await pilot.pause(0.3)
        assert carol.screen.items == {} and "thesis" not in screen_text(carol)
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(carol.screen, GroupsScreen) and carol.screen.items)
        assert "lab" not in carol.screen.items


async def test_notifications_section_badge_read_marks_and_send(people_service):
    alice = people_service.actor_for_username("alice")
    people_service.create_collab_group(alice, "lab")
    people_service.add_collab_member(alice, "lab", "bob")
    people_service.send_notification(
        alice, "lab", "[red]see[/red] thesis\nline two", kind="share", target="thesis"
    )
    people_service.unread_counts.interval = 0.1
    app = make_app(session_of(people_service, "bob"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.unread == 2, what="the unread badge")
        assert "✉ 2 unread" in screen_text(app)
        await pilot.press("7")
        await wait_until(pilot, lambda: isinstance(app.screen, NotificationsScreen) and app.screen.items)
        assert "[red]see[/red] thesis line two" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailsModal))
        assert "About the share thesis" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.unread == 1, what="one read")
        await pilot.press("M")
        await wait_until(pilot, lambda: app.unread == 0, what="all read")
        assert "unread" not in screen_text(app)
        await pilot.press("n")
        await fill(pilot, app, "ctrl+u", *"lab", "tab", *"thanks", "enter")
        await wait_until(pilot, lambda: any("Sent to lab." in n for n in app.notes), what="sent")
        people_service.send_notification(alice, "lab", "x" * 40)
        await wait_until(pilot, lambda: app.unread == 1, what="a new one arriving live")
    assert people_service.list_notifications(alice)[0].message == "thanks"


async def test_vi_keys_move_in_the_list_and_plus_joins_a_public_group(people_service):
    """j/k/g/G move as in k9s (issue 28, item 7); joining moved from j to +."""
    alice = people_service.actor_for_username("alice")
    for name in ("lab-a", "lab-b", "lab-c"):
        people_service.create_collab_group(alice, name, public=True)
    app = make_app(session_of(people_service, "carol"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupsScreen) and "lab-c" in app.screen.items,
                         what="the public groups")
        await pilot.pause()
        table = app.screen.table
        keys = list(table.keys)
        assert "+ Join" in screen_text(app) and "j Join" not in screen_text(app)
        await pilot.press("G")
        assert table.cursor_row == len(keys) - 1
        await pilot.press("k")
        assert table.cursor_row == len(keys) - 2
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("j")
        assert table.cursor_row == 1
        assert not any("Joined" in note for note in app.notes)  # j moved, it did not join
        table.move_to("lab-b")
        await pilot.press("plus")
        await wait_until(pilot, lambda: any("Joined lab-b" in note for note in app.notes), what="the join")
    assert "carol" in next(g for g in people_service.collab_groups(people_service.actor_for_username("carol"))
                           if g.name == "lab-b").members


async def test_root_is_refused_what_it_cannot_own_before_any_form_opens(people_service):
    """root administers everything but owns nothing (issue 28, bug 5): New group and New share say
    so at once instead of showing a form that fails at the end; My notebooks asks for the owner."""
    app = make_app(session_of(people_service, "root"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupsScreen), what="the groups section")
        await pilot.press("n")
        await wait_until(pilot, lambda: any("root is not a directory user, so cannot create a group" in note
                                            for note in app.notes), what="the refusal")
        assert isinstance(app.screen, GroupsScreen)  # no form
        await pilot.press("6")
        await wait_until(pilot, lambda: isinstance(app.screen, SharesScreen), what="the shares section")
        await pilot.press("n")
        await wait_until(
            pilot, lambda: any("so cannot own a share" in note for note in app.notes), what="the refusal"
        )
        assert isinstance(app.screen, SharesScreen)
    assert people_service.list_shares(ROOT) == [] and not any(
        g.name == "lab" for g in people_service.collab_groups(ROOT)
    )


@pytest.mark.parametrize("key", ["2", "3", "5", "6"])
async def test_list_footers_keep_filter_at_80_columns(people_service, key):
    """Issue 28, items 10 and 11: "/ Filter" stays in the Images, Users, Groups and Shares footers at
    80x24, and so does the reload key: the section's own keys are dropped first, whole (no "d Dele"),
    and "f5 Refresh" and "? Help" are pinned right."""
    from textual.widgets._footer import FooterKey

    from tests.fixtures.recorded_service import ROOT

    app = make_app(Session(people_service, ROOT), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        await wait_until(pilot, lambda: app.current_mode != "containers", what="the section")
        await pilot.pause(0.2)
        footer = screen_text(app).splitlines()[-1]
        assert "/ Filter" in footer, footer
        assert " f5 Refresh ▏ ? Help" in footer and footer.rstrip().endswith("? Help"), footer
        for shown in app.screen.query(FooterKey):
            assert f" {shown.key_display} {shown.description}" in footer, footer  # whole, never cut


async def test_lists_made_elsewhere_show_after_the_one_reload_key(people_service):
    """Issue 28 item 10: a user, a group membership and a share made through the service while a list
    is open (as the CLI makes them) show after f5, the reload key every list shows in its footer."""
    from ipynbsrv_tui.tui.screens.users import UsersScreen

    cli_root, cli_alice = Session(people_service, ROOT), session_of(people_service, "alice")
    app = make_app(Session(people_service, ROOT), watch=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await wait_until(
            pilot, lambda: isinstance(app.screen, UsersScreen) and app.screen.items, what="the users"
        )
        assert "f5 Refresh" in screen_text(app)
        cli_root.create_user("erin", "erin-password")
        await pilot.pause(0.3)
        assert "erin" not in app.screen.items  # not live: the list is as it was loaded
        await pilot.press("f5")
        await wait_until(pilot, lambda: "erin" in app.screen.items, what="erin after f5")

    app = make_app(session_of(people_service, "alice"), watch=False)
    async with app.run_test(size=(160, 48)) as pilot:
        cli_alice.create_collab_group("lab")
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupsScreen) and "lab" in app.screen.items)
        assert "f5 Refresh" in screen_text(app)
        cli_alice.add_collab_member("lab", "erin")
        await pilot.press("f5")
        await wait_until(
            pilot, lambda: "erin" in app.screen.items["lab"].members, what="erin in lab after f5"
        )

        await pilot.press("6")
        await wait_until(pilot, lambda: isinstance(app.screen, SharesScreen), what="the shares section")
        assert "f5 Refresh" in screen_text(app)
        cli_alice.create_share("thesis")
        cli_alice.grant_share("thesis", "lab")
        await pilot.press("f5")
        await wait_until(
            pilot,
            lambda: "thesis" in app.screen.items and "erin" in app.screen.items["thesis"].members,
            what="the share, erin a member, after f5",
        )


def test_every_list_that_is_not_live_shows_the_same_reload_key():
    """Containers and My notebooks follow the engine's events; every other list shows f5 Refresh."""
    from ipynbsrv_tui.tui.screens.backups import BackupsScreen
    from ipynbsrv_tui.tui.screens.build_history import BuildHistoryScreen
    from ipynbsrv_tui.tui.screens.images import ImagesScreen
    from ipynbsrv_tui.tui.screens.listscreen import RELOAD_KEY
    from ipynbsrv_tui.tui.screens.nodes import NodesScreen
    from ipynbsrv_tui.tui.screens.users import UsersScreen

    for screen in (ImagesScreen, UsersScreen, GroupsScreen, SharesScreen, NotificationsScreen, NodesScreen,
                   BuildHistoryScreen, BackupsScreen):
        reloads = [b for b in screen.BINDINGS if getattr(b, "action", "") == "reload"]
        assert [(b.key, b.description, b.show) for b in reloads] == [(RELOAD_KEY, "Refresh", True)], screen
