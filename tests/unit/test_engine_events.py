"""EventStream against a fake API: reconnect after a drop, resume with since=, no duplicates, prompt close."""

from __future__ import annotations

import threading
import time

import requests.exceptions

from ipynbsrv_tui.engine.events import MANAGED_FILTERS, EventStream


def raw(action: str, nanos: int, cid: str = "c1") -> dict:
    return {
        "Type": "container",
        "Action": action,
        "Actor": {
            "ID": cid,
            "Attributes": {"name": "ipynbsrv-alice-nb", "image": "x", "ipynbsrv.container": "7"},
        },
        "time": nanos // 10**9,
        "timeNano": nanos,
    }


class FakeStream:
    """A finite event stream that records whether it was closed."""

    def __init__(self, items, block: threading.Event | None = None):
        self.items = list(items)
        self.block = block
        self.closed = False

    def __iter__(self):
        yield from self.items
        if self.block is not None:
            self.block.wait(10)

    def close(self):
        self.closed = True
        if self.block is not None:
            self.block.set()


class FakeApi:
    """Hands out the prepared connections in order; an exception instance is raised instead."""

    def __init__(self, connections):
        self.connections = list(connections)
        self.calls: list[dict] = []

    def events(self, since=None, filters=None, decode=None):
        self.calls.append({"since": since, "filters": filters, "decode": decode})
        item = self.connections.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


T = 1_700_000_000_000_000_000


def test_reconnects_and_resumes_with_since_without_duplicates():
    hold = threading.Event()
    api = FakeApi(
        [
            FakeStream([raw("create", T), raw("start", T + 5)]),  # then the engine drops the connection
            requests.exceptions.ConnectionError("engine restarting"),
            FakeStream([raw("start", T + 5), raw("die", T + 9), raw("start", T + 12)], block=hold),
        ]
    )
    stream = EventStream(api, retry=(0.01, 0.02))
    seen = []
    for event in stream:
        seen.append((event.action, event.time))
        if len(seen) == 4:
            stream.close()
    assert [a for a, _ in seen] == ["create", "start", "die", "start"]
    assert seen[2][1] == (T + 9) / 1e9
    assert api.calls[0]["since"] is None
    assert api.calls[0]["filters"] == MANAGED_FILTERS and api.calls[0]["decode"] is True
    assert api.calls[1]["since"] == api.calls[2]["since"] == f"{(T + 5) // 10**9}.{(T + 5) % 10**9:09d}"
    assert stream.reconnects == 2


def test_events_carry_labels_and_store_id():
    api = FakeApi([FakeStream([raw("pause", T)], block=threading.Event())])
    with EventStream(api, since=1_700_000_000.5) as stream:
        event = next(stream)
    assert api.calls[0]["since"] == "1700000000.500000000"
    assert (event.action, event.container_id, event.name, event.store_id) == (
        "pause",
        "c1",
        "ipynbsrv-alice-nb",
        7,
    )
    assert event.labels == {"ipynbsrv.container": "7"}


def test_close_from_another_thread_ends_a_blocked_iteration_promptly():
    hold = threading.Event()
    connection = FakeStream([], block=hold)
    stream = EventStream(FakeApi([connection]))
    threading.Timer(0.2, stream.close).start()
    started = time.monotonic()
    assert list(stream) == []
    assert time.monotonic() - started < 2
    assert connection.closed


def test_close_wakes_a_pending_retry():
    api = FakeApi([requests.exceptions.ConnectionError("down")] * 50)
    stream = EventStream(api, retry=(30.0, 30.0))
    threading.Timer(0.2, stream.close).start()
    started = time.monotonic()
    assert list(stream) == []
    assert time.monotonic() - started < 2
    assert stream.last_error is not None and "Cannot reach the Docker Engine" in str(stream.last_error)
