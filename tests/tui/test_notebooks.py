"""My notebooks: own containers only, create with validation, every action, URL / tunnel / usage."""

from __future__ import annotations

import pytest

from ipynbsrv_tui.domain import ContainerState
from ipynbsrv_tui.tui.screens.notebooks import NotebooksScreen
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen
from ipynbsrv_tui.tui.widgets.forms import FormScreen
from ipynbsrv_tui.tui.widgets.notebook_form import NewNotebookForm
from ipynbsrv_tui.tui.widgets.picker import PickerScreen

from .conftest import make_app, screen_text, wait_until

pytestmark = pytest.mark.docker


def state_of(app, cid):
    view = app.book.views.get(cid)
    return view.state if view else None


def find(app, name):
    return next((v for v in app.book.views.values() if v.name == name), None)


async def test_only_own_containers_are_visible(admin_session, user_session, service_config):
    admin_session.create_container("hers", "chatty", owner="alice", start=False)
    admin_session.create_container("his", "chatty", owner="bob", start=False)
    admin_session.create_container("mine", "chatty", start=False)  # carol's, an admin

    app = make_app(user_session, config=service_config)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, NotebooksScreen) and [s.mode for s in app.sections] == [
            "notebooks", "groups", "shares", "notifications"]  # no admin sections
        await wait_until(pilot, lambda: app.book.loaded)
        await pilot.pause()
        assert {v.name for v in app.book.views.values()} == {"hers"}
        assert "his" not in screen_text(app) and "mine" not in screen_text(app)

    admin_app = make_app(admin_session, config=service_config)
    async with admin_app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: admin_app.book.loaded)
        await pilot.pause()
        assert len(admin_app.book.views) == 3  # the admin's book has everything …
        await pilot.press("4")
        table = admin_app.screen.query_one("#table")
        assert [admin_app.book.views[k].name for k in table.keys] == ["mine"]  # … My notebooks only hers


async def test_create_validate_and_reach_a_notebook(user_session, service_config):
    app = make_app(user_session, config=service_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        await pilot.pause()
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewNotebookForm), what="the form")
        form = app.screen
        assert "owner" not in [f.name for f in form.fields]  # users create for themselves only
        await pilot.press(*"my nb")
        assert "not valid" in str(form.query_one("#error-name").render())
        await pilot.press("enter")
        assert isinstance(app.screen, NewNotebookForm)  # refused
        for _ in range(5):
            await pilot.press("backspace")
        await pilot.press(*"thesis")
        form.query_one("#field-memory").value = "lots"
        await pilot.pause()
        assert "not valid" in str(form.query_one("#error-memory").render())
        form.query_one("#field-memory").value = "256m"
        form.query_one("#field-cpus").value = "0.5"
        form.query_one("#field-description").value = "Chapter [3] \x1b[1mbold"
        await pilot.pause()
        assert "control characters" in str(
            form.query_one("#error-description").render()
        )  # refused on the way in
        await pilot.press("enter")
        assert isinstance(app.screen, NewNotebookForm)
        form.query_one("#field-description").value = "Chapter [3] [b]bold"  # markup stays literal text
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (v := find(app, "thesis")) is not None and v.state == ContainerState.RUNNING,
            timeout=60,
            what="the new notebook running",
        )
        view = find(app, "thesis")
        assert view.memory_limit == 256 * 1024**2 and view.cpus == 0.5

        # URL with token, exact ssh -L command, usage against the limits
        info = user_session.connection_info(view.id)
        await wait_until(pilot, lambda: view.id in app.book.connections, what="connection info")
        await wait_until(pilot, lambda: view.id in app.book.stats, timeout=30, what="a usage sample")
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert info.tunnel_command in text
        assert "of 256M" in text and "of 0.5 CPU" in text
        await pilot.press("y")
        assert app.clipboard == info.url
        await pilot.press("Y")
        await wait_until(pilot, lambda: app.clipboard == info.tunnel_command)


async def test_every_action_on_my_notebook(user_session, service_config):
    view = user_session.create_container("work", "chatty")
    cid = view.id
    app = make_app(user_session, config=service_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: cid in app.book.views)
        app.screen.query_one("#table").move_to(cid)
        await wait_until(pilot, lambda: state_of(app, cid) == ContainerState.RUNNING)
        # s on a running notebook asks (its kernels would be lost); s on a paused one resumes it.
        for key, state in (("s", ContainerState.EXITED), ("s", ContainerState.RUNNING),
                           ("p", ContainerState.PAUSED), ("u", ContainerState.RUNNING),
                           ("p", ContainerState.PAUSED), ("s", ContainerState.RUNNING)):
            await pilot.press(key)
            if key == "s" and state == ContainerState.EXITED:
                await wait_until(
                    pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the stop's question"
                )
                await pilot.press("y")
            await wait_until(pilot, lambda state=state: state_of(app, cid) == state, what=f"{key} → {state}")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the restart's question")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("Restarted" in note for note in app.notes), what="restart")

        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press(*"v1", "enter")
        await wait_until(pilot, lambda: user_session.list_snapshots(cid), timeout=60, what="snapshot")

        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(
            pilot, lambda: any("Restored" in note for note in app.notes), timeout=60, what="restore"
        )

        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: find(app, "work-copy") is not None, timeout=60, what="clone")

        await pilot.press("l")
        panel = app.screen.query_one("LogPanel")
        await wait_until(
            pilot, lambda: any("tick" in line for line in panel.view.lines), timeout=20, what="logs"
        )
        await pilot.press("escape")
        assert isinstance(app.screen, NotebooksScreen)

        app.screen.query_one("#table").move_to(cid)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        assert cid in app.book.views
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: cid not in app.book.views, timeout=30, what="delete")
        assert [v.name for v in user_session.list_containers()] == ["work-copy"]
        assert not [note for note in app.notes if "rror" in note], app.notes
