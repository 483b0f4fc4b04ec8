"""The engine's event stream for managed containers, surviving engine restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from ..domain import EngineEvent, IpynbsrvError
from .convert import engine_event
from .errors import translate
from .streams import STREAM_ERRORS, ClosableStream

MANAGED_FILTERS = {"type": "container", "label": "ipynbsrv.managed=true"}


class EventStream(ClosableStream):
    """Iterable of EngineEvents for managed containers until `close()` is called.

    When the connection to the engine drops, it reconnects (retrying with a growing delay
    while the engine is away) and resumes with `since=` the last event it delivered, so no
    event is lost and none is delivered twice. `close()` may be called from any thread and
    ends the iteration promptly. One consumer only.
    """

    def __init__(
        self,
        api: Any,
        since: float | None = None,
        filters: dict[str, Any] | None = None,
        url: str = "",
        retry: tuple[float, float] = (0.5, 5.0),
    ) -> None:
        self.reconnects = 0
        self.last_error: IpynbsrvError | None = None
        self._api = api
        self._filters = dict(filters or MANAGED_FILTERS)
        self._url = url
        self._retry = retry
        self._since = _timestamp(since) if since is not None else None
        self._last_nano: int | None = None
        self._replaying_until: int | None = None
        self._delivered_at_last: set[tuple[str, str]] = set()
        super().__init__()
        self._lock = threading.Lock()
        self._response: Any = None
        self._iterator = self._events()

    def close(self) -> None:
        """End the iteration (closes the current connection, wakes a pending retry)."""
        self._closed.set()
        with self._lock:
            stream, self._response = self._response, None
        if stream is not None:
            try:
                stream.close()
            except STREAM_ERRORS:
                return

    # ------------------------------------------------------------------ internals

    def _events(self) -> Iterator[EngineEvent]:
        delay = self._retry[0]
        first = True
        while not self.closed:
            if not first:
                self.reconnects += 1
                self._replaying_until = self._last_nano
            first = False
            if self._since is None:
                self._since = _timestamp(time.time())
                since = None
            else:
                since = self._since
            try:
                stream = self._api.events(since=since, filters=self._filters, decode=True)
            except STREAM_ERRORS as exc:
                self.last_error = translate(exc, "follow events", url=self._url)
                self._closed.wait(delay)
                delay = min(delay * 2, self._retry[1])
                continue
            with self._lock:
                if self.closed:
                    _close_quietly(stream)
                    return
                self._response = stream
            self.last_error = None
            delay = self._retry[0]
            try:
                for raw in stream:
                    event = self._accept(raw)
                    if event is not None:
                        yield event
            except STREAM_ERRORS as exc:
                self.last_error = translate(exc, "follow events", url=self._url)
            with self._lock:
                self._response = None
            _close_quietly(stream)
            if not self.closed:
                self._closed.wait(self._retry[0])

    def _accept(self, raw: Any) -> EngineEvent | None:
        """Convert one raw event; skip anything already delivered before a reconnect."""
        if not isinstance(raw, dict):
            return None
        event = engine_event(raw)
        if event is None:
            return None
        nanos = raw.get("timeNano")
        nanos = nanos if isinstance(nanos, int) else int(event.time * 1e9)
        key = (event.container_id, event.action)
        resume = self._replaying_until
        if resume is not None:
            if nanos < resume or (nanos == resume and key in self._delivered_at_last):
                return None
            if nanos > resume:
                self._replaying_until = None
        if nanos != self._last_nano:
            self._last_nano = nanos
            self._delivered_at_last = set()
        self._delivered_at_last.add(key)
        self._since = f"{nanos // 1_000_000_000}.{nanos % 1_000_000_000:09d}"
        return event


def _timestamp(seconds: float) -> str:
    nanos = int(seconds * 1_000_000_000)
    return f"{nanos // 1_000_000_000}.{nanos % 1_000_000_000:09d}"


def _close_quietly(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        try:
            close()
        except STREAM_ERRORS:
            return
