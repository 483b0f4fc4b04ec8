"""A notebook whose engine container is gone (issue 28, bug 6): no URL, token or ssh command, and what to
do."""

from __future__ import annotations

from ipynbsrv_tui.domain import ContainerState
from ipynbsrv_tui.tui.screens.details import ContainerDetailsScreen

from .conftest import FixedSession, fixed_view, make_app, screen_text, wait_until


async def test_a_missing_notebook_shows_no_url_token_or_tunnel_and_says_what_to_do():
    gone = fixed_view(7, "alice", "gone", ContainerState.MISSING)
    app = make_app(FixedSession(views=[gone]))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded and 7 in app.book.views)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ContainerDetailsScreen))
        await pilot.pause()
        shown = screen_text(app)
        assert gone.token not in shown and "ssh -L" not in shown and "?token=" not in shown
        assert "engine container is gone" in shown and "recreates" in shown
        for key in ("y", "Y", "o"):
            await pilot.press(key)
            await pilot.pause()
            assert "engine container is gone" in app.notes[-1] and gone.token not in app.notes[-1]
