"""Readiness and return on screen (DESIGN §5, §10): `starting` hides the URL until the notebook
answers, the login resumes one's suspended notebooks and says so, `u` resumes on demand, and
admins see the memory suspended notebooks hold and can stop them all after a confirmation."""

from __future__ import annotations

from dataclasses import replace

from ipynbsrv_tui.domain import Actor, ContainerChange, ContainerState
from ipynbsrv_tui.tui.returning import ReturnOnLogin
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen

from .conftest import FixedSession, fixed_view, fixed_views, make_app, screen_text, wait_until

BOB = Actor("bob", 2002, False, ("ipynbsrv-users",))


async def test_login_resumes_own_suspended_notebooks_and_says_so():
    session = FixedSession(actor=BOB)
    returning = ReturnOnLogin(session).start()
    assert returning.wait(5)
    app = make_app(session, returning=returning)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(
            pilot, lambda: any(n.startswith("Welcome back") for n in app.notes), what="the notice"
        )
        assert "Welcome back: resumed [bold]lab[/bold] (suspended while you were away)." in app.notes
        assert ("resume_container", 3) in session.calls
        await wait_until(pilot, lambda: app.book.loaded)
        assert app.book.views[3].state == ContainerState.RUNNING


async def test_nothing_suspended_means_no_notice_and_u_says_so():
    views = [v for v in fixed_views() if v.owner == "bob" and v.state != ContainerState.PAUSED]
    session = FixedSession(actor=BOB, views=views)
    app = make_app(session, returning=ReturnOnLogin(session).start())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        await pilot.pause(0.2)
        assert not any(n.startswith("Welcome back") for n in app.notes)
        await pilot.press("u")  # the selection is running: `u` resumes all of bob's suspended ones
        await wait_until(pilot, lambda: "You have no suspended notebooks." in app.notes)


async def test_a_starting_notebook_offers_its_url_only_once_it_answers():
    starting = replace(fixed_view(7, "bob", "fresh", ContainerState.RUNNING), state=ContainerState.STARTING)
    session = FixedSession(actor=BOB, views=[starting])
    app = make_app(session)
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded and "fresh" in screen_text(app))
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "starting" in text and "offered when the notebook answers" in text
        assert "token=" not in text and "ssh -N -L" not in text
        session.push(ContainerChange(7, "ready", replace(starting, state=ContainerState.RUNNING, ready=True)))
        await wait_until(pilot, lambda: "token=" in screen_text(app), what="the URL once it answers")
        assert "offered when the notebook answers" not in screen_text(app)


async def test_admin_sees_suspended_memory_and_stops_them_after_a_confirmation():
    session = FixedSession()
    app = make_app(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: "1 suspended hold 80M (S stops them)" in screen_text(app),
                         what="the suspended memory in the summary")
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Stop the suspended notebook, holding 80M?" in app.screen.question
        await pilot.press("escape")  # Cancel: nothing stopped
        await pilot.pause(0.2)
        assert ("stop_container", 3) not in session.calls
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: ("stop_container", 3) in session.calls, what="stop_suspended")


# --------------------------------------------------------------------------- the right key for a paused
# notebook


def _footer(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_u_is_in_the_footer_while_the_highlighted_notebook_is_paused():
    session = FixedSession(actor=BOB)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded and "course-2026" in screen_text(app))
        table = app.screen.query_one("#table")
        table.move_to(3)  # [bold]lab[/bold], paused
        await wait_until(pilot, lambda: "u Resume" in _footer(app), what="u in the footer")
        assert _footer(app).rstrip().endswith("? Help"), "the footer still fits at 80 columns"
        table.move_to(4)  # course-2026, running
        await wait_until(pilot, lambda: "u Resume" not in _footer(app), what="u gone from the footer")
        table.move_to(3)
        await wait_until(pilot, lambda: "u Resume" in _footer(app))
        # Resumed behind the screen's back (another login, the web): the footer follows the row.
        session.push(ContainerChange(3, "unpause", replace(session.views[3], state=ContainerState.RUNNING)))
        await wait_until(pilot, lambda: "u Resume" not in _footer(app), what="the footer after the resume")


async def test_s_on_a_paused_notebook_resumes_it_and_never_stops_it():
    session = FixedSession(actor=BOB)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        app.screen.query_one("#table").move_to(3)
        await pilot.press("s")
        await wait_until(pilot, lambda: ("resume_container", 3) in session.calls, what="the resume")
        assert ("stop_container", 3) not in session.calls
        await wait_until(pilot, lambda: app.book.views[3].state == ContainerState.RUNNING)
        assert any("it was paused, its kernels are as they were" in note for note in app.notes)


async def test_stopping_a_running_notebook_asks_first_with_keep_running_the_default():
    session = FixedSession(actor=BOB)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        app.screen.query_one("#table").move_to(4)  # course-2026, running
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "running kernels end" in app.screen.question
        assert app.screen.focused.id == "cancel" and "Keep running" in str(app.screen.focused.label)
        await pilot.press("enter")  # the default: keep it running
        await pilot.pause(0.2)
        assert ("stop_container", 4) not in session.calls
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(
            pilot, lambda: ("stop_container", 4) in session.calls, what="the stop once confirmed"
        )


async def test_an_idle_notebook_stops_without_a_question():
    from datetime import UTC, datetime, timedelta

    from ipynbsrv_tui.config import Config

    now = datetime.now(UTC).replace(tzinfo=None)
    idle = replace(
        fixed_view(4, "bob", "old", ContainerState.RUNNING), last_activity=now - timedelta(hours=2)
    )
    busy = replace(
        fixed_view(7, "bob", "used", ContainerState.RUNNING), last_activity=now - timedelta(minutes=1)
    )
    session = FixedSession(actor=BOB, views=[idle, busy])
    app = make_app(session, config=Config().replace(notebooks={"idle_timeout": 3600}))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.book.loaded)
        app.screen.query_one("#table").move_to(4)
        await pilot.press("s")  # idle for two hours, over idle_timeout: nothing to lose
        await wait_until(pilot, lambda: ("stop_container", 4) in session.calls, what="the stop")
        app.screen.query_one("#table").move_to(7)
        await pilot.press("s")  # used a minute ago: asks
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")


async def test_the_summary_counts_each_notebook_once():
    views = [fixed_view(i, "bob", f"nb{i}", ContainerState.PAUSED) for i in (1, 2, 3)]
    app = make_app(FixedSession(actor=BOB, views=views))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "3 containers" in screen_text(app), what="the summary")
        assert "0 running · 3 suspended" in screen_text(app)
