"""SVG snapshots of the Images and Users sections at 80x24 and 160x48, with fixed data.

Update them deliberately with `make snapshots` after a visual change (textual is pinned exactly).
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.tui.screens.build import BuildScreen
from ipynbsrv_tui.tui.screens.build_history import BuildHistoryScreen
from ipynbsrv_tui.tui.screens.images import ImagesScreen
from ipynbsrv_tui.tui.screens.register import RegisterImageScreen
from ipynbsrv_tui.tui.screens.users import UsersScreen

from .fixtures_admin import HEALTH, AdminHarness, FixedAdminSession, wait_for

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 48)], ids=["80x24", "120x40", "160x48"])


def harness(mode: str = "images", stale: bool = False) -> AdminHarness:
    return AdminHarness(FixedAdminSession(stale=stale), Config(), mode=mode, health=HEALTH)


@SIZES
def test_images_screen(snap_compare, frozen_clock, size):
    app = harness()

    async def before(pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and app.screen.items)
        await pilot.press("down")

    assert snap_compare(app, terminal_size=size, run_before=before)


@SIZES
def test_register_form(snap_compare, frozen_clock, size):
    app = harness()

    async def before(pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and app.screen.items)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterImageScreen) and app.screen.refs)
        form = app.screen
        form.query_one("#ref", Input).value = "ipynbsrv/ipython3-notebook:latest"
        await wait_for(pilot, lambda: form.query_one("#name", Input).value, what="label defaults")
        form.query_one("#memory", Input).value = "2x"
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


@SIZES
def test_build_panel(snap_compare, frozen_clock, size):
    app = harness()

    async def before(pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and app.screen.items)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildHistoryScreen) and app.screen.items)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.summary is not None)

    assert snap_compare(app, terminal_size=size, run_before=before)


@SIZES
def test_users_screen(snap_compare, frozen_clock, size):
    app = harness("users", stale=True)

    async def before(pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, UsersScreen) and app.screen.items
                       and app.screen.health is not None)

    assert snap_compare(app, terminal_size=size, run_before=before)
