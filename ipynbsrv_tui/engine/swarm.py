"""The Swarm adapter (DESIGN §15): every notebook is a one-replica service on a Swarm manager.

`SwarmEngine` implements the `Engine` contract (engine/protocol.py) by composition: it holds the
manager's `DockerEngine` (images, builds) and the engines of the nodes, and inherits none of them,
so nothing it does not say itself silently does the single-host thing. The "container id" the
service stores is the service id. Start and stop scale the service to 1 and 0, restart is a forced
update, and what Swarm has no verb for (pause, commit, stats, exec, export) goes to the engine of
the node running the task: the manager itself, or one named in `[swarm] node_engines`; without
one, the call is refused (Conflict) saying what to configure.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal

import docker
import docker.errors
from docker.types import EndpointSpec, Resources, RestartPolicy, ServiceMode
from docker.types import Mount as DockerMount

from .. import validation
from ..config import Config
from ..domain import (
    Conflict,
    ContainerInfo,
    ContainerSpec,
    ContainerState,
    ContainerStats,
    EngineError,
    EngineUnavailable,
    ImageInfo,
    IpynbsrvError,
    NodeView,
    NotFound,
    Placement,
    PortInUse,
)
from .builds import BuildStream
from .convert import parse_time
from .docker_engine import _CONNECT_ERRORS, MANAGED_LABEL, DockerEngine
from .errors import engine_call, translate
from .hardening import DROPPED_CAPABILITIES, KEPT_CAPABILITIES
from .logs import LogFollower, plain_lines
from .streams import ClosableStream
from .swarm_events import SwarmEventStream

# Task states on the way to running; anything after running is an ended task.
_STARTING = {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
_ENDED_BADLY = {"failed", "rejected"}
_POLL = 0.05
PROBE_TIMEOUT = 3  # seconds for a node engine's answer while listing (pause states)
Json = dict[str, Any]  # one object of the engine's JSON answers


def check_data_root(config: Config, image: str) -> list[tuple[str, str]]:
    """`check-config` in swarm mode: (level, message) lines of the data-root probe on every node,
    run with `image` (a registered notebook image: one the nodes need anyway)."""
    try:
        engine = SwarmEngine.from_config(config)
    except IpynbsrvError as exc:
        return [("error", str(exc))]
    try:
        results = engine.probe_data_root(config.data.root, image)
    except IpynbsrvError as exc:
        return [("error", f"the [data] root probe failed: {exc}")]
    finally:
        engine.close()
    return [
        ("ok" if ok else "error", f"[data] root on node {node}: {reason}") for node, ok, reason in results
    ]


def node_name(node: Json) -> str:
    """What people call a node: its `ipynbsrv.node` label, else its hostname."""
    labels = (node.get("Spec") or {}).get("Labels") or {}
    return str(labels.get("ipynbsrv.node") or (node.get("Description") or {}).get("Hostname", "")
               or node.get("ID", "")[:12])


def node_address(node: Json) -> str:
    address = (node.get("Status") or {}).get("Addr", "")
    if address in ("", "0.0.0.0"):
        address = ((node.get("ManagerStatus") or {}).get("Addr", "")).rsplit(":", 1)[0]
    return str(address)


def node_view(node: Json, notebooks: Iterable[str] = ()) -> NodeView:
    spec = node.get("Spec") or {}
    description = node.get("Description") or {}
    return NodeView(
        id=node.get("ID", ""), hostname=description.get("Hostname", ""), role=spec.get("Role", ""),
        state=(node.get("Status") or {}).get("State", "unknown"), availability=spec.get("Availability", ""),
        address=node_address(node), labels=dict(spec.get("Labels") or {}), notebooks=tuple(sorted(notebooks)),
        engine_version=(description.get("Engine") or {}).get("EngineVersion", ""),
        leader=bool((node.get("ManagerStatus") or {}).get("Leader")),
    )


def current_task(tasks: list[Json]) -> Json | None:
    """The task that matters: the newest one meant to run, else the newest one at all."""
    ordered = sorted(tasks, key=lambda t: t.get("CreatedAt") or "", reverse=True)
    for task in ordered:
        if task.get("DesiredState") == "running":
            return task
    return ordered[0] if ordered else None


def service_info(
    service: Json, tasks: list[Json], nodes: dict[str, Json], paused: frozenset[str] | set[str] = frozenset()
) -> ContainerInfo:
    """ContainerInfo of one notebook service from the service, its tasks and the node list."""
    spec = service.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    replicas = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)
    task = current_task(tasks)
    status = (task or {}).get("Status") or {}
    task_state = status.get("State", "")
    container_status = status.get("ContainerStatus") or {}
    if replicas == 0:
        state = ContainerState.EXITED if tasks else ContainerState.CREATED
    elif task is None:
        state = ContainerState.RESTARTING
    elif task_state == "running":  # also a task being moved off a lost or drained node: it still runs there
        state = (
            ContainerState.PAUSED if container_status.get("ContainerID") in paused else ContainerState.RUNNING
        )
    elif task_state in _STARTING:
        state = ContainerState.RESTARTING
    else:
        state = ContainerState.EXITED
    ports: dict[str, int] = {}
    if state in (ContainerState.RUNNING, ContainerState.PAUSED):
        for port in (status.get("PortStatus") or {}).get("Ports") or ():
            if port.get("PublishedPort"):
                ports.setdefault(
                    f"{port['TargetPort']}/{port.get('Protocol', 'tcp')}", int(port["PublishedPort"])
                )
    if not ports:
        for port in (spec.get("EndpointSpec") or {}).get("Ports") or ():
            if port.get("PublishedPort"):
                ports.setdefault(
                    f"{port['TargetPort']}/{port.get('Protocol', 'tcp')}", int(port["PublishedPort"])
                )
    placement = None
    node_id = (task or {}).get("NodeID", "")
    if node_id and state is not ContainerState.EXITED:
        node = nodes.get(node_id, {})
        placement = Placement(
            node_id=node_id, node_name=node_name(node) if node else node_id[:12], address=node_address(node),
            lost=(node.get("Status") or {}).get("State") != "ready",
        )
    exit_code = container_status.get("ExitCode")
    return ContainerInfo(
        id=service.get("ID", ""),
        name=spec.get("Name", ""),
        image=str(container.get("Image", "")).split("@", 1)[0],
        state=state,
        labels=dict(spec.get("Labels") or {}),
        ports=ports,
        created=parse_time(service.get("CreatedAt")),
        started_at=parse_time(status.get("Timestamp")) if state is ContainerState.RUNNING else None,
        exit_code=exit_code if isinstance(exit_code, int) and state is ContainerState.EXITED else None,
        placement=placement,
    )


class SwarmEngine:
    """The `Engine` contract over Swarm services. `container_id` arguments are service ids."""

    mode: Literal["swarm"] = "swarm"

    def __init__(
        self,
        manager: DockerEngine,
        *,
        constraints: Iterable[str] = (),
        node_engines: dict[str, str] | None = None,
        registry: str = "",
        reserve: float = 0.25,
        start_timeout: float = 120,
        stop_timeout: int = 10,
        timeout: int = 120,
    ) -> None:
        self.manager = manager  # the manager's own engine: images, builds, and the tasks placed on it
        self.client: docker.DockerClient = manager.client
        self.url = manager.url
        self.constraints = tuple(constraints)
        self.node_engines = dict(node_engines or {})
        self.registry = registry
        self.reserve = reserve
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.timeout = timeout
        self._node_clients: dict[str, DockerEngine] = {}
        self._probe_clients: dict[str, DockerEngine] = {}
        self._pushed: dict[str, str] = {}  # image ref -> image id last pushed
        self._node_id: str | None = None

    @classmethod
    def connect_manager(cls, url: str = "", timeout: int = 120, **options: Any) -> SwarmEngine:
        """Connect to the Swarm manager at `url` (EngineUnavailable when it is not one)."""
        engine = cls(DockerEngine.connect(url, timeout=timeout), timeout=timeout, **options)
        with engine._call("read the swarm state of"):
            swarm = engine.client.info().get("Swarm") or {}
        if not swarm.get("ControlAvailable"):
            raise EngineUnavailable(
                f"The Docker Engine at {engine.url} is not a Swarm manager (swarm state: "
                f"{swarm.get('LocalNodeState') or 'inactive'}). Run `docker swarm init` there, "
                'point [docker] url at a manager, or set [engine] mode = "docker".'
            )
        engine._node_id = swarm.get("NodeID", "")
        return engine

    @classmethod
    def from_config(cls, config: Config) -> SwarmEngine:
        """The manager of `[docker] url` with the `[swarm]` and `[registry]` settings."""
        return cls.connect_manager(
            config.docker.url,
            timeout=config.docker.timeout,
            constraints=config.swarm.constraints,
            node_engines=config.swarm.node_engine_urls(),
            registry=config.registry.url,
            reserve=config.swarm.reserve,
            start_timeout=config.swarm.start_timeout,
            stop_timeout=config.notebooks.stop_timeout,
        )

    def close(self) -> None:
        for engine in [*self._node_clients.values(), *self._probe_clients.values()]:
            engine.close()
        self.manager.close()

    def ping(self) -> None:
        self.manager.ping()

    def version(self) -> dict[str, Any]:
        return self.manager.version()

    @property
    def node_id(self) -> str:
        """The manager's own node id."""
        if self._node_id is None:
            with self._call("read the swarm state of"):
                self._node_id = (self.client.info().get("Swarm") or {}).get("NodeID", "")
        return self._node_id

    # ------------------------------------------------------------------ nodes

    def nodes(self, with_notebooks: bool = True) -> list[NodeView]:
        """Every node, with the names of the managed notebooks whose tasks run there."""
        with self._call("list the swarm nodes"):
            nodes = self.client.api.nodes()
        on_node: dict[str, list[str]] = {}
        for info in self.list_managed() if with_notebooks else ():
            if info.placement is not None:
                on_node.setdefault(info.placement.node_id, []).append(
                    f"{info.owner or '?'}/{re.sub(r'^ipynbsrv-[^-]+-', '', info.name)}")
        return sorted(
            (node_view(n, on_node.get(n["ID"], ())) for n in nodes),
            key=lambda v: (v.role != "manager", v.name),
        )

    def find_node(self, name: str) -> Json:
        """The node called `name` (its ipynbsrv.node label, hostname or id); NotFound otherwise."""
        with self._call("list the swarm nodes"):
            nodes = self.client.api.nodes()
        keys: tuple[Callable[[Json], Any], ...] = (
            lambda n: n["ID"], lambda n: (n["Spec"].get("Labels") or {}).get("ipynbsrv.node"),
            lambda n: n["Description"].get("Hostname"),
        )
        for key in keys:
            found = [n for n in nodes if key(n) == name]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise Conflict(
                    f"{len(found)} nodes are called {name!r}: give the node id instead (`nodes list`)."
                )
        prefix = [n for n in nodes if n["ID"].startswith(name)] if len(name) >= 6 else []
        if len(prefix) == 1:
            return prefix[0]
        known = ", ".join(sorted(node_name(n) for n in nodes))
        raise NotFound(f"No swarm node is called {name!r}. Known nodes: {known}.")

    def set_availability(self, name: str, availability: str) -> NodeView:
        """Drain, pause or activate a node (Swarm moves a drained node's notebooks elsewhere)."""
        if availability not in ("active", "pause", "drain"):
            raise EngineError(f"Node availability must be active, pause or drain, not {availability!r}.")
        node = self.find_node(name)
        spec = dict(node["Spec"], Availability=availability)
        with self._call("change the availability of node", name):
            self.client.api.update_node(node["ID"], node["Version"]["Index"], spec)  # type: ignore[arg-type]
            node = self.client.api.inspect_node(node["ID"])
        return node_view(node)

    def _node_map(self) -> dict[str, Json]:
        with self._call("list the swarm nodes"):
            return {n["ID"]: n for n in self.client.api.nodes()}

    def node_engine(self, node_id: str, action: str) -> DockerEngine:
        """The engine of node `node_id`: the manager's own, or the one `[swarm] node_engines` names.

        Conflict, saying what to configure, when there is none.
        """
        if node_id == self.node_id:
            return self.manager
        node = self._node_map().get(node_id)
        names = [node_id] + (
            [node_name(node), (node.get("Description") or {}).get("Hostname", "")] if node else []
        )
        url = next((self.node_engines[n] for n in names if n and n in self.node_engines), None)
        label = names[1] if len(names) > 1 else node_id[:12]
        if url is None:
            raise Conflict(
                f"Cannot {action}: the notebook runs on node {label}, and Swarm has no verb for that. "
                f'Name that node\'s engine in [swarm] node_engines (e.g. "{label}=tcp://{label}:2376") '
                "to allow it."
            )
        if url not in self._node_clients:
            self._node_clients[url] = DockerEngine.connect(url, timeout=self.timeout)
        return self._node_clients[url]

    # ------------------------------------------------------------------ images (on the manager)

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
        """Build on the manager; `publish_image` then makes the image reachable from the nodes."""
        return self.manager.build(context, tag, buildargs=buildargs, labels=labels, dockerfile=dockerfile,
                                  nocache=nocache, network_mode=network_mode)

    def images(self, managed_only: bool = False) -> list[ImageInfo]:
        return self.manager.images(managed_only)

    def image(self, ref: str) -> ImageInfo:
        return self.manager.image(ref)

    def image_exists(self, ref: str) -> bool:
        return self.manager.image_exists(ref)

    def remove_image(self, ref: str, force: bool = False) -> None:
        self.manager.remove_image(ref, force=force)

    def tag_image(self, source: str, ref: str) -> None:
        self.manager.tag_image(source, ref)

    def remove_leftover_images(self, image_ids: Sequence[str], labels: dict[str, str] | None = None,
                               wait: float = 0.0) -> list[str]:
        """Builds run on the manager: their leftovers are there."""
        return self.manager.remove_leftover_images(image_ids, labels, wait)

    def publish_image(self, ref: str, progress: Callable[[str], object] | None = None) -> str:
        """Make image `ref` (on the manager) reachable from the nodes; returns the ref services use.

        With a registry it is tagged `<registry>/<ref>` and pushed; without one it is copied
        (save / load) to every node whose engine `[swarm] node_engines` names.
        """
        image_id = self.image(ref).id
        if self.registry:
            target = ref if ref.startswith(self.registry + "/") else f"{self.registry}/{ref}"
            if self._pushed.get(target) != image_id:
                self.tag_image(ref, target)
                self._push(self.manager, target)
                self._pushed[target] = image_id
            return target
        for node_id in self._node_map():
            if node_id == self.node_id:
                continue
            try:
                engine = self.node_engine(node_id, "copy an image")
            except Conflict:
                continue
            if not engine.image_exists(image_id):
                if progress:
                    progress(f"copying {ref} to node {node_id[:12]}")
                with self._call("copy image", ref):
                    engine.client.api.load_image(self.client.api.get_image(ref))
            engine.tag_image(image_id, ref)
        return ref

    def _push(self, engine: DockerEngine, target: str) -> None:
        repository, tag = validation.split_reference(target)
        with self._call("push image", target):
            for chunk in engine.client.api.push(repository, tag, stream=True, decode=True):
                if isinstance(chunk, dict) and chunk.get("error"):
                    raise EngineError(
                        f"Pushing {target} to the registry {self.registry} failed: {chunk['error']}. "
                        "Check that the registry runs and that every engine lists it in insecure-registries "
                        "(or trusts its certificate)."
                    )

    def _placement_constraints(self, image: str) -> list[str]:
        """Without a registry: keep services off the nodes that do not have the image."""
        constraints = list(self.constraints)
        if self.registry:
            return constraints
        for node_id in self._node_map():
            if node_id == self.node_id:
                continue
            try:
                engine = self.node_engine(node_id, "copy an image")
            except Conflict:
                constraints.append(f"node.id!={node_id}")
                continue
            if not engine.image_exists(image):
                constraints.append(f"node.id!={node_id}")
        return constraints

    # ------------------------------------------------------------------ services

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        """Create the notebook's service with no replica (start scales it to one)."""
        image = self.publish_image(spec.image)
        ports: list[Json] = [
            {
                "TargetPort": spec.notebook_port,
                "PublishedPort": spec.host_port,
                "Protocol": "tcp",
                "PublishMode": "host",
            }
        ]
        ports += [{"TargetPort": int(c), "PublishedPort": int(h), "Protocol": "tcp", "PublishMode": "host"}
                  for c, h in spec.public_ports.items()]
        resources = Resources(
            cpu_limit=spec.nano_cpus, mem_limit=spec.memory_bytes,
            cpu_reservation=int(spec.nano_cpus * self.reserve) if spec.nano_cpus else None,
            mem_reservation=int(spec.memory_bytes * self.reserve) if spec.memory_bytes else None,
        )
        if spec.pids_limit:
            resources.setdefault("Limits", {})["Pids"] = spec.pids_limit
        arguments: dict[str, Any] = {
            "name": spec.name,
            "labels": Json(spec.labels),
            "container_labels": Json(spec.labels),
            "env": [f"{key}={value}" for key, value in spec.environment.items()],
            "mounts": [
                DockerMount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts
            ],
            "resources": resources,
            "restart_policy": RestartPolicy(
                condition="on-failure", delay=2_000_000_000, max_attempts=3, window=60_000_000_000
            ),
            "constraints": self._placement_constraints(image),
            "endpoint_spec": EndpointSpec(ports=ports),
            "mode": ServiceMode("replicated", replicas=0),
            "stop_grace_period": self.stop_timeout * 1_000_000_000,
            "cap_drop": list(DROPPED_CAPABILITIES),
            "cap_add": list(KEPT_CAPABILITIES),
            "groups": [str(gid) for gid in spec.group_add],
        }
        if spec.command:  # Args, not Command: in a service spec Command replaces the image's ENTRYPOINT
            arguments["args"] = shlex.split(spec.command)
        if spec.hostname:
            arguments["hostname"] = spec.hostname
        try:
            service = self.client.services.create(image, **arguments)
        except _CONNECT_ERRORS as exc:
            raise translate(exc, "create service", spec.name, self.url) from exc
        return self.inspect(service.id)

    def start(self, container_id: str) -> None:
        """Scale to one and wait until the task runs (EngineError with Swarm's reason when it cannot)."""
        self._scale(container_id, 1)
        try:
            self._wait_running(container_id, exclude=set())
        except Exception:
            self._scale(container_id, 0)
            raise

    def stop(self, container_id: str, timeout: int = 10) -> None:
        """Scale to zero and wait until the task has ended (SIGTERM, then SIGKILL after the grace period)."""
        self._scale(container_id, 0)
        deadline = time.monotonic() + timeout + 30
        while time.monotonic() < deadline:
            if not any(t["Status"]["State"] in _STARTING | {"running"} for t in self._tasks(container_id)):
                return
            time.sleep(_POLL)
        raise EngineError(
            f"Service {container_id[:12]} did not stop within {timeout + 30} s. Try again, or remove it."
        )

    def restart(self, container_id: str, timeout: int = 10) -> None:
        """A forced update: Swarm replaces the task (a stopped notebook is simply started)."""
        with self._call("inspect service", container_id):
            service = self.client.api.inspect_service(container_id)
        replicas = ((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)
        if replicas == 0:
            self.start(container_id)
            return
        before = {t["ID"] for t in self._tasks(container_id)}
        template = dict(service["Spec"]["TaskTemplate"])
        template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
        with self._call("restart service", container_id):
            self.client.api.update_service(container_id, service["Version"]["Index"], task_template=template,
                                           fetch_current_spec=True)
        self._wait_running(container_id, exclude=before)

    def pause(self, container_id: str) -> None:
        engine, container = self._task_container(container_id, "suspend the notebook")
        engine.pause(container)

    def unpause(self, container_id: str) -> None:
        engine, container = self._task_container(container_id, "resume the notebook")
        engine.unpause(container)

    def remove(self, container_id: str, force: bool = True) -> None:
        """Remove the service (or a plain container of the manager); one already gone is not an error."""
        try:
            self.client.api.remove_service(container_id)
        except docker.errors.NotFound:
            self.manager.remove(container_id, force=force)  # a plain container of the manager, or nothing
        except _CONNECT_ERRORS as exc:
            raise translate(exc, "remove service", container_id, self.url) from exc

    def commit(
        self, container_id: str, ref: str, labels: dict[str, str] | None = None, pause: bool = True
    ) -> str:
        """Commit the task's container on its node, then bring the image to the manager."""
        engine, container = self._task_container(container_id, "commit the notebook")
        image_id = engine.commit(container, ref, labels=labels, pause=pause)
        if engine.client is self.client:
            return image_id
        if self.registry:
            target = f"{self.registry}/{ref}"
            engine.tag_image(ref, target)
            self._push(engine, target)
            repository, tag = validation.split_reference(target)
            with self._call("pull image", target):
                self.client.api.pull(repository, tag)
            self.tag_image(target, ref)
        else:
            with self._call("copy image", ref):
                self.client.api.load_image(engine.client.api.get_image(ref))
        return self.image(ref).id

    def inspect(self, container_id: str) -> ContainerInfo:
        """The notebook service `container_id`; a plain container of the manager (a build's step
        container, which reconcile cleans up) when no service has that id."""
        try:
            service = self.client.api.inspect_service(container_id)
        except docker.errors.NotFound:
            return self.manager.inspect(container_id)
        except _CONNECT_ERRORS as exc:
            raise translate(exc, "inspect service", container_id, self.url) from exc
        return service_info(service, self._tasks(service["ID"]), self._node_map(), self._paused())

    def list_managed(
        self, owner: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerInfo]:
        """Every managed notebook service with its current task, in three requests (plus one per node
        engine)."""
        wanted = dict(labels or {}) | ({"ipynbsrv.owner": owner} if owner else {})
        filters = [MANAGED_LABEL] + [f"{key}={value}" for key, value in wanted.items()]
        with self._call("list services"):
            services = self.client.api.services(filters={"label": filters})
            tasks = self.client.api.tasks() if services else []
            nodes = {n["ID"]: n for n in self.client.api.nodes()} if services else {}
        by_service: dict[str, list[Json]] = {}
        for task in tasks:
            by_service.setdefault(task.get("ServiceID", ""), []).append(task)
        paused = self._paused() if services else set()
        return [service_info(s, by_service.get(s["ID"], []), nodes, paused) for s in services]

    def logs(self, container_id: str, tail: int | None = 200, timestamps: bool = False) -> list[str]:
        with self._call("read the logs of service", container_id):
            data = self.client.api.service_logs(container_id, stdout=True, stderr=True, timestamps=timestamps,
                                                tail="all" if tail is None else str(tail))
            if not isinstance(data, bytes):
                data = b"".join(data)
        return plain_lines(data)

    def follow_logs(self, container_id: str, tail: int = 100, timestamps: bool = False) -> LogFollower:
        with self._call("follow the logs of service", container_id):
            stream = self.client.api.service_logs(
                container_id, stdout=True, stderr=True, follow=True, tail=str(tail), timestamps=timestamps
            )
        return LogFollower(stream)

    def stats(self, container_id: str) -> ContainerStats:
        engine, container = self._task_container(container_id, "read the statistics of the notebook")
        return engine.stats(container)

    def memory_usage(self, container_id: str) -> int:
        """Bytes the task's container uses now, read from its node's engine (a suspended one too)."""
        engine, container = self._task_container(container_id, "read the memory use of the notebook")
        return engine.memory_usage(container)

    def remake(
        self, container_id: str, spec: ContainerSpec, keep_as: str
    ) -> tuple[ContainerInfo, str | None]:
        """Update the service in place to `spec`'s mounts, groups and environment (same service id).

        Nothing is committed: a task's writable layer is never kept on a swarm (every start is a
        new task, DESIGN §15), so only the home and the shares hold a notebook's files.
        """
        with self._call("inspect service", container_id):
            service = self.client.api.inspect_service(container_id)
        template = dict(service["Spec"]["TaskTemplate"])
        template["ContainerSpec"] = dict(template.get("ContainerSpec") or {}) | {
            "Mounts": [
                DockerMount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts
            ],
            "Env": [f"{key}={value}" for key, value in spec.environment.items()],
            "Groups": [str(gid) for gid in spec.group_add],
        }
        with self._call("update service", container_id):
            self.client.api.update_service(container_id, service["Version"]["Index"], task_template=template,
                                           fetch_current_spec=True)
        return self.inspect(container_id), None

    def mount_targets(self, container_id: str) -> list[str]:
        """The bind mounts of the service's spec (what its next task gets)."""
        with self._call("inspect service", container_id):
            service = self.client.api.inspect_service(container_id)
        container = (service["Spec"].get("TaskTemplate") or {}).get("ContainerSpec") or {}
        return [str(m.get("Target", "")) for m in container.get("Mounts") or ()]

    def export(self, container_id: str, target: Path) -> Path:
        """Export the container of the service's newest task from its node (a stopped notebook's
        last task too, while its node keeps it); refused when no node engine holds one."""
        engine, container = self._task_container(container_id, "archive the notebook", running=False)
        return engine.export(container, target)

    def exec(self, container_id: str, command: list[str], user: str | None = None) -> tuple[int, str]:
        engine, container = self._task_container(container_id, "run a command in the notebook")
        return engine.exec(container, command, user=user)

    def events(self, since: float | None = None, labels: dict[str, str] | None = None) -> ClosableStream:
        """Changes of managed services and their tasks (placement, state, a lost node), as EngineEvents.

        Swarm keeps no event history of tasks, so there is no replay: `since` is accepted and the
        stream starts from the present (reconcile covers what happened before).
        """
        return SwarmEventStream(self, labels=labels)

    # ------------------------------------------------------------------ data root

    def probe_data_root(self, root: str, image: str, timeout: float = 60) -> list[tuple[str, bool, str]]:
        """Run a probe task on every node that proves `root` is the same folder there as here.

        The manager writes a random token into `root`; each node's task reads it through a bind
        mount of `root` and writes it back under its node id. Returns (node, ok, reason) per node.
        """
        folder = Path(root)
        if not folder.is_dir():
            return [("(this host)", False, f"[data] root {root} does not exist on this host")]
        token = secrets.token_hex(8)
        check = folder / f".ipynbsrv-probe-{token}"
        check.write_text(token)
        reference = self.publish_image(image)
        results: list[tuple[str, bool, str]] = []
        services: dict[str, tuple[str, str]] = {}
        try:
            for node_id, node in self._node_map().items():
                name = node_name(node)
                if node["Status"]["State"] != "ready":
                    results.append((name, False, f"node is {node['Status']['State']}"))
                    continue
                if node["Spec"].get("Availability") != "active":
                    results.append(
                        (name, False, f"node is {node['Spec'].get('Availability')}: activate it to probe")
                    )
                    continue
                script = (f'test "$(cat /probe/{check.name})" = {token} '
                          f'&& echo {token} > /probe/{check.name}-{node_id}')
                with self._call("start the data probe on node", name):
                    created = self.client.services.create(
                        reference,
                        command=["sh", "-c", script],
                        name=f"ipynbsrv-probe-{token}-{node_id[:12]}",
                        labels={"ipynbsrv.probe": token},
                        constraints=[f"node.id=={node_id}"],
                        mounts=[DockerMount("/probe", str(folder), type="bind")],
                        restart_policy=RestartPolicy(condition="none"),
                        mode=ServiceMode("replicated", replicas=1),
                    )
                services[node_id] = (created.id, name)
            deadline = time.monotonic() + timeout
            pending = dict(services)
            while pending and time.monotonic() < deadline:
                for node_id, (service_id, name) in list(pending.items()):
                    task = current_task(self._tasks(service_id))
                    state = ((task or {}).get("Status") or {}).get("State", "")
                    if state in _STARTING or state in ("", "running"):
                        continue
                    del pending[node_id]
                    ack = folder / f"{check.name}-{node_id}"
                    if state == "complete" and ack.is_file() and ack.read_text().strip() == token:
                        results.append((name, True, f"{root} is shared"))
                    elif state == "complete":
                        results.append(
                            (
                                name,
                                False,
                                f"the probe ran but its answer is not in {root} here: not the same folder",
                            )
                        )
                    else:
                        error = (task or {}).get("Status", {}).get("Err") or state
                        results.append((name, False, f"{root} is not the same folder there ({error})"))
                time.sleep(0.2)
            results.extend((name, False, f"the probe did not finish within {timeout:.0f} s")
                           for service_id, name in pending.values())
        finally:
            for service_id, _name in services.values():
                self.remove(service_id)
            for leftover in folder.glob(f"{check.name}*"):
                leftover.unlink(missing_ok=True)
        return sorted(results)

    # ------------------------------------------------------------------ internals

    def _call(self, action: str, subject: str = "") -> AbstractContextManager[None]:
        return engine_call(action, subject, self.url)

    def _scale(self, container_id: str, replicas: int) -> None:
        with self._call("scale service", container_id):
            service = self.client.api.inspect_service(container_id)
            self.client.api.update_service(
                container_id,
                service["Version"]["Index"],
                mode={"Replicated": {"Replicas": replicas}},
                fetch_current_spec=True,
            )

    def _tasks(self, service_id: str) -> list[Json]:
        with self._call("list the tasks of service", service_id):
            return list(self.client.api.tasks(filters={"service": service_id}))

    def _wait_running(self, service_id: str, exclude: set[str]) -> Json:
        deadline = time.monotonic() + self.start_timeout
        pending_since: float | None = None
        while True:
            every = self._tasks(service_id)
            tasks = [t for t in every if t["ID"] not in exclude]
            failed = [t for t in tasks if t["Status"]["State"] in _ENDED_BADLY]
            task = current_task([t for t in tasks if t["DesiredState"] == "running"])
            if task is not None and task["Status"]["State"] == "running":
                return task
            if (
                failed
                and task is None
                or (failed and task is not None and task["Status"]["State"] in _ENDED_BADLY)
            ):
                raise _task_error(failed[0])
            # A task of this service still stopping holds its host-mode port: Swarm places the new one
            # once it is down, so only a pending reason that outlasts it counts.
            stopping = any(t["DesiredState"] != "running" and t["Status"]["State"] in _STARTING | {"running"}
                           for t in every)
            if (
                task is not None
                and task["Status"]["State"] == "pending"
                and task["Status"].get("Err")
                and not stopping
            ):
                pending_since = pending_since or time.monotonic()
                if time.monotonic() - pending_since > 3:
                    raise EngineError(
                        f"Swarm cannot place the notebook: {task['Status']['Err']}. Check the nodes "
                        f"(`ipynbsrv-tui nodes list`) and [swarm] constraints {list(self.constraints)}."
                    )
            if time.monotonic() > deadline:
                state = task["Status"]["State"] if task else "no task"
                raise EngineError(
                    f"The notebook's task did not run within {self.start_timeout:.0f} s (it is {state}). "
                    "Raise [swarm] start_timeout, or look at `docker service ps` on the manager."
                )
            time.sleep(_POLL)

    def _task_container(self, service_id: str, action: str, running: bool = True) -> tuple[DockerEngine, str]:
        """The engine and container id of the service's running task (`running=False`: of its
        newest task that has a container, running or ended)."""
        if running:
            tasks = [t for t in self._tasks(service_id) if t["DesiredState"] == "running"
                     and t["Status"]["State"] == "running"]
        else:
            tasks = [
                t
                for t in self._tasks(service_id)
                if (t["Status"].get("ContainerStatus") or {}).get("ContainerID")
            ]
        if not tasks:
            raise Conflict(
                f"Cannot {action}: it is not running."
                if running
                else f"Cannot {action}: Swarm keeps no container of it on any node (it never ran, or its "
                "tasks were pruned). Its home and shares are on the data root."
            )
        task = current_task(tasks) or tasks[0]
        container = ((task["Status"].get("ContainerStatus") or {}).get("ContainerID")) or ""
        if not container:
            raise NotFound(f"Cannot {action}: Swarm does not report the task's container yet. Try again.")
        return self.node_engine(task["NodeID"], action), container

    def _paused(self) -> set[str]:
        """Ids of paused managed containers on the manager and on every node engine we know."""
        engines = [self.manager]
        for url in self.node_engines.values():
            try:
                if url not in self._probe_clients:  # a short timeout: a lost node must not stall the list
                    self._probe_clients[url] = DockerEngine.connect(url, timeout=PROBE_TIMEOUT)
                engines.append(self._probe_clients[url])
            except EngineError:
                continue  # a lost node: its notebooks show as lost, not as failures of the list
        paused: set[str] = set()
        for engine in engines:
            try:
                rows = engine.client.api.containers(filters={"label": MANAGED_LABEL, "status": "paused"})
            except _CONNECT_ERRORS:
                continue
            paused.update(row["Id"] for row in rows)
        return paused


def _task_error(task: Json) -> EngineError:
    message = task["Status"].get("Err") or task["Status"].get("Message") or task["Status"]["State"]
    if "port" in message and ("already" in message or "in use" in message):
        return PortInUse(
            f"Cannot start the notebook: {message}. Free that port on the node, or re-create the notebook."
        )
    return EngineError(f"Swarm could not run the notebook: {message}.")
