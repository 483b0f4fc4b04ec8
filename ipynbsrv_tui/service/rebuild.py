"""Disaster recovery's image rebuilds (DESIGN §17): where a restored notebook's image was built
from, and its rebuild as an ordinary build (its Build row, log and history) run by a worker
thread, after which the notebooks that wait for it are made again."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import validation
from ..config import BuildConfig
from ..domain import Actor, BuildStatus, IpynbsrvError, ValidationError
from ..store.models import Build, Image, Setting, Snapshot
from . import workers
from .builds import BuildHandle, read_log
from .containers import is_keep_ref
from .images import Images

log = logging.getLogger(__name__)

REBUILDS_KEY = "backup.recovered.rebuilds"  # JSON {image ref: build id}: rebuilds started since the restore
TAIL_LINES = 6
INTERRUPTED = "the build was interrupted (its process ended)"  # as reconcile marks a build whose process died


@dataclass(frozen=True)
class ImageSource:
    """An image folder an image was built from: what `Images.build_image` takes (a folder under
    dockerfiles/ or a path), the build args it was built with, and whether its Dockerfile is there."""

    folder: str
    build_args: dict[str, str]
    present: bool


def image_source(ref: str, registered: Image | None, build: BuildConfig) -> ImageSource | None:
    """Where the restored store says `ref` was built from: its last successful build (folder and
    build args), else the registered image's source folder, else its name when it is
    `<image_prefix>/<folder>:<tag>`. None when nothing records a Dockerfile (a notebook's commit or
    snapshot, an image pulled or imported by hand)."""
    root = Path(build.dockerfiles)
    last = (Build.select().where((Build.image_ref == ref) & (Build.status == BuildStatus.SUCCEEDED.value))
            .order_by(Build.id.desc()).first())
    if last is not None and last.context:
        return _folder(Path(last.context), root, _build_args(last.build_args))
    if is_keep_ref(ref, build.image_prefix) or Snapshot.select().where(Snapshot.image_ref == ref).exists():
        return None
    if registered is None or registered.ref != ref or registered.owner_id is not None:
        return None  # a notebook's own image (a clone's, a user's commit): no Dockerfile
    if registered.source_folder:
        return _folder(Path(registered.source_folder), root, {})
    try:
        name = validation.split_reference(ref)[0]
    except ValidationError:
        return None
    from ..engine.dockerfiles.plan import DEFAULT_PREFIX  # the Dockerfile tools load on first use

    repo, _, folder = name.rpartition("/")
    if repo in {build.image_prefix, DEFAULT_PREFIX} and folder:
        return _folder(Path(folder), root, {})
    return None


def _folder(recorded: Path, root: Path, build_args: dict[str, str]) -> ImageSource:
    """The recorded folder where it still is, else the folder of that name under dockerfiles/."""
    candidates = [recorded] if recorded.is_absolute() else []
    for candidate in (*candidates, root / recorded.name):
        if (candidate / "Dockerfile").is_file():
            return ImageSource(str(candidate.resolve()), build_args, True)
    return ImageSource(recorded.name, build_args, False)


def _build_args(stored: str) -> dict[str, str]:
    try:
        value = json.loads(stored or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _recorded() -> dict[str, int]:
    row = Setting.get_or_none(Setting.key == REBUILDS_KEY)
    try:
        value = json.loads(row.value) if row is not None else {}
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _record(ref: str, build_id: int) -> None:
    value = _recorded() | {ref: build_id}
    Setting.insert(key=REBUILDS_KEY, value=json.dumps(value)).on_conflict_replace().execute()


def forget_rebuilds() -> None:
    """Once every restored notebook is back: the record of rebuilds has served."""
    Setting.delete().where(Setting.key == REBUILDS_KEY).execute()


def build_tail(build: Build) -> str:
    """The last lines of a build's log (its error when the log has none), on one line."""
    lines = [event.text.strip() for event in read_log(Path(build.log_path)) if event.text.strip()] \
        if build.log_path else []
    tail = lines[-TAIL_LINES:]
    if build.error and build.error not in tail:
        tail.append(build.error)
    return " | ".join(tail or ["no output"]).rstrip(".")


@dataclass(frozen=True)
class RebuildNotice:
    """What reconcile says about one missing image: `waiting` when a rebuild runs (the notebooks
    are made again when it finishes), else a flag saying what to do."""

    waiting: bool
    text: str


class Rebuilds:
    """The image rebuilds of a disaster recovery: each started through `Images.build_image`, run
    by a worker thread that never blocks reconcile or the broker; `on_built` is called when one
    succeeds, `notify` (admins) when one fails. A failed rebuild is not retried by itself (the
    admin fixes it and builds by hand); one whose process died is."""

    def __init__(self, images: Images, notify: Callable[[str], None], keep_process_alive: bool) -> None:
        self.images = images
        self._notify = notify
        self._keep_process_alive = keep_process_alive  # an embedded reconcile's process waits for them
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}

    def request(self, actor: Actor, ref: str, registered: Image | None, notebooks: int,
                on_built: Callable[[], None]) -> RebuildNotice:
        """Start (or report) the rebuild of the missing image `ref` that `notebooks` notebooks need."""
        config = self.images.config.build
        count = f"{notebooks} notebook{'s' if notebooks != 1 else ''}"
        with self._lock:
            build = Build.get_or_none(Build.id == _recorded().get(ref, 0))
            running = self._threads.get(ref)
            if (running is not None and running.is_alive()) or (
                    build is not None and build.status == "running"
                    and workers.in_progress("build", build.id, build.worker)):
                number = f" (build #{build.id})" if build is not None else ""
                return RebuildNotice(True, f"image {ref} is still being rebuilt{number} for {count}; "
                                           "they are made again when it finishes")
            source = image_source(ref, registered, config)
            if build is not None and build.status in ("failed", "cancelled") and build.error != INTERRUPTED:
                folder = Path(source.folder).name if source is not None else "FOLDER"
                return RebuildNotice(
                    False,
                    f"rebuilding its image {ref} failed (build #{build.id}): "
                    f"{build_tail(build)}. Fix that, build it with `ipynbsrv-tui images "
                    f"build {folder} --tag {ref}`, then reconcile again",
                )
            if source is None:
                return RebuildNotice(
                    False,
                    f"its image {ref} is not on this engine and nothing records a "
                    "Dockerfile for it (a commit or snapshot of a notebook, or an image "
                    "pulled or imported by hand): load it here (`docker save` on the old "
                    "host, `docker load` on this one), then reconcile again",
                )
            if not source.present:
                return RebuildNotice(
                    False,
                    f"its image {ref} is not on this engine and its source folder "
                    f"{source.folder}/ is gone from {config.dockerfiles}/: put the folder "
                    "back (from the old host or the project's dockerfiles/) and reconcile "
                    "again, or load the image (`docker load`)",
                )
            try:
                handle = self.images.build_image(actor, source.folder, tag=ref, build_args=source.build_args)
            except IpynbsrvError as exc:
                return RebuildNotice(False, f"its image {ref} cannot be rebuilt from "
                                            f"{Path(source.folder).name}/: {exc}")
            _record(ref, handle.build_id)
            thread = threading.Thread(target=self._run, args=(handle, ref, on_built),
                                      name=f"rebuild-{handle.build_id}", daemon=not self._keep_process_alive)
            self._threads[ref] = thread
            thread.start()
        return RebuildNotice(True, f"rebuilding image {ref} for {count} (build #{handle.build_id}, from "
                                   f"{Path(source.folder).name}/); they are made again when it finishes")

    def wait(self, timeout: float | None = None) -> None:
        """Until the rebuilds this process started have ended (tests, an embedded reconcile)."""
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def _run(self, handle: BuildHandle, ref: str, on_built: Callable[[], None]) -> None:
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        try:
            for event in handle:
                if event.text.strip():
                    tail.append(event.text.strip())
        except Exception as exc:  # the engine failed mid-build: the handle marked the build failed
            tail.append(str(exc))
            Build.update(error=str(exc)).where(Build.id == handle.build_id).execute()  # what reconcile shows
        summary = handle.summary
        if summary is None or summary.status is not BuildStatus.SUCCEEDED:
            message = (
                f"Rebuilding image {ref} after the restore failed (build #{handle.build_id}): "
                f"{(' | '.join(tail) or (summary.error if summary else '') or 'no output').rstrip('.')}. "
                "Its notebooks stay in the store; fix the build and build it by hand, then reconcile "
                "again."
            )
            log.warning("%s", message)
            self._notify(message)
            return
        try:
            Image.update(docker_id=summary.image_id or self.images.engine.image(ref).id).where(
                Image.ref == ref).execute()
            on_built()
        except Exception:
            log.exception("making the notebooks of %s again after its rebuild failed", ref)
