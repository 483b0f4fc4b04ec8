"""A running image build: its event stream, its Build row and its log file."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..domain import BuildEvent, BuildEventKind, BuildStatus, BuildSummary, IpynbsrvError
from ..store.models import Build, utcnow
from . import workers

if TYPE_CHECKING:
    from ..engine.dockerfiles import BuildPlan
    from ..engine.protocol import BuildRun, Engine

FLUSH_EVERY = 200
# The classic builder names each step's container in its output: " ---> Running in 3f2a…".
_STEP_CONTAINER = re.compile(r"Running in ([0-9a-f]{12,64})\b")


class _Steps(Protocol):
    """What a BuildHandle runs: the events of a build, `cancel()`, and `summary` once it ended."""

    summary: BuildSummary | None

    def __iter__(self) -> Iterator[BuildEvent]: ...

    def cancel(self) -> None: ...

    @property
    def leftovers(self) -> list[str]: ...


class BuildHandle:
    """Iterate it to run the build and receive BuildEvents; `cancel()` from any thread stops it.

    The log is written to `log_path` as JSON lines in batches, and the Build row is updated
    when the stream ends, so a finished build can be reopened.
    """

    def __init__(
        self, build_id: int, stream: _Steps, log_path: Path,
        on_finish: Callable[[BuildSummary], None] | None = None,
    ) -> None:
        self.build_id = build_id
        self.log_path = log_path
        self.summary: BuildSummary | None = None
        self._stream = stream
        self._on_finish = on_finish
        self._cancelled = threading.Event()
        self._step_containers: list[str] = []
        self._images: list[str] = []
        workers.begin("build", build_id)

    def cancel(self) -> None:
        self._cancelled.set()
        self._stream.cancel()

    def __iter__(self) -> Iterator[BuildEvent]:
        pending: list[str] = []
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as log:
            try:
                for event in self._stream:
                    self._track(event)
                    pending.append(encode_event(event))
                    if len(pending) >= FLUSH_EVERY:
                        log.write("".join(pending))
                        pending.clear()
                    yield event
            finally:
                log.write("".join(pending))
                self._finish()

    def _track(self, event: BuildEvent) -> None:
        """Record each step container and the untagged images so far, so that reconcile can remove
        them if this process dies mid-build."""
        found = _STEP_CONTAINER.search(event.text) if "Running in" in event.text else None
        if found:
            self._step_containers.append(found.group(1))
            Build.update(containers=",".join(self._step_containers[-50:])).where(
                Build.id == self.build_id).execute()
        if event.kind is BuildEventKind.STEP:
            self._record_images()

    def _record_images(self) -> None:
        images = self._stream.leftovers[:50]
        if images != self._images:
            self._images = images
            Build.update(images=",".join(images)).where(Build.id == self.build_id).execute()

    def _finish(self) -> None:
        summary = self._stream.summary
        if summary is None:
            status = BuildStatus.CANCELLED if self._cancelled.is_set() else BuildStatus.FAILED
            summary = BuildSummary(status, None, None, "the build stream ended early", 0, 0, 0, 0.0)
        self.summary = summary
        try:
            Build.update(
                finished=utcnow(), status=summary.status.value, image_id=summary.image_id or "",
                exit_code=summary.exit_code, error=summary.error or "", tolerated=summary.tolerated,
                warnings=summary.warnings, lines=summary.lines,
            ).where(Build.id == self.build_id).execute()
        finally:  # only now: a reconcile that sees the row `running` and no worker marks it interrupted
            workers.end("build", self.build_id)
        self._record_images()  # what the build could not remove yet (reconcile tries again)
        if self._on_finish is not None:
            self._on_finish(summary)


class PlannedBuild:
    """The steps of a BuildPlan as one event stream: missing bases first, each with its wheelhouse.

    Same protocol as the engine's BuildStream: iterate it, `cancel()` from any thread, `summary`
    once it ended (the failing step's, or the requested image's).
    """

    def __init__(self, engine: Engine, plan: BuildPlan, labels: dict[str, str], wheelhouse: bool,
                 owner: dict[str, str] | None = None) -> None:
        self._engine = engine
        self._plan = plan
        self._labels = labels
        self._owner = owner or {}
        self._wheelhouse = wheelhouse
        self._current: BuildRun | None = None
        self._left: list[str] = []  # leftovers of finished steps the engine could not remove yet
        self._cancelled = threading.Event()
        self._started = time.monotonic()
        self._summary: BuildSummary | None = None

    @property
    def summary(self) -> BuildSummary | None:
        """How it ended; `seconds` covers the whole plan (bases and wheel downloads included), as
        the build history does."""
        return self._summary

    @summary.setter
    def summary(self, value: BuildSummary | None) -> None:
        seconds = round(time.monotonic() - self._started, 3)
        self._summary = None if value is None else dataclasses.replace(value, seconds=seconds)

    @property
    def leftovers(self) -> list[str]:
        """The untagged images of this plan's builds that are still there (or may be): the running
        step's, and those of finished steps that the engine could not remove yet."""
        current = self._current.leftovers if self._current is not None else []
        return [*current, *(image for image in self._left if image not in current)]

    def cancel(self) -> None:
        self._cancelled.set()
        if self._current is not None:
            self._current.cancel()

    def _clean(self, run: BuildRun) -> None:
        """Remove what the finished run left: its stages' images (a multi-stage build's builder
        stages), and after a failure the last committed layer. A stopped run's engine does it
        itself once the interrupted step's container is gone."""
        if run.summary is not None and run.summary.status is BuildStatus.CANCELLED:
            self._left.extend(run.leftovers)
        elif run.leftovers:
            self._left.extend(self._engine.remove_leftover_images(run.leftovers, self._owner))

    def __iter__(self) -> Iterator[BuildEvent]:
        started = time.monotonic()
        steps = self._plan.steps
        for number, step in enumerate(steps, start=1):
            if self._cancelled.is_set():
                self.summary = BuildSummary(BuildStatus.CANCELLED, None, None, "cancelled", 0, 0, 0,
                                            time.monotonic() - started)
                return
            if len(steps) > 1 or step.reason != "requested":
                yield BuildEvent(BuildEventKind.OUTPUT, f"== [{number}/{len(steps)}] {step.tag} from "
                                 f"{step.folder.name}/ ({step.reason})")
            notes: list[str] = []
            try:
                from ..engine.dockerfiles import check_wheelhouse, prepare_wheelhouse

                if step.folder.wheel_sets:
                    if self._wheelhouse:
                        prepare_wheelhouse(step.folder, progress=notes.append)
                    else:
                        check_wheelhouse(step.folder)
            except IpynbsrvError as exc:
                yield from (BuildEvent(BuildEventKind.OUTPUT, line) for line in notes)
                yield BuildEvent(BuildEventKind.ERROR, str(exc))
                self.summary = BuildSummary(BuildStatus.FAILED, None, None, str(exc), 0, 0, len(notes),
                                            time.monotonic() - started)
                return
            yield from (BuildEvent(BuildEventKind.OUTPUT, line) for line in notes)
            self._current = self._engine.build(
                step.folder.path, step.tag, buildargs=step.buildargs, labels=step.labels | self._labels,
                nocache=step.nocache,
            )
            current = self._current
            if self._cancelled.is_set():
                current.cancel()
            yield from current
            self._current = None
            self._clean(current)
            summary = current.summary
            if summary is None or summary.status is not BuildStatus.SUCCEEDED:
                self.summary = summary
                return
        if self._engine.mode == "swarm" and summary is not None:  # the nodes need it: the registry, or copies
            tag = steps[-1].tag
            yield BuildEvent(BuildEventKind.OUTPUT, f"== publishing {tag} for the swarm's nodes")
            try:
                yield BuildEvent(BuildEventKind.OUTPUT, f"published as {self._engine.publish_image(tag)}")
            except IpynbsrvError as exc:
                yield BuildEvent(BuildEventKind.ERROR, str(exc))
                summary = dataclasses.replace(summary, status=BuildStatus.FAILED, error=str(exc))
        self.summary = summary


def encode_event(event: BuildEvent) -> str:
    record: dict[str, Any] = {"k": event.kind.value, "t": event.text}
    for key, value in (
        ("s", event.step),
        ("n", event.total_steps),
        ("x", event.exit_code),
        ("i", event.image_id),
    ):
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
                    BuildEventKind(record["k"]),
                    record["t"],
                    step=record.get("s"),
                    total_steps=record.get("n"),
                    exit_code=record.get("x"),
                    image_id=record.get("i"),
                )
            )
    return events[-limit:] if limit else events
