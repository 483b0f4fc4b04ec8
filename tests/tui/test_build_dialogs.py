"""The build panel's stop question: buttons named by what they do, arrows between them, the question
closing itself when the build ends meanwhile, the stop key leaving the footer then."""

from __future__ import annotations

from textual.widgets import Button

from ipynbsrv_tui.domain import BuildStatus
from ipynbsrv_tui.tui.screens.build import BuildRequest, BuildScreen
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen

from .conftest import make_app, screen_text, wait_until
from .fake_builds import BuildingSession


async def test_stop_question_names_its_buttons_moves_with_arrows_and_closes_when_the_build_ends():
    session = BuildingSession()
    app = make_app(session, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = BuildScreen(BuildRequest("slow", "t/slow:1"))
        await app.push_screen(panel)
        await wait_until(pilot, lambda: panel.log_view.view.line_count == 1, what="the first step")
        await pilot.pause()
        assert "c Stop build" in screen_text(app)

        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = app.screen
        labels = [str(button.label) for button in question.query(Button)]
        assert labels == [
            "Keep building · esc",
            "Stop build · y",
        ]  # every accelerator visible (issue 28, item 8)
        assert question.focused.id == "cancel"
        await pilot.press("right")
        assert question.focused.id == "confirm"
        await pilot.press("left")
        assert question.focused.id == "cancel"

        session.build.gate.set()  # the build ends while the question is open
        await wait_until(pilot, lambda: app.screen is panel, what="the question to close itself")
        assert panel.summary is not None and panel.summary.status is BuildStatus.SUCCEEDED
        await pilot.pause()
        assert "Stop build" not in screen_text(app)
        await pilot.press("c")
        assert app.screen is panel  # nothing to stop any more


async def test_stop_build_button_stops_it():
    session = BuildingSession()
    app = make_app(session, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = BuildScreen(BuildRequest("slow", "t/slow:1"))
        await app.push_screen(panel)
        await wait_until(pilot, lambda: panel.log_view.view.line_count == 1, what="the first step")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: panel.summary is not None, what="the build to stop")
        assert session.build.cancelled and panel.summary.status is BuildStatus.CANCELLED


def _header(app) -> str:
    return str(app.screen.query_one("StatusBar").render())


async def test_leaving_a_running_build_by_escape_or_a_section_key_keeps_it_running_and_b_brings_it_back():
    """Issue 28, item 9: Escape, q and 1-9 leave a running build alike (it goes on, a note says how to
    come back), the header shows it from any section, and B reopens its live panel."""
    session = BuildingSession()
    app = make_app(session, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        home = app.screen
        panel = BuildScreen(BuildRequest("slow", "t/slow:1"))
        await app.push_screen(panel)
        await wait_until(pilot, lambda: panel.log_view.view.line_count == 1, what="the first step")

        await pilot.press("escape")  # no question: leaving never stops a build
        await wait_until(pilot, lambda: app.screen is home, what="back to the list")
        await pilot.pause(0.1)
        assert panel.running and not session.build.cancelled
        assert any("goes on in the background" in note and "B brings" in note for note in app.notes)
        await wait_until(pilot, lambda: "⚙ slow:1 1/1 B" in _header(app), what="the build in the header")

        await pilot.press("B")
        await wait_until(pilot, lambda: app.screen is panel, what="B to bring the panel back")
        assert app.current_mode == "images"  # where builds live
        assert panel.log_view.view.line_count == 1

        app.notes.clear()
        await pilot.press("4")  # a section key leaves it the same way
        await wait_until(pilot, lambda: app.current_mode == "notebooks", what="My notebooks")
        await pilot.pause(0.1)
        assert panel.running and not session.build.cancelled
        assert any("goes on in the background" in note for note in app.notes)
        await wait_until(pilot, lambda: "⚙ slow:1 1/1 B" in _header(app), what="the build in this header too")

        await pilot.press("B")
        await wait_until(pilot, lambda: app.screen is panel, what="B to switch back to the panel's section")
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ImagesScreen", what="the Images list")
        session.build.gate.set()  # it ends in the background
        await wait_until(
            pilot, lambda: any("Built t/slow:1." in note for note in app.notes), what="the result"
        )
        await wait_until(pilot, lambda: "⚙" not in _header(app), what="the header to drop the build")
        await pilot.press("B")  # the ended build's log, once
        await wait_until(pilot, lambda: app.screen is panel)
        assert panel.summary is not None and panel.summary.status is BuildStatus.SUCCEEDED
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is not panel)
        await pilot.pause(0.1)
        assert app.builds.latest() is None  # seen and left: let go
