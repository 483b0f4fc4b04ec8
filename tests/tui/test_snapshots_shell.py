"""SVG snapshots of the shell's screens at 80x24 and 160x48, over fixed data and a frozen clock.

Regenerate deliberately with `make snapshots` after a visual change (textual is pinned exactly).
"""

from __future__ import annotations

import pytest

from ipynbsrv_tui.domain import Actor, ContainerStats

from .conftest import FIXED_STATS, FixedSession, make_app, wait_until

ALICE = Actor("alice", 2001, False, ("ipynbsrv-users",))
SIZES = [(80, 24), (120, 40), (160, 48)]


def fixed_app(actor: Actor | None = None):
    session = FixedSession(actor=actor) if actor else FixedSession()
    return make_app(session, watch=False, theme="textual-dark")


async def preload(pilot, *, connections: bool = False) -> None:
    """Fill the book without the feed threads, so every run paints the same thing."""
    app = pilot.app
    app.book.load(app.session.list_containers())
    for _ in range(12):
        app.book.set_stats({cid: stats for cid, stats in FIXED_STATS.items() if cid in app.book.views})
    app.book.set_stats({1: ContainerStats(40.0, 500 * 1024**2, 2 * 1024**3, 14)})
    await wait_until(pilot, lambda: app.health is not None, what="health")
    if connections:
        await wait_until(pilot, lambda: app.book.connections, what="connection info")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_containers_screen(snap_compare, frozen_clock, size):
    assert snap_compare(fixed_app(), terminal_size=size, run_before=preload)


def test_containers_filtered(snap_compare, frozen_clock):
    async def run_before(pilot):
        await preload(pilot)
        await pilot.press("slash", *"state:run")
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_notebooks_screen(snap_compare, frozen_clock, size):
    async def run_before(pilot):
        await preload(pilot)
        pilot.app.screen.query_one("#table").move_to(1)
        await wait_until(pilot, lambda: 1 in pilot.app.book.connections, what="connection info")
        await pilot.pause()

    assert snap_compare(fixed_app(ALICE), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_details_info(snap_compare, frozen_clock, size):
    async def run_before(pilot):
        await preload(pilot)
        pilot.app.screen.query_one("#table").move_to(1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: 1 in pilot.app.book.connections, what="connection info")
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=size, run_before=run_before)


def test_details_logs(snap_compare, frozen_clock):
    async def run_before(pilot):
        await preload(pilot)
        pilot.app.screen.query_one("#table").move_to(1)
        await pilot.press("l")
        await wait_until(
            pilot, lambda: pilot.app.screen.query_one("LogPanel").view.line_count == 4, what="logs"
        )
        await pilot.press("slash", *"notebook", "enter")
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run_before)


def test_details_stats(snap_compare, frozen_clock):
    async def run_before(pilot):
        await preload(pilot)
        pilot.app.screen.query_one("#table").move_to(1)
        await pilot.press("enter", "S")
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare, frozen_clock):
    async def run_before(pilot):
        await preload(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run_before)


def test_new_notebook_form_with_errors(snap_compare, frozen_clock):
    async def run_before(pilot):
        await preload(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "NewNotebookForm", what="the form")
        await pilot.press(*"bad name!", "tab", "tab", "tab", *"lots")
        await pilot.pause()

    assert snap_compare(fixed_app(ALICE), terminal_size=(80, 24), run_before=run_before)


def test_delete_confirmation(snap_compare, frozen_clock):
    async def run_before(pilot):
        await preload(pilot)
        await pilot.press("d")
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run_before)
