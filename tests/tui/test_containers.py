"""Containers screen: every action against the real engine, live rows from real engine events,
filter, details (info / logs / stats), reconcile, confirmation default."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Select

from ipynbsrv_tui.domain import ContainerState
from ipynbsrv_tui.tui.screens.containers import ContainersScreen
from ipynbsrv_tui.tui.screens.details import ContainerDetailsScreen
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen
from ipynbsrv_tui.tui.widgets.forms import FormScreen
from ipynbsrv_tui.tui.widgets.logview import LogPanel
from ipynbsrv_tui.tui.widgets.notebook_form import NewNotebookForm
from ipynbsrv_tui.tui.widgets.picker import PickerScreen
from ipynbsrv_tui.tui.widgets.report import ReportScreen

from .conftest import FixedSession, make_app, many_views, screen_text, wait_until

pytestmark = pytest.mark.docker


def state_of(app, cid):
    view = app.book.views.get(cid)
    return view.state if view else None


def row_text(app, cid) -> str:
    return " ".join(str(cell) for cell in app.screen.row_cells(cid))


@pytest.fixture
def alice_container(admin_session, people):
    """A running chatty container of alice, made through the service."""
    return admin_session.create_container("probe", "chatty", description="probe [/bin/sh -c]", owner="alice")


async def test_lifecycle_actions_and_engine_events(
    admin_session, alice_container, docker_client, service_config
):
    cid = alice_container.id
    app = make_app(admin_session, config=service_config)
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, ContainersScreen)
        await wait_until(pilot, lambda: cid in app.book.views, what="the container row")
        table = app.screen.query_one("#table")
        assert table.move_to(cid)
        # "starting" until the readiness watcher sees the notebook answer (seconds on a loaded machine)
        await wait_until(pilot, lambda: "running" in row_text(app, cid), what="the row reads running")

        # Behind the app's back: the row follows the engine's events.
        docker_client.api.stop(alice_container.docker_id, timeout=1)
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.EXITED, what="stop event")
        await pilot.pause()
        assert "exited" in row_text(app, cid)
        docker_client.api.start(alice_container.docker_id)
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.RUNNING, what="start event")

        await pilot.press("s")  # stop: a running notebook's kernels would be lost, so it asks
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the stop's question")
        await pilot.press("y")
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.EXITED, what="stopped by s")
        await pilot.press("s")  # start
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.RUNNING, what="started by s")
        await pilot.press("p")  # suspend
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.PAUSED, what="suspended")
        assert docker_client.api.inspect_container(alice_container.docker_id)["State"]["Paused"]
        await pilot.press("u")  # resume
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.RUNNING, what="resumed")
        started = docker_client.api.inspect_container(alice_container.docker_id)["State"]["StartedAt"]
        await pilot.press("r")  # restart: asks too
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the restart's question")
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: (
                docker_client.api.inspect_container(alice_container.docker_id)["State"]["StartedAt"]
                != started
            ),
            what="restart",
        )
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.RUNNING, what="running again")
        assert app.is_running


async def test_copies_snapshot_restore_commit_and_delete(admin_session, alice_container, service_config):
    cid = alice_container.id
    app = make_app(admin_session, config=service_config)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: cid in app.book.views, what="the container row")
        app.screen.query_one("#table").move_to(cid)

        # clone: asks a name (pre-filled), the copy appears as a new row
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(v.name == "probe-copy" for v in app.book.views.values()),
                         timeout=60, what="the clone")
        clone = next(v for v in app.book.views.values() if v.name == "probe-copy")
        assert clone.owner == "alice" and clone.clone_of == "probe"

        # snapshot: a name is required and validated
        app.screen.query_one("#table").move_to(cid)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press("enter")
        assert isinstance(app.screen, FormScreen)  # empty name refused
        await pilot.press(*"snap one")
        await pilot.press("enter")
        assert isinstance(app.screen, FormScreen)  # a space is not allowed
        await pilot.press("backspace", "backspace", "backspace", "backspace", *"-one", "enter")
        await wait_until(pilot, lambda: admin_session.list_snapshots(cid), timeout=60, what="the snapshot")
        assert admin_session.list_snapshots(cid)[0].name == "snap-one"

        # restore: choose the snapshot, confirm, same URL afterwards
        url = app.book.views[cid].url
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), what="the snapshot list")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab", "enter")  # focus moves from Cancel to Restore
        await wait_until(pilot, lambda: app.book.views[cid].image_ref.startswith("ipynbsrv-snapshots/"),
                         timeout=60, what="the restore")
        assert app.book.views[cid].url == url

        # commit: a form with name, description, public
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press(*"probe-image", "tab", *"from the probe")
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(i.name == "probe-image" for i in admin_session.list_images()),
                         timeout=60, what="the committed image")

        # delete: the confirmation's default is Cancel
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.focused.id == "cancel"
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert cid in app.book.views and [v.id for v in admin_session.list_containers() if v.id == cid]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: cid not in app.book.views, timeout=30, what="the delete")
        assert all(v.id != cid for v in admin_session.list_containers())
        messages = [n.message for n in app._notifications]
        assert not [m for m in messages if "Error" in m or "failed" in m.lower()], messages


async def test_create_for_another_user_from_the_form(admin_session, people, service_config):
    app = make_app(admin_session, config=service_config)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        await pilot.pause()
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewNotebookForm), what="the form")
        await pilot.press(*"fresh")
        owner = app.screen.query_one("#field-owner")
        assert owner.value == ""  # the admin is asked whom it is for
        owner.value = "bob"
        image = app.screen.query_one("#field-image")
        if image.value is Select.NULL:  # several images and none used before: one must be chosen
            image.value = next(iter(app.screen.images))
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: any(
                v.name == "fresh" and v.state == ContainerState.RUNNING for v in app.book.views.values()
            ),
            timeout=60,
            what="the new container",
        )
        assert next(v for v in app.book.views.values() if v.name == "fresh").owner == "bob"


async def test_details_info_logs_and_stats(admin_session, alice_container, service_config):
    cid = alice_container.id
    app = make_app(admin_session, config=service_config)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: cid in app.book.views)
        app.screen.query_one("#table").move_to(cid)
        await pilot.press("enter")
        assert isinstance(app.screen, ContainerDetailsScreen)

        # info: URL with token, the exact ssh -L command, both copied with OSC 52
        await wait_until(pilot, lambda: cid in app.book.connections, what="connection info")
        info = admin_session.connection_info(cid)
        await pilot.pause()
        text = screen_text(app)
        assert info.tunnel_command in text.replace("\n", " ") or info.tunnel_command[:40] in text
        await pilot.press("y")
        assert app.clipboard == app.book.views[cid].url and "token=" in app.clipboard
        await pilot.press("Y")
        await wait_until(pilot, lambda: app.clipboard == info.tunnel_command, what="tunnel copied")

        # logs: live tail with markup-like text kept literally; follow toggle; search
        await pilot.press("l")
        panel = app.screen.query_one(LogPanel)
        await wait_until(pilot, lambda: sum("tick" in line for line in panel.view.lines) >= 4, timeout=20,
                         what="live log lines")
        assert any("[/bin/sh -c]" in line and "[bold]x[/bold]" in line for line in panel.view.lines)
        assert not any("\x1b" in line for line in panel.view.lines)
        assert panel.view.follow
        await pilot.press("f")
        assert not panel.view.follow
        paused_at = panel.view.line_count
        await wait_until(pilot, lambda: panel.view.line_count > paused_at + 1, what="more lines while paused")
        await pilot.press("slash", *"tick 2", "enter")
        first = panel.view.current_match
        assert first is not None and "tick 2" in panel.view.lines[first]
        await pilot.press("N")
        assert panel.view.current_match is not None and "tick 2" in panel.view.lines[panel.view.current_match]
        await pilot.press("f")
        assert panel.view.follow

        # t: the log read again with the engine's time before each line, t again without
        stamped = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ")
        assert not any(stamped.match(line) for line in panel.view.lines)
        await pilot.press("t")
        assert panel.timestamps and isinstance(app.screen, ContainerDetailsScreen)  # t is not snapshot here
        await wait_until(
            pilot,
            lambda: sum(bool(stamped.match(line)) and "tick" in line for line in panel.view.lines) >= 3,
            timeout=20,
            what="stamped lines",
        )
        assert all(stamped.match(line) for line in panel.view.lines)
        assert "timestamps (t hides)" in screen_text(app)
        await pilot.press("t")
        await wait_until(pilot, lambda: sum("tick" in line for line in panel.view.lines) >= 3, timeout=20,
                         what="lines without stamps")
        assert not any(stamped.match(line) for line in panel.view.lines)

        # stats: sparklines fed by the sampler
        await pilot.press("S")
        await wait_until(
            pilot, lambda: len(app.book.history.get(cid, ())) >= 2, timeout=30, what="two samples"
        )
        await pilot.pause()
        assert "of 2G" in screen_text(app) or "CPU" in screen_text(app)
        spark = app.screen.query_one("#memory-spark")
        assert len(spark.data) >= 2 and max(spark.data) > 0

        # s works in details too; the log notes the stream end
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the stop's question")
        await pilot.press("y")
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.EXITED, what="stop from details")
        await pilot.press("escape")
        assert isinstance(app.screen, ContainersScreen)


async def test_reconcile_reports_what_it_flagged(
    admin_session, alice_container, docker_client, service_config
):
    cid = alice_container.id
    # No live feed here: the store must not learn about the removal before reconcile does.
    app = make_app(admin_session, config=service_config, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.book.load(admin_session.list_containers())
        docker_client.api.remove_container(alice_container.docker_id, force=True)
        await pilot.press("E")
        await wait_until(pilot, lambda: isinstance(app.screen, ReportScreen), timeout=30, what="the report")
        flagged = dict(app.screen.sections)["Flagged (needs you)"]
        assert any("probe" in line for line in flagged)
        await pilot.press("escape")
        assert state_of(app, cid) == ContainerState.MISSING


async def test_a_container_removed_behind_our_back_is_flagged_after_the_live_event_and_s_recreates_it(
        admin_session, alice_container, docker_client, service_config):
    """Issue 28, bug 3: the row turns missing from the live event; E (reconcile) then flags it (it said
    "Store and engine agree"), and s offers to recreate it instead of "does not exist"."""
    cid = alice_container.id
    app = make_app(admin_session, config=service_config)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(
            pilot,
            lambda: state_of(app, cid) in (ContainerState.STARTING, ContainerState.RUNNING),
            timeout=20,
            what="the running row",
        )
        docker_client.api.remove_container(alice_container.docker_id, force=True)
        await wait_until(
            pilot, lambda: state_of(app, cid) == ContainerState.MISSING, timeout=10, what="missing"
        )
        await pilot.press("E")
        await wait_until(pilot, lambda: isinstance(app.screen, ReportScreen), timeout=30, what="the report")
        flagged = dict(app.screen.sections)["Flagged (needs you)"]
        assert any("probe" in line and "recreate" in line for line in flagged), flagged
        await pilot.press("escape")
        assert app.screen.query_one("#table").move_to(cid)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the recreate question")
        assert app.screen.confirm_label == "Recreate" and "gone" in app.screen.question
        await pilot.click("#confirm")
        await wait_until(
            pilot, lambda: state_of(app, cid) == ContainerState.CREATED, timeout=20, what="recreated"
        )
        assert docker_client.api.inspect_container(app.book.views[cid].docker_id)


async def test_filter_ten_thousand_rows_by_owner_name_and_state():
    app = make_app(FixedSession(views=many_views(10_000)))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#table")
        await wait_until(pilot, lambda: table.row_count == 10_000, what="10,000 rows")
        await pilot.press("slash", *"user042")
        assert table.row_count == 100
        assert all(app.book.views[k].owner == "user042" for k in table.keys)
        await pilot.press(*" state:pau")
        assert table.row_count == 33 and all(
            app.book.views[k].state == ContainerState.PAUSED for k in table.keys
        )
        await pilot.press("enter")
        assert table.has_focus
        await pilot.press("slash")
        for _ in range(len("user042 state:pau")):
            await pilot.press("backspace")
        await pilot.press(*"nb0999")
        assert sorted(table.keys) == list(range(9990, 10_000))
        await pilot.press("escape")
        assert table.row_count == 10_000
        assert "nb0999" not in screen_text(app).splitlines()[1]


async def test_marks_then_one_question_and_one_report_with_a_vanished_container(
    admin_session, service_config
):
    """Issue 28, item 14: space marks (a ✓ column, no colour needed), * marks all shown or none, s on
    marked rows asks once naming how many, runs in a worker and reports each failure's reason (one
    container was deleted behind the console's back: reported, not a crash); failed rows stay marked."""
    made = [
        admin_session.create_container(f"bulk{i}", "chatty", owner="alice", start=False) for i in (1, 2, 3)
    ]
    ids = [view.id for view in made]
    app = make_app(admin_session, config=service_config, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.book.load(admin_session.list_containers())
        screen = app.screen
        table = screen.query_one("#table")
        await wait_until(pilot, lambda: set(ids) <= set(table.keys), what="the rows")
        assert table.columns[0].key == "owner"  # no mark column while nothing is marked
        table.move_to(ids[0])
        await pilot.press("space")
        assert screen.marked == {ids[0]} and table.cursor_key == ids[1]  # space walks down, as in k9s
        text = screen_text(app)
        assert table.columns[0].key == "mark" and "✓ alice" in text and "1 marked" in text
        await pilot.press("space", "space")
        assert screen.marked == set(ids)
        await pilot.press("asterisk")  # all shown are marked: * clears them
        assert (
            screen.marked == set() and table.columns[0].key == "owner" and "✓ alice" not in screen_text(app)
        )
        await pilot.press("asterisk")
        assert screen.marked == set(ids)

        admin_session.delete_container(ids[2])  # gone from the store; the book (no live feed) still lists it
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the one question")
        assert app.screen.question.startswith(
            "Start 3 of the 3 marked containers (alice/bulk1, alice/bulk2, alice/bulk3)?")
        assert app.screen.confirm_label == "Start 3"
        await pilot.press("enter")  # Cancel has the focus
        await wait_until(pilot, lambda: app.screen is screen)
        assert admin_session.get_container(ids[0]).state == ContainerState.CREATED

        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ReportScreen), timeout=60, what="the report")
        report = app.screen
        assert report.summary == "2 of 3 succeeded, 1 failed."
        sections = dict(report.sections)
        assert [line.split(":")[0] for line in sections["Succeeded"]] == [
            f"alice/bulk1 (#{ids[0]})", f"alice/bulk2 (#{ids[1]})"]
        (failure,) = sections["Failed (still marked)"]
        assert failure.startswith(f"alice/bulk3 (#{ids[2]}): start failed: ") and "\n" not in failure
        await pilot.press("escape")
        assert screen.marked == {ids[2]} and "1 marked" in screen_text(app)
        for cid in ids[:2]:
            assert admin_session.get_container(cid).state in (ContainerState.STARTING, ContainerState.RUNNING)
        assert app.is_running
