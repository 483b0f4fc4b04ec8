"""A running image build: its event stream, its Build row and its log file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

from ..domain import BuildEvent, BuildEventKind, BuildStatus, BuildSummary
from ..store.models import Build, utcnow

FLUSH_EVERY = 200


class BuildHandle:
    """Iterate it to run the build and receive BuildEvents; `cancel()` from any thread stops it.

    The log is written to `log_path` as JSON lines in batches, and the Build row is updated
    when the stream ends, so a finished build can be reopened.
    """

    def __init__(self, build_id: int, stream, log_path: Path, on_finish=None) -> None:
        self.build_id = build_id
        self.log_path = log_path
        self.summary: BuildSummary | None = None
        self._stream = stream
        self._on_finish = on_finish
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()
        self._stream.cancel()

    def __iter__(self) -> Iterator[BuildEvent]:
        pending: list[str] = []
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as log:
            try:
                for event in self._stream:
                    pending.append(encode_event(event))
                    if len(pending) >= FLUSH_EVERY:
                        log.write("".join(pending))
                        pending.clear()
                    yield event
            finally:
                log.write("".join(pending))
                self._finish()

    def _finish(self) -> None:
        summary = self._stream.summary
        if summary is None:
            status = BuildStatus.CANCELLED if self._cancelled.is_set() else BuildStatus.FAILED
            summary = BuildSummary(status, None, None, "the build stream ended early", 0, 0, 0, 0.0)
        self.summary = summary
        Build.update(
            finished=utcnow(), status=summary.status.value, image_id=summary.image_id or "",
            exit_code=summary.exit_code, error=summary.error or "", tolerated=summary.tolerated,
            warnings=summary.warnings, lines=summary.lines,
        ).where(Build.id == self.build_id).execute()
        if self._on_finish is not None:
            self._on_finish(summary)


def encode_event(event: BuildEvent) -> str:
    record = {"k": event.kind.value, "t": event.text}
    for key, value in (("s", event.step), ("n", event.total_steps), ("x", event.exit_code), ("i", event.image_id)):
        if value is not None:
            record[key] = value
    return json.dumps(record, ensure_ascii=False) + "\n"


def read_log(path: Path, limit: int | None = None) -> list[BuildEvent]:
    """The events of a finished build, from its log file (the last `limit` when given)."""
    if not path.is_file():
        return []
    events = []
    with path.open(encoding="utf-8") as log:
        for line in log:
            record = json.loads(line)
            events.append(
                BuildEvent(
                    BuildEventKind(record["k"]), record["t"], step=record.get("s"), total_steps=record.get("n"),
                    exit_code=record.get("x"), image_id=record.get("i"),
                )
            )
    return events[-limit:] if limit else events
