"""The unit tests' engine: an in-memory one that records what the service asks (no Docker Engine).

It implements the same `Engine` protocol as the real engines, and `make typecheck` checks it
against it (this file is in mypy's `files`; see `_conforms` at the end): a call the service
makes that the fake lacks, or makes with other arguments, fails the type check, not a test run.
One host's behaviour: a remake commits the writable layer; nodes are refused like DockerEngine's.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from ipynbsrv_tui import validation
from ipynbsrv_tui.domain import (
    Conflict,
    ContainerInfo,
    ContainerSpec,
    ContainerState,
    ContainerStats,
    EngineError,
    EngineEvent,
    ImageInfo,
    NodeView,
    NotFound,
)
from ipynbsrv_tui.engine.protocol import BuildRun, Engine


class ReplayedEvents(list[EngineEvent]):
    """An engine event stream that replays a fixed history and can be closed."""

    def close(self) -> None:
        self.clear()


class ClosedLines:
    """A log follow that has nothing to say and ends at once."""

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def close(self) -> None:
        return None


class RecordingEngine:
    """An in-memory engine; image refs are checked like Docker does."""

    mode: Literal["docker"] = "docker"
    url = "fake://engine"

    def __init__(self) -> None:
        self.stored: dict[str, str] = {}  # image ref -> the container it was committed from
        self.containers: dict[str, str] = {}  # id -> name
        self.specs_by_id: dict[str, ContainerSpec] = {}
        self.states: dict[str, ContainerState] = {}
        self.log_tails: list[int | None] = []
        self.history: list[EngineEvent] = []  # what `events(since=…)` replays
        self.memory: dict[str, int] = {}  # id -> bytes `memory_usage` reports (default 0)
        self.removed_leftovers: list[str] = []

    # ------------------------------------------------------------------ connection

    def close(self) -> None:
        return None

    def ping(self) -> None:
        return None

    def version(self) -> dict[str, Any]:
        return {"version": "fake", "api": "1.41"}

    # ------------------------------------------------------------------ images

    def build(
        self,
        context: str | os.PathLike[str],
        tag: str,
        buildargs: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        dockerfile: str = "Dockerfile",
        nocache: bool = False,
        network_mode: str | None = None,
    ) -> BuildRun:
        raise EngineError("The unit tests' engine builds nothing: build tests run on a real engine.")

    def images(self, managed_only: bool = False) -> list[ImageInfo]:
        return [self.image(ref) for ref in sorted(self.stored)]

    def image(self, ref: str) -> ImageInfo:
        return ImageInfo(
            id="sha256:" + hashlib.sha256(ref.encode()).hexdigest(), tags=(ref,), labels={}, size=1
        )

    def image_exists(self, ref: str) -> bool:
        return ref in self.stored

    def remove_image(self, ref: str, force: bool = False) -> None:
        self.stored.pop(ref, None)

    def remove_leftover_images(self, image_ids: Sequence[str], labels: dict[str, str] | None = None,
                               wait: float = 0.0) -> list[str]:
        """Leftovers are build products, and the fake builds nothing: each is gone already."""
        self.removed_leftovers.extend(image_ids)
        return []

    def tag_image(self, source: str, ref: str) -> None:
        validation.split_reference(ref)
        self.stored[ref] = self.stored.get(source, "")

    def publish_image(self, ref: str, progress: Callable[[str], object] | None = None) -> str:
        return ref

    # ------------------------------------------------------------------ notebooks

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        validation.image_reference(spec.image)
        if spec.name in self.containers.values():
            raise EngineError(f"The name {spec.name} is in use.")
        container_id = hashlib.sha256(f"{spec.name}{len(self.specs_by_id)}".encode()).hexdigest()
        self.containers[container_id] = spec.name
        self.specs_by_id[container_id] = spec
        self.states[container_id] = ContainerState.CREATED
        return self.inspect(container_id)

    def _known(self, container_id: str) -> None:
        if container_id not in self.containers:
            raise AssertionError(f"the engine was called with container id {container_id!r}")

    def _set(self, container_id: str, state: ContainerState) -> None:
        self._known(container_id)
        self.states[container_id] = state

    def start(self, container_id: str) -> None:
        self._set(container_id, ContainerState.RUNNING)

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._set(container_id, ContainerState.EXITED)

    def restart(self, container_id: str, timeout: int = 10) -> None:
        self._set(container_id, ContainerState.RUNNING)

    def pause(self, container_id: str) -> None:
        self._set(container_id, ContainerState.PAUSED)

    def unpause(self, container_id: str) -> None:
        self._set(container_id, ContainerState.RUNNING)

    def remove(self, container_id: str, force: bool = True) -> None:
        self.containers.pop(container_id, None)
        self.states.pop(container_id, None)

    def remake(
        self, container_id: str, spec: ContainerSpec, keep_as: str
    ) -> tuple[ContainerInfo, str | None]:
        self.commit(container_id, keep_as)
        self.remove(container_id)
        return self.create(dataclasses.replace(spec, image=keep_as)), keep_as

    def mount_targets(self, container_id: str) -> list[str]:
        self._known(container_id)
        return [mount.target for mount in self.specs_by_id[container_id].mounts]

    def commit(
        self, container_id: str, ref: str, labels: dict[str, str] | None = None, pause: bool = True
    ) -> str:
        self._known(container_id)
        validation.split_reference(ref)
        self.stored[ref] = container_id
        return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()

    def export(self, container_id: str, target: Path) -> Path:
        """A tar holding one file, /etc/hostname, with the container's name."""
        self._known(container_id)
        data = self.containers[container_id].encode()
        member = tarfile.TarInfo("etc/hostname")
        member.size = len(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(target, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            tar.addfile(member, io.BytesIO(data))
        target.chmod(0o600)
        return target

    def inspect(self, container_id: str) -> ContainerInfo:
        if container_id not in self.containers:
            raise NotFound(f"No such container: {container_id}")
        spec = self.specs_by_id[container_id]
        return ContainerInfo(
            container_id, spec.name, spec.image, self.states[container_id], dict(spec.labels), {}
        )

    def list_managed(
        self, owner: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerInfo]:
        wanted = dict(labels or {}) | ({"ipynbsrv.owner": owner} if owner else {})
        infos = [self.inspect(container_id) for container_id in self.containers]
        return [info for info in infos if wanted.items() <= info.labels.items()]

    def logs(self, container_id: str, tail: int | None = 200, timestamps: bool = False) -> list[str]:
        self._known(container_id)
        self.log_tails.append(tail)
        return []

    def follow_logs(self, container_id: str, tail: int = 100, timestamps: bool = False) -> ClosedLines:
        self._known(container_id)
        return ClosedLines()

    def stats(self, container_id: str) -> ContainerStats:
        self._known(container_id)
        return ContainerStats(
            0.0, self.memory.get(container_id, 0), self.specs_by_id[container_id].memory_bytes or 0, 1
        )

    def memory_usage(self, container_id: str) -> int:
        self._known(container_id)
        return self.memory.get(container_id, 0)

    def events(self, since: float | None = None, labels: dict[str, str] | None = None) -> ReplayedEvents:
        return ReplayedEvents(self.history)

    def exec(self, container_id: str, command: list[str], user: str | None = None) -> tuple[int, str]:
        self._known(container_id)
        if self.states[container_id] is not ContainerState.RUNNING:
            raise Conflict(f"Container {container_id[:12]} is not running.")
        return 0, ""

    # ------------------------------------------------------------------ swarm nodes: refused, as on one host

    def nodes(self, with_notebooks: bool = True) -> list[NodeView]:
        raise Conflict("There are nodes only in swarm mode.")

    def set_availability(self, name: str, availability: str) -> NodeView:
        raise Conflict("There are nodes only in swarm mode.")

    def probe_data_root(self, root: str, image: str, timeout: float = 60) -> list[tuple[str, bool, str]]:
        raise Conflict("The [data] root probe is for swarm mode.")


def _conforms(engine: RecordingEngine) -> Engine:
    """mypy's check that the fake is an Engine (never called)."""
    return engine
