"""A running image build as an iterator of classified BuildEvents."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from docker.types import CancellableStream

from ..domain import BuildEvent, BuildEventKind, BuildStatus, BuildSummary
from .classifier import BuildLogClassifier
from .errors import translate
from .streams import STREAM_ERRORS

CANCELLED = "The build was cancelled."
_ARG = re.compile(r"^ARG\s+(\w+)(?:=(.*))?$", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_LAYER = re.compile(r"^\s*--->\s+([0-9a-f]{12,64})\s*$")


class BuildStream:
    """Iterator of BuildEvents while the build runs; `cancel()` from any thread stops it.

    Events arrive as the engine produces them. Once iteration has ended, `summary` tells how the
    build ended (succeeded / failed / cancelled, image id, exit code, error, counters, seconds).
    Failures never raise: they arrive as an ERROR event and in the summary.
    """

    def __init__(
        self,
        chunks: Iterator[dict[str, Any]],
        tag: str,
        buildargs: dict[str, str] | None = None,
        url: str = "",
        started: float | None = None,
        on_cancelled: Callable[[list[str]], object] | None = None,
    ) -> None:
        self.tag = tag
        self.last_layer: str | None = None
        self._on_cancelled = on_cancelled
        self.summary: BuildSummary | None = None
        self._chunks = _cancellable(chunks)
        self._classifier = BuildLogClassifier()
        self._queue: deque[BuildEvent] = deque()
        self._buildargs = dict(buildargs or {})
        self._args: dict[str, str] = {}
        self._url = url
        self._started = started if started is not None else time.monotonic()
        self._cancelled = threading.Event()
        self._done = False
        self._error: str | None = None

    def __iter__(self) -> BuildStream:
        return self

    def __next__(self) -> BuildEvent:
        while not self._queue:
            if self._done:
                raise StopIteration
            self._pump()
        return self._queue.popleft()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def stage_images(self) -> list[str]:
        """The image of every stage finished so far (a multi-stage build reports one per stage)."""
        return list(self._classifier.stage_images)

    @property
    def leftovers(self) -> list[str]:
        """The untagged images this build made that nothing will keep, latest first: the images of
        the stages before the last (a finished stage is reported before the next one runs), and
        unless it succeeded the last committed layer. Ids of images that turn out to be parents of
        a kept image are among them while it runs; the engine refuses to remove those."""
        stages = list(reversed(self._classifier.stage_images))
        if self.summary is not None and self.summary.status is BuildStatus.SUCCEEDED:
            return [image for image in stages if image != self.summary.image_id]
        layers = [self.last_layer] if self.last_layer is not None else []
        return layers + [image for image in stages if image not in layers]

    def cancel(self) -> None:
        """Stop the build: closes the connection, which makes the engine abort it."""
        self._cancelled.set()
        try:
            self._chunks.close()
        except STREAM_ERRORS:
            return

    # ------------------------------------------------------------------ internals

    def _pump(self) -> None:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._end()
            return
        except STREAM_ERRORS as exc:
            if not self.cancelled:
                self._emit(self._classifier.fail(str(translate(exc, "build", self.tag, self._url))))
            self._end()
            return
        if isinstance(chunk, dict):
            self._emit(self._classifier.feed(chunk), from_engine=True)

    def _end(self) -> None:
        if self.cancelled:
            self._emit(self._classifier.fail(CANCELLED))
            status = BuildStatus.CANCELLED
        else:
            self._emit(self._classifier.finish())
            status = BuildStatus.SUCCEEDED if self._classifier.succeeded else BuildStatus.FAILED
        self._done = True
        c = self._classifier
        self.summary = BuildSummary(
            status=status,
            image_id=c.image_id if status is BuildStatus.SUCCEEDED else None,
            exit_code=c.exit_code,
            error=None if status is BuildStatus.SUCCEEDED else (self._error or c.error),
            tolerated=c.tolerated,
            warnings=c.warnings,
            lines=c.lines,
            seconds=round(time.monotonic() - self._started, 3),
        )
        if status is BuildStatus.CANCELLED and self._on_cancelled is not None and self.leftovers:
            # Stopped: the tag was not moved, and the interrupted step's container may still be
            # stopping; the engine removes the leftovers once nothing uses them.
            self._on_cancelled(self.leftovers)

    def _emit(self, events: list[BuildEvent], from_engine: bool = False) -> None:
        for event in events:
            if event.kind is BuildEventKind.STEP:
                self._remember_arg(event.text.partition(" : ")[2])
            elif event.kind is BuildEventKind.OUTPUT and (layer := _LAYER.match(event.text)):
                self.last_layer = layer.group(1)
            elif event.kind is BuildEventKind.ERROR:
                if from_engine:
                    event = self._explain(event)
                if self._error is None:
                    self._error = event.text
            self._queue.append(event)

    def _remember_arg(self, instruction: str) -> None:
        found = _ARG.match(instruction)
        if found and found.group(1) not in self._args:
            default = (found.group(2) or "").strip().strip("\"'")
            self._args[found.group(1)] = self._buildargs.get(found.group(1), default)

    def _explain(self, event: BuildEvent) -> BuildEvent:
        """A failing FROM means the base image is missing: say so, and name it."""
        instruction = self._classifier.instruction or ""
        if event.exit_code is not None or not instruction.upper().startswith("FROM "):
            return event
        words = [w for w in instruction.split()[1:] if not w.startswith("--")]
        ref = _VARIABLE.sub(
            lambda m: self._args.get(m.group(1) or m.group(2), m.group(0)), words[0] if words else ""
        )
        text = (
            f"Base image {ref} is not present on the Docker Engine and could not be pulled "
            f"(the engine said: {event.text}). Build or import it first; a Debian base comes from "
            f"`ipynbsrv-tui images bootstrap-base --tag {ref}`."
        )
        return BuildEvent(event.kind, text, step=event.step, total_steps=event.total_steps)


def _cancellable(chunks: Iterator[dict[str, Any]]) -> CancellableStream[dict[str, Any]] | _Closable:
    """Wrap docker-py's build generator so another thread can close its HTTP response.

    `APIClient.build()` returns the generator `_stream_helper(response, decode)` without the
    response; the response is that generator's first argument, readable before it starts.
    """
    frame = getattr(chunks, "gi_frame", None)
    response = frame.f_locals.get("response") if frame is not None else None
    if response is not None and hasattr(response, "raw"):
        return CancellableStream(chunks, response)
    return _Closable(chunks)


class _Closable:
    """An iterator of chunks without an HTTP response behind it (a recording, a test double)."""

    def __init__(self, chunks: Iterator[dict[str, Any]]) -> None:
        self._chunks = iter(chunks)
        self._closed = False

    def __iter__(self) -> _Closable:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._closed:
            raise StopIteration
        return next(self._chunks)

    def close(self) -> None:
        self._closed = True
