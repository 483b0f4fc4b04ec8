"""A running build's pump: its events from the engine to the build panel, in batches, with back-pressure.

The build is an endless-until-done stream, so it runs on daemon threads of its own (not in the
small worker pool), like the streams in `streams.py`, and answers with Messages (DESIGN §9).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from textual.message import Message

from ..domain import BuildEvent, BuildSummary
from ..interface import BuildStream
from .background import error_text
from .widgets.buildlog import log_lines

FLUSH_SECONDS = 0.05
MAX_BATCH = 500


class BuildEvents(Message):
    """A batch of a running build's events, with the lines the log shows for them (made on the
    sender thread, so the UI thread only appends them)."""

    def __init__(self, events: list[BuildEvent]) -> None:
        super().__init__()
        self.events = events
        self.lines = log_lines(events)


class BuildStarted(Message):
    """The service accepted the build; `build_id` names it in the history."""

    def __init__(self, build_id: int | None) -> None:
        super().__init__()
        self.build_id = build_id


class BuildEnded(Message):
    """The build's stream ended; `summary` says how, `error` is set when it broke off."""

    def __init__(self, summary: BuildSummary | None, error: str | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.error = error


# A batch the screen shows in well under a frame's budget (about 5 ms per 1,000 events).
LARGEST_BATCH = 2000
QUEUED_EVENTS = 2 * LARGEST_BATCH


class BuildPump:
    """Runs a build on two daemon threads: a reader iterates the BuildHandle into a queue, a sender
    posts the events to `post` in batches (every FLUSH_SECONDS or MAX_BATCH events), then BuildEnded.

    At most one batch is in flight: the sender waits for `delivered()` (called by the screen after it
    showed a batch) before posting the next, collecting what arrives meanwhile into one larger batch.
    A build that outruns the screen therefore never floods the event loop with messages.

    `cancel()` may be called from the UI thread at any time, also before the build has started.
    """

    def __init__(self, start: Callable[[], BuildStream], post: Callable[[Message], object],
                 flush_seconds: float = FLUSH_SECONDS, max_batch: int = MAX_BATCH) -> None:
        self._start = start
        self._post = post
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self.handle: BuildStream | None = None
        # Bounded: a build that outruns the screen waits in its reader (the engine's stream buffers
        # meanwhile) instead of competing with the UI thread for the interpreter.
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUED_EVENTS)
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._delivered = threading.Event()
        self._delivered.set()
        self.finished = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._read, name="ipynbsrv-build-reader", daemon=True).start()
        threading.Thread(target=self._send, name="ipynbsrv-build-sender", daemon=True).start()

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    def cancel(self) -> None:
        if self._cancelled.is_set():
            return
        self._cancelled.set()
        with self._lock:
            handle = self.handle
        if handle is not None:
            threading.Thread(target=handle.cancel, name="ipynbsrv-build-cancel", daemon=True).start()

    def delivered(self) -> None:
        """The screen has shown the last batch: the next one may be posted."""
        self._delivered.set()

    def _post_batch(self, events: list[BuildEvent]) -> None:
        self._delivered.clear()
        self._post(BuildEvents(events))

    def _read(self) -> None:
        try:
            handle = self._start()
        except Exception as exc:  # the build could not start: shown in the panel
            self._queue.put(BuildEnded(None, error_text(exc)))
            return
        with self._lock:
            self.handle = handle
        self._post(BuildStarted(handle.build_id))
        if self._cancelled.is_set():
            handle.cancel()
        try:
            for event in handle:
                self._queue.put(event)
        except Exception as exc:  # a broken stream ends the build; the handle recorded it
            self._queue.put(BuildEnded(handle.summary, error_text(exc)))
            return
        self._queue.put(BuildEnded(handle.summary))

    def _send(self) -> None:
        pending: list[BuildEvent] = []
        first = 0.0
        while True:
            timeout = None if not pending else max(0.0, first + self.flush_seconds - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, BuildEnded):
                while pending:
                    self._delivered.wait(timeout=5)
                    self._post_batch(pending[:LARGEST_BATCH])
                    pending = pending[LARGEST_BATCH:]
                self._delivered.wait(timeout=5)
                self.finished.set()
                self._post(item)
                return
            if item is not None:
                if not pending:
                    first = time.monotonic()
                pending.append(item)
            due = item is None or len(pending) >= self.max_batch
            if due and pending and self._delivered.is_set():
                self._post_batch(pending[:LARGEST_BATCH])
                pending = pending[LARGEST_BATCH:]
                first = time.monotonic()
            elif due and pending:
                self._delivered.wait(timeout=self.flush_seconds)
