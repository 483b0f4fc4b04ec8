"""Background threads for endless streams: container events, resource samples, log follows.

Each runs in its own daemon `threading.Thread` (never in the small worker pool), talks to the
UI only through `post` callbacks (thread-safe `post_message`) or a `LineBuffer` the UI drains
on a timer, and stops when `stop()` is called from the UI thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..domain import ContainerChange, ContainerStats, ContainerView, RightsChanged
from .background import error_text
from .messages import (
    AccessEnded,
    ContainersChanged,
    ContainersLoaded,
    FeedProblem,
    RightsUpdated,
    StatsSampled,
)

if TYPE_CHECKING:
    from textual.message import Message

    from ..interface import ServiceSession, Stream
    from .early import EarlyCall

RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0)
YIELD_EVERY = 256
FIRST_LIST_WAIT_SECONDS = 30.0


class ContainerFeed(threading.Thread):
    """Follows `session.watch_containers()` and lists the containers, in that order so that no change
    between the two is lost; reconnects after a loss."""

    def __init__(
        self, session: ServiceSession, post: Callable[[Message], object],
        first: EarlyCall[list[ContainerView]] | None = None,
    ) -> None:
        super().__init__(name="ipynbsrv-container-feed", daemon=True)
        self.session = session
        self._first = first  # a list already asked for at start-up, used once instead of asking again
        self.post = post
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._watch: Stream[ContainerChange] | None = None
        self._wake = threading.Event()

    def retry_now(self) -> None:
        """Cut the pause before the next reconnect short (the service answers again)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        with self._lock:
            watch, self._watch = self._watch, None
        if watch is not None:
            try:
                watch.close()
            except Exception:  # closing a broken stream may fail; the thread ends either way
                pass

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _first_list(self) -> list[ContainerView] | None:
        first, self._first = self._first, None
        if first is None or not first.wait(FIRST_LIST_WAIT_SECONDS) or first.error is not None:
            return None
        return first.result

    def _follow(self) -> Stream[ContainerChange] | Exception | None:
        """The watch of live changes, or why it could not begin; None when the feed stopped."""
        try:
            watch = self.session.watch_containers()
        except Exception as exc:  # the engine or the broker is away: the list may still answer
            return exc
        with self._lock:
            if self._stopped.is_set():
                watch.close()
                return None
            self._watch = watch
        return watch

    def run(self) -> None:
        attempt = 0
        problem = False
        while not self._stopped.is_set():
            try:
                # Follow first, then list: a change between the two (a notebook that answers now,
                # which no engine event replays) is then in the list or in the watch, never lost.
                watch = self._follow()
                if watch is None:
                    return
                # The early list (DESIGN §12's first frame) was asked before the watch began: it is
                # shown at once, then replaced by a list asked after, which misses no change.
                early = self._first_list()
                if early is not None:
                    self.post(ContainersLoaded(early))
                views = self.session.list_containers()  # the store answers while the engine is away
                if self._stopped.is_set():
                    return
                self.post(ContainersLoaded(views))
                if isinstance(watch, Exception):
                    raise watch
                if problem:
                    self.post(FeedProblem("Live updates are back.", recovered=True))
                    problem = False
                attempt = 0
                for change in watch:
                    if self._stopped.is_set():
                        return
                    self.post(ContainersChanged([change]))
                if self._stopped.is_set():
                    return
                reason = "the engine's event stream ended"
            except Exception as exc:  # the feed must survive any failure and retry
                if self._stopped.is_set():
                    return
                reason = error_text(exc, brief=True)
            if not problem:
                self.post(
                    FeedProblem(f"Live updates paused: {reason.rstrip('.')}. Retrying in the background.")
                )
                problem = True
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            attempt += 1
            self._wake.wait(delay)
            self._wake.clear()


class RightsFeed(threading.Thread):
    """Follows `session.watch_rights()`: posts RightsUpdated for each actor it reports (the first on
    every (re)connect, so a change made while the service was away is seen too), AccessEnded when
    the service refuses the user. A lost service is retried quietly: the header says it is lost."""

    def __init__(self, session: ServiceSession, post: Callable[[Message], object]) -> None:
        super().__init__(name="ipynbsrv-rights", daemon=True)
        self.session = session
        self.post = post
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._watch: Stream[object] | None = None

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            watch, self._watch = self._watch, None
        if watch is not None:
            try:
                watch.close()
            except Exception:  # closing a broken stream may fail; the thread ends either way
                pass

    def run(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            try:
                watch = self.session.watch_rights()
                with self._lock:
                    if self._stopped.is_set():
                        watch.close()
                        return
                    self._watch = watch
                for actor in watch:
                    attempt = 0
                    if self._stopped.is_set():
                        return
                    self.post(RightsUpdated(actor))
            except RightsChanged as exc:
                if not self._stopped.is_set():
                    self.post(AccessEnded(str(exc)))
                return
            except Exception:  # the service is away: the header shows it; try again
                pass
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            attempt += 1
            self._stopped.wait(delay)


class StatsSampler(threading.Thread):
    """Samples `container_stats` for the containers the screens want, every `interval` seconds."""

    def __init__(
        self,
        session: ServiceSession,
        post: Callable[[Message], object],
        interval: float = 5.0,
        parallel: int = 4,
    ) -> None:
        super().__init__(name="ipynbsrv-stats", daemon=True)
        self.session = session
        self.post = post
        self.interval = interval
        self.parallel = parallel
        self._wanted: dict[str, tuple[int, ...]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._wake = threading.Event()

    def want(self, consumer: str, container_ids: tuple[int, ...]) -> None:
        """Which running containers `consumer` shows now (replaces its previous wish)."""
        with self._lock:
            changed = self._wanted.get(consumer) != container_ids
            if container_ids:
                self._wanted[consumer] = container_ids
            else:
                self._wanted.pop(consumer, None)
        if changed and container_ids:
            self._wake.set()

    def wanted(self) -> list[int]:
        with self._lock:
            ids: set[int] = set()
            for group in self._wanted.values():
                ids.update(group)
        return sorted(ids)

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def _sample(self, container_id: int) -> tuple[int, ContainerStats | None]:
        try:
            return container_id, self.session.container_stats(container_id)
        except Exception:  # a container that stopped meanwhile, or the engine went away
            return container_id, None

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="ipynbsrv-stats") as pool:
            while not self._stopped.is_set():
                started = time.monotonic()
                ids = self.wanted()
                if ids:
                    samples = {cid: stats for cid, stats in pool.map(self._sample, ids) if stats is not None}
                    if samples and not self._stopped.is_set():
                        self.post(StatsSampled(samples))
                self._wake.clear()
                self._wake.wait(max(0.5, self.interval - (time.monotonic() - started)))


class LineBuffer:
    """Lines handed from a reader thread to the UI, which drains them in batches on a timer.

    deque.append / popleft are atomic, so the reader never waits for the UI.
    """

    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self.finished = False
        self.error: str | None = None

    def append(self, line: str) -> None:
        self._lines.append(line)

    def drain(self, limit: int = 5000) -> list[str]:
        lines = self._lines
        count = min(limit, len(lines))
        return [lines.popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._lines)


class LogFollower(threading.Thread):
    """Reads `session.follow_logs(container_id)` into a LineBuffer until the stream ends or stop()."""

    def __init__(self, session, container_id: int, buffer: LineBuffer, tail: int = 500,
                 timestamps: bool = False) -> None:
        super().__init__(name=f"ipynbsrv-logs-{container_id}", daemon=True)
        self.session = session
        self.container_id = container_id
        self.buffer = buffer
        self.tail = tail
        self.timestamps = timestamps
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._stream = None

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None and hasattr(stream, "close"):
            try:
                stream.close()
            except Exception:  # the stream may already be broken; the thread ends either way
                pass

    def run(self) -> None:
        try:
            if self.timestamps:
                stream = self.session.follow_logs(self.container_id, tail=self.tail, timestamps=True)
            else:
                stream = self.session.follow_logs(self.container_id, tail=self.tail)
            with self._lock:
                if self._stopped.is_set():
                    if hasattr(stream, "close"):
                        stream.close()
                    return
                self._stream = stream
            append = self.buffer.append
            for count, line in enumerate(stream, 1):
                if self._stopped.is_set():
                    break
                append(line)
                if count % YIELD_EVERY == 0:
                    time.sleep(0)  # a fast stream hands the GIL to the UI thread now and then
        except Exception as exc:  # shown in the log panel's status line
            if not self._stopped.is_set():
                self.buffer.error = error_text(exc, brief=True)
        finally:
            self.buffer.finished = True
