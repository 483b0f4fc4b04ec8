"""The engine contract (DESIGN §5, §15): what the service may ask of an engine, in either mode.

`DockerEngine` (one host) and `SwarmEngine` (services on a swarm) implement it; the service
uses nothing else (an import-linter contract in pyproject.toml keeps docker-py and the engines'
modules out of it), and mypy checks both engines and the tests' fake against it.

Every call raises domain errors, never docker-py's. Where a mode cannot do what is asked, the
engine refuses with `Conflict`, saying why and what to do instead; it never does the other mode's
thing. The "container id" is the engine's own id: a container's on one host, a service's on a swarm.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ..domain import (
    BuildEvent,
    BuildSummary,
    ContainerInfo,
    ContainerSpec,
    ContainerStats,
    EngineEvent,
    ImageInfo,
    NodeView,
)
from ..interface import Stream

Mode = Literal["docker", "swarm"]


class BuildRun(Protocol):
    """A running build: iterate it for BuildEvents; `cancel()` from any thread; `summary` at the end."""

    summary: BuildSummary | None

    def __iter__(self) -> Iterator[BuildEvent]: ...

    def cancel(self) -> None: ...

    @property
    def leftovers(self) -> list[str]:
        """The untagged images this build made that nothing will keep: the images of the stages
        before the last, and after a failure or a stop the last committed layer (latest first)."""
        ...


@runtime_checkable
class Engine(Protocol):
    """Everything the service asks of an engine. Implemented by DockerEngine and SwarmEngine."""

    url: str

    @property
    def mode(self) -> Mode:
        """"docker" (one host) or "swarm"."""
        ...

    def close(self) -> None: ...

    def ping(self) -> None: ...

    def version(self) -> dict[str, Any]: ...

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
    ) -> BuildRun: ...

    def images(self, managed_only: bool = False) -> list[ImageInfo]: ...

    def image(self, ref: str) -> ImageInfo: ...

    def image_exists(self, ref: str) -> bool: ...

    def remove_image(self, ref: str, force: bool = False) -> None: ...

    def tag_image(self, source: str, ref: str) -> None: ...

    def remove_leftover_images(self, image_ids: Sequence[str], labels: dict[str, str] | None = None,
                               wait: float = 0.0) -> list[str]:
        """Remove build leftovers `image_ids` (and their untagged parents no other image needs).

        An image that has a tag, has child images, or carries one of `labels`' keys with another
        value (another installation's) is not a leftover and is never touched. Waits up to `wait`
        seconds while a container still uses one. Returns those still present that a later call
        may remove (in use, or the engine did not answer)."""
        ...

    def publish_image(self, ref: str, progress: Callable[[str], object] | None = None) -> str:
        """Make image `ref` usable where notebooks run; the ref they use (one host: `ref` itself)."""
        ...

    # ------------------------------------------------------------------ notebooks

    def create(self, spec: ContainerSpec) -> ContainerInfo: ...

    def start(self, container_id: str) -> None: ...

    def stop(self, container_id: str, timeout: int = 10) -> None: ...

    def restart(self, container_id: str, timeout: int = 10) -> None: ...

    def pause(self, container_id: str) -> None: ...

    def unpause(self, container_id: str) -> None: ...

    def remove(self, container_id: str, force: bool = True) -> None: ...

    def remake(
        self, container_id: str, spec: ContainerSpec, keep_as: str
    ) -> tuple[ContainerInfo, str | None]:
        """Make the notebook again as `spec` says (new share mounts and groups). Returns its info and
        the image that now holds its own files, when the engine kept them as image `keep_as`
        (one host: a commit of the writable layer; a swarm updates the service in place and keeps none)."""
        ...

    def mount_targets(self, container_id: str) -> list[str]:
        """Where the notebook's bind mounts appear inside it, as its engine object says now."""
        ...

    def commit(
        self, container_id: str, ref: str, labels: dict[str, str] | None = None, pause: bool = True
    ) -> str: ...

    def export(self, container_id: str, target: Path) -> Path:
        """The notebook's file system as a gzip'd tar at `target` (mode 0600); returns `target`."""
        ...

    def inspect(self, container_id: str) -> ContainerInfo: ...

    def list_managed(
        self, owner: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerInfo]: ...

    def logs(self, container_id: str, tail: int | None = 200, timestamps: bool = False) -> list[str]: ...

    def follow_logs(self, container_id: str, tail: int = 100, timestamps: bool = False) -> Stream[str]: ...

    def stats(self, container_id: str) -> ContainerStats: ...

    def memory_usage(self, container_id: str) -> int: ...

    def events(
        self, since: float | None = None, labels: dict[str, str] | None = None
    ) -> Stream[EngineEvent]: ...

    def exec(self, container_id: str, command: list[str], user: str | None = None) -> tuple[int, str]: ...

    # ------------------------------------------------------------------ swarm nodes (refused on one host)

    def nodes(self, with_notebooks: bool = True) -> list[NodeView]: ...

    def set_availability(self, name: str, availability: str) -> NodeView: ...

    def probe_data_root(self, root: str, image: str, timeout: float = 60) -> list[tuple[str, bool, str]]: ...
