"""The console's container feed: the first list it shows and the changes it follows."""

from __future__ import annotations

import dataclasses
import threading

from ipynbsrv_tui.domain import ContainerState, EngineUnavailable
from ipynbsrv_tui.tui.early import EarlyCall
from ipynbsrv_tui.tui.messages import ContainersLoaded, FeedProblem
from ipynbsrv_tui.tui.streams import ContainerFeed

from .conftest import FixedSession, fixed_view


def test_a_notebook_that_became_ready_before_the_watch_began_is_not_left_starting():
    """The early start-up list was asked before the feed's watch began: a notebook that answered in
    between (readiness is no engine event, and no watch replays it) must not stay "starting"."""
    starting = fixed_view(1, "alice", "thesis", ContainerState.RUNNING, minutes_up=1)
    session = FixedSession(views=[starting])
    early = EarlyCall(session.list_containers, "test-first-list").start()
    assert early.wait(5) and early.result is not None and not early.result[0].ready
    session.views[1] = dataclasses.replace(starting, ready=True)  # answers now; the watch is not open yet

    posted: list[object] = []
    loaded = threading.Event()

    def post(message: object) -> None:
        posted.append(message)
        if isinstance(message, ContainersLoaded) and message.views and message.views[0].ready:
            loaded.set()

    feed = ContainerFeed(session, post, first=early)
    feed.start()
    try:
        assert loaded.wait(5), f"the feed never showed the notebook ready: {posted}"
    finally:
        feed.stop()
    lists = [m.views for m in posted if isinstance(m, ContainersLoaded)]
    assert lists[0] is early.result  # the first frame is still the early list, shown at once
    assert lists[-1][0].ready


class EngineAway(FixedSession):
    """The store answers; the engine's live changes cannot begin."""

    def watch_containers(self, since=None):
        raise EngineUnavailable("Cannot reach the Docker Engine at unix:///nowhere.sock.")


def test_the_rows_are_shown_while_the_engine_is_away():
    """The list comes from the store: an engine that is down must not leave the console empty
    (the feed began to follow before listing, and a watch that could not begin hid every row)."""
    session = EngineAway()
    posted: list[object] = []
    both = threading.Event()

    def post(message: object) -> None:
        posted.append(message)
        if any(isinstance(m, ContainersLoaded) for m in posted) and any(
            isinstance(m, FeedProblem) for m in posted
        ):
            both.set()

    feed = ContainerFeed(session, post)
    feed.start()
    try:
        assert both.wait(5), f"expected the rows and a problem line: {posted}"
    finally:
        feed.stop()
    rows = next(m.views for m in posted if isinstance(m, ContainersLoaded))
    assert [v.id for v in rows] == [v.id for v in session.list_containers()] and rows
    problem = next(m for m in posted if isinstance(m, FeedProblem))
    assert "Docker Engine" in problem.text and "Retrying" in problem.text
