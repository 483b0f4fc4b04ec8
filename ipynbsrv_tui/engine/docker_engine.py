"""The single-host engine: notebooks are containers of one Docker Engine (DESIGN §5)."""

from __future__ import annotations

import dataclasses
import gzip
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from .. import validation
from ..domain import (
    Conflict,
    ContainerInfo,
    ContainerSpec,
    ContainerStats,
    ImageInfo,
    NodeView,
    ValidationError,
)
from .builds import BuildStream
from .convert import container_info, container_row, container_stats, create_arguments, image_info
from .errors import engine_call, engine_url, image_missing, translate, unavailable
from .events import MANAGED_FILTERS, EventStream
from .logs import LogFollower, plain_lines
from .streams import ClosableStream

MANAGED_LABEL = "ipynbsrv.managed=true"
_CONNECT_ERRORS = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)


DANGLING_WAIT = 20.0


NO_NODES = ('There are nodes only in swarm mode: this installation runs notebooks on one Docker '
            'Engine ([engine] mode = "docker").')


class DockerEngine:
    """The `Engine` contract (engine/protocol.py) on one Docker Engine. Every method raises domain
    errors (EngineUnavailable, ImageMissing, NotFound, PortInUse, NameInUse, EngineError, Conflict
    for what only a swarm does), never docker.errors.*."""

    mode: Literal["docker"] = "docker"

    def __init__(self, client: docker.DockerClient, url: str = "") -> None:
        self.client = client
        self.url = engine_url(url)

    @classmethod
    def connect(cls, url: str = "", timeout: int = 120) -> DockerEngine:
        """Connect to `url` ("" = from the environment, DOCKER_HOST) and check that the engine answers."""
        address = engine_url(url)
        try:
            if url:
                client = docker.DockerClient(base_url=url, version="auto", timeout=timeout)
            else:
                client = docker.from_env(version="auto", timeout=timeout)
        except _CONNECT_ERRORS as exc:
            raise unavailable(address, exc) from exc
        engine = cls(client, address)
        engine.ping()
        return engine

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()

    def ping(self) -> None:
        try:
            self.client.ping()
        except _CONNECT_ERRORS as exc:
            raise unavailable(self.url, exc) from exc

    def version(self) -> dict[str, Any]:
        """The engine's version and API version: {"version": "20.10.24", "api": "1.41"}."""
        with self._call("report its version"):
            raw = self.client.version()
        return {"version": raw.get("Version", ""), "api": raw.get("ApiVersion", "")}

    # ------------------------------------------------------------------ builds

    def build(
        self,
        context: str | os.PathLike[str],
        tag: str,
        buildargs: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        dockerfile: str = "Dockerfile",
        nocache: bool = False,
        network_mode: str | None = None,
    ) -> BuildStream:
        """Start building `context` as `tag`; iterate the returned stream to follow the build."""
        validation.image_reference(tag)
        folder = Path(context)
        if not (folder / dockerfile).is_file():
            raise ValidationError(
                f"{folder / dockerfile} does not exist: a build needs a folder with a {dockerfile}."
            )
        started = time.monotonic()
        with self._call("start the build of", tag):
            chunks = self.client.api.build(
                path=str(folder),
                tag=tag,
                dockerfile=dockerfile,
                buildargs=dict(buildargs or {}),
                labels=dict(labels or {}),
                nocache=nocache,
                network_mode=network_mode,
                decode=True,
                rm=True,
                forcerm=True,
                pull=False,
            )
        return BuildStream(chunks, tag, buildargs=buildargs, url=self.url, started=started,
                           on_cancelled=self._remove_dangling_later)

    def _remove_dangling_later(self, layers: list[str]) -> None:
        """After a cancelled build, remove its leftovers once the engine has stopped the interrupted
        step's container."""
        threading.Thread(target=self.remove_leftover_images, args=(layers,), kwargs={"wait": DANGLING_WAIT},
                         name="ipynbsrv-build-cleanup", daemon=True).start()

    def remove_leftover_images(self, image_ids: Sequence[str], labels: dict[str, str] | None = None,
                               wait: float = 0.0) -> list[str]:
        """Remove build leftovers (untagged, no child images, no other installation's label) and
        their untagged parents no other image needs; retries up to `wait` s while a container uses
        one. Returns those still present that a later call may remove."""
        deadline = time.monotonic() + wait
        pending = list(dict.fromkeys(image_ids))
        while True:
            pending = [image for image in pending if self._remove_leftover(image, labels or {}) is None]
            if not pending or time.monotonic() >= deadline:
                return pending
            time.sleep(0.5)

    def _remove_leftover(self, image: str, labels: dict[str, str]) -> bool | None:
        """True: gone. False: not a leftover, never to be removed. None: try again later."""
        try:
            attrs = self.client.api.inspect_image(image)
            own = (attrs.get("Config") or {}).get("Labels") or {}
            if attrs.get("RepoTags") or attrs.get("RepoDigests"):
                return False
            if any(key in own and own[key] != value for key, value in labels.items()):
                return False
            self.client.api.remove_image(image, noprune=False)
            return True
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError as exc:
            # 409 "being used by … container": later. 409 "dependent child images": a parent of a
            # kept image (a stage another stage builds on, or the result's own chain): never.
            return False if exc.status_code == 409 and "child images" in str(exc) else None
        except _CONNECT_ERRORS:
            return None

    # ------------------------------------------------------------------ images

    def images(self, managed_only: bool = False) -> list[ImageInfo]:
        filters = {"label": MANAGED_LABEL} if managed_only else None
        with self._call("list images"):
            rows = self.client.api.images(filters=filters)
        return [image_info(row) for row in rows]

    def image(self, ref: str) -> ImageInfo:
        """The image `ref` (ImageMissing when it is not on the engine)."""
        with self._call("inspect image", ref):
            return image_info(self.client.api.inspect_image(ref))

    def image_exists(self, ref: str) -> bool:
        try:
            self.client.api.inspect_image(ref)
        except docker.errors.NotFound:
            return False
        except _CONNECT_ERRORS as exc:
            raise translate(exc, "inspect image", ref, self.url) from exc
        return True

    def remove_image(self, ref: str, force: bool = False) -> None:
        with self._call("remove image", ref):
            self.client.api.remove_image(ref, force=force)

    def tag_image(self, source: str, ref: str) -> None:
        repository, tag = validation.split_reference(ref)
        with self._call("tag image", source):
            self.client.api.tag(source, repository, tag)

    def publish_image(self, ref: str, progress: Callable[[str], object] | None = None) -> str:
        """On one host the engine that builds an image runs its notebooks: `ref` as it is (it must exist)."""
        self.image(ref)
        return ref

    # ------------------------------------------------------------------ containers

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        """Create (not start) a container exactly as `spec` says."""
        try:
            container = self.client.containers.create(**create_arguments(spec))
        except docker.errors.ImageNotFound as exc:
            raise image_missing(spec.image) from exc
        except _CONNECT_ERRORS as exc:
            raise translate(exc, "create container", spec.name, self.url) from exc
        return container_info(container.attrs)

    def start(self, container_id: str) -> None:
        with self._call("start container", container_id):
            self.client.api.start(container_id)

    def stop(self, container_id: str, timeout: int = 10) -> None:
        """SIGTERM (the image's stop signal), then SIGKILL after `timeout` seconds."""
        with self._call("stop container", container_id):
            self.client.api.stop(container_id, timeout=timeout)

    def restart(self, container_id: str, timeout: int = 10) -> None:
        with self._call("restart container", container_id):
            self.client.api.restart(container_id, timeout=timeout)

    def pause(self, container_id: str) -> None:
        with self._call("pause container", container_id):
            self.client.api.pause(container_id)

    def unpause(self, container_id: str) -> None:
        with self._call("resume container", container_id):
            self.client.api.unpause(container_id)

    def remove(self, container_id: str, force: bool = True) -> None:
        """Remove the container; one that is already gone, or that the engine is removing already
        (a stopped build's step container), is not an error."""
        try:
            self.client.api.remove_container(container_id, force=force)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc.explanation or ""):
                return
            raise translate(exc, "remove container", container_id, self.url) from exc
        except _CONNECT_ERRORS as exc:
            raise translate(exc, "remove container", container_id, self.url) from exc

    def commit(
        self, container_id: str, ref: str, labels: dict[str, str] | None = None, pause: bool = True
    ) -> str:
        """Save the container's file system as image `ref` (labels added to the container's); returns the
        image id."""
        repository, tag = validation.split_reference(ref)
        conf = {"Labels": dict(labels)} if labels else None
        with self._call("commit container", container_id):
            result = self.client.api.commit(
                container_id, repository=repository, tag=tag, conf=conf, pause=pause
            )
        return str(result.get("Id", ""))

    def remake(
        self, container_id: str, spec: ContainerSpec, keep_as: str
    ) -> tuple[ContainerInfo, str | None]:
        """Commit the container's writable layer as `keep_as`, remove it and create it again from
        that image as `spec` says (a new container id): its own files outside the mounts stay."""
        labels = {"ipynbsrv.kept-from": spec.labels.get("ipynbsrv.container", "")}
        if "ipynbsrv.instance" in spec.labels:  # so that reconcile finds this installation's leftovers only
            labels["ipynbsrv.instance"] = spec.labels["ipynbsrv.instance"]
        self.commit(container_id, keep_as, labels=labels)
        self.remove(container_id, force=True)
        return self.create(dataclasses.replace(spec, image=keep_as)), keep_as

    def mount_targets(self, container_id: str) -> list[str]:
        with self._call("inspect container", container_id):
            attrs = self.client.api.inspect_container(container_id)
        return [str(m.get("Destination", "")) for m in attrs.get("Mounts") or ()]

    def export(self, container_id: str, target: Path) -> Path:
        """`docker export` of the container into a gzip'd tar at `target` (mode 0600)."""
        with self._call("export container", container_id):
            stream = self.client.api.export(container_id)
            write_archive(stream, target)
        return target

    def inspect(self, container_id: str) -> ContainerInfo:
        with self._call("inspect container", container_id):
            return container_info(self.client.api.inspect_container(container_id))

    def list_managed(
        self, owner: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerInfo]:
        """Every container labelled ipynbsrv.managed=true (and ipynbsrv.owner=`owner`, and `labels`),
        in one request. Ports are filled in only for running containers; `inspect` also gives a stopped one's.
        """
        wanted = dict(labels or {}) | ({"ipynbsrv.owner": owner} if owner else {})
        selectors = [MANAGED_LABEL] + [f"{key}={value}" for key, value in wanted.items()]
        with self._call("list containers"):
            rows = self.client.api.containers(all=True, filters={"label": selectors})
        return [container_row(row) for row in rows]

    def logs(self, container_id: str, tail: int | None = 200, timestamps: bool = False) -> list[str]:
        """The last `tail` lines (None = all) of the container's output, as plain text."""
        with self._call("read the logs of container", container_id):
            data = self.client.api.logs(
                container_id, tail="all" if tail is None else tail, timestamps=timestamps
            )
        return plain_lines(data)

    def follow_logs(self, container_id: str, tail: int = 100, timestamps: bool = False) -> LogFollower:
        """The last `tail` lines, then new ones as they come, until closed or the container ends;
        with `timestamps` each line starts with the engine's RFC 3339 time of it."""
        with self._call("follow the logs of container", container_id):
            stream = self.client.api.logs(
                container_id, stream=True, follow=True, tail=tail, timestamps=timestamps
            )
        return LogFollower(stream)

    def stats(self, container_id: str) -> ContainerStats:
        """One sample of CPU, memory and pids use."""
        with self._call("read the statistics of container", container_id):
            raw = self.client.api.stats(container_id, stream=False)
        return container_stats(raw)

    def memory_usage(self, container_id: str) -> int:
        """Bytes of memory the container uses now (one quick sample, without the CPU pair)."""
        with self._call("read the memory use of container", container_id):
            raw = self.client.api.stats(container_id, stream=False, one_shot=True)
        return container_stats(raw).memory_bytes

    def events(self, since: float | None = None, labels: dict[str, str] | None = None) -> ClosableStream:
        """Events of managed containers (also carrying `labels`) from `since` (epoch seconds; None = from
        now on)."""
        filters: dict[str, str | list[str]] = dict(MANAGED_FILTERS)
        if labels:
            filters["label"] = [MANAGED_FILTERS["label"]] + [
                f"{key}={value}" for key, value in labels.items()
            ]
        return EventStream(self.client.api, since=since, filters=filters, url=self.url)

    def exec(self, container_id: str, command: list[str], user: str | None = None) -> tuple[int, str]:
        """Run `command` in the running container; returns (exit code, combined output)."""
        with self._call("run a command in container", container_id):
            created = self.client.api.exec_create(container_id, command, user=user or "")
            output = self.client.api.exec_start(created["Id"])
            code = self.client.api.exec_inspect(created["Id"]).get("ExitCode")
        text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else str(output)
        return (code if isinstance(code, int) else -1), text

    # ------------------------------------------------------------------ swarm only

    def nodes(self, with_notebooks: bool = True) -> list[NodeView]:
        raise Conflict(NO_NODES)

    def set_availability(self, name: str, availability: str) -> NodeView:
        raise Conflict(NO_NODES)

    def probe_data_root(self, root: str, image: str, timeout: float = 60) -> list[tuple[str, bool, str]]:
        raise Conflict("The [data] root probe is for swarm mode, where notebooks run on other nodes: on one "
                       "host the data root is this host's folder.")

    # ------------------------------------------------------------------ internals

    def _call(self, action: str, subject: str = "") -> AbstractContextManager[None]:
        return engine_call(action, subject, self.url)


def write_archive(chunks: Any, target: Path) -> None:
    """Write an engine's tar stream (`chunks` of bytes) gzip'd to `target`, readable by its owner only."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out,
    ):  # a whole file system: fast beats small
        for chunk in chunks:
            out.write(chunk)
    os.chmod(target, 0o600)
