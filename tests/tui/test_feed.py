"""The console's container feed: the first list it shows and the changes it follows."""

from __future__ import annotations

import dataclasses
import threading

from ipynbsrv_tui.domain import ContainerState
from ipynbsrv_tui.tui.early import EarlyCall
from ipynbsrv_tui.tui.messages import ContainersLoaded
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
