"""Translation between the engine's JSON and the domain dataclasses."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from docker.types import Mount as DockerMount

from ..domain import ContainerInfo, ContainerSpec, ContainerState, ContainerStats, EngineEvent, ImageInfo
from .hardening import DROPPED_CAPABILITIES, KEPT_CAPABILITIES, SECURITY_OPTIONS

# Attributes the engine puts next to the labels in an event's Actor.
_EVENT_ATTRIBUTES = {"name", "image", "exitCode", "signal", "execID", "execDuration"}
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_time(value: Any) -> datetime | None:
    """An engine timestamp (RFC 3339 with nanoseconds, or epoch seconds) as an aware datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC) if value > 0 else None
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    found = _ISO.match(value)
    if not found:
        return None
    fraction = (found.group(2) or "")[:6].ljust(6, "0")
    zone = found.group(3) or "Z"
    return datetime.fromisoformat(f"{found.group(1)}.{fraction}{'+00:00' if zone == 'Z' else zone}")


def _host_ports(bindings: dict[str, Any] | None) -> dict[str, int]:
    ports: dict[str, int] = {}
    for container_port, hosts in (bindings or {}).items():
        for host in hosts or ():
            raw = str(host.get("HostPort") or "")
            if raw.isdigit() and int(raw) > 0:
                ports[container_port] = int(raw)
                break
    return ports


def container_info(attrs: dict[str, Any]) -> ContainerInfo:
    """ContainerInfo from `inspect` output. Ports are the published ones, else the requested bindings."""
    config = attrs.get("Config") or {}
    state = attrs.get("State") or {}
    ports = _host_ports((attrs.get("NetworkSettings") or {}).get("Ports"))
    if not ports:
        ports = _host_ports((attrs.get("HostConfig") or {}).get("PortBindings"))
    exit_code = state.get("ExitCode")
    return ContainerInfo(
        id=attrs.get("Id", ""),
        name=str(attrs.get("Name", "")).lstrip("/"),
        image=config.get("Image", ""),
        state=ContainerState.parse(state.get("Status")),
        labels=dict(config.get("Labels") or {}),
        ports=ports,
        created=parse_time(attrs.get("Created")),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        exit_code=exit_code if isinstance(exit_code, int) else None,
    )


def container_row(row: dict[str, Any]) -> ContainerInfo:
    """ContainerInfo from one row of the container list (one request for all; ports only while published)."""
    ports: dict[str, int] = {}
    for port in row.get("Ports") or ():
        if port.get("PublicPort"):
            ports.setdefault(f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}", int(port["PublicPort"]))
    names = row.get("Names") or [""]
    return ContainerInfo(
        id=row.get("Id", ""),
        name=str(names[0]).lstrip("/"),
        image=row.get("Image", ""),
        state=ContainerState.parse(row.get("State")),
        labels=dict(row.get("Labels") or {}),
        ports=ports,
        created=parse_time(row.get("Created")),
    )


def image_info(attrs: dict[str, Any]) -> ImageInfo:
    """ImageInfo from `inspect` output or from a row of the image list."""
    labels = attrs.get("Labels")
    if labels is None:
        labels = (attrs.get("Config") or {}).get("Labels")
    tags = tuple(tag for tag in attrs.get("RepoTags") or () if tag != "<none>:<none>")
    return ImageInfo(
        id=attrs.get("Id", ""),
        tags=tags,
        labels=dict(labels or {}),
        size=int(attrs.get("Size") or 0),
        created=parse_time(attrs.get("Created")),
    )


def engine_event(raw: dict[str, Any]) -> EngineEvent | None:
    """EngineEvent from a decoded `/events` item (None for anything that is not about a container)."""
    if raw.get("Type", "container") != "container":
        return None
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    nanos = raw.get("timeNano")
    when = nanos / 1e9 if isinstance(nanos, int) else float(raw.get("time") or 0)
    return EngineEvent(
        action=str(raw.get("Action") or raw.get("status") or ""),
        container_id=str(actor.get("ID") or raw.get("id") or ""),
        name=str(attributes.get("name", "")),
        labels={k: v for k, v in attributes.items() if k not in _EVENT_ATTRIBUTES},
        time=when,
    )


def container_stats(raw: dict[str, Any]) -> ContainerStats:
    """ContainerStats from one `stats(stream=False)` sample; CPU % from the pre/cur cpu_stats pair."""
    cpu = raw.get("cpu_stats") or {}
    pre = raw.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    percent = cpu_delta / system_delta * online * 100.0 if cpu_delta > 0 and system_delta > 0 else 0.0
    memory = raw.get("memory_stats") or {}
    details = memory.get("stats") or {}
    cache = details.get("total_inactive_file", details.get("inactive_file", details.get("cache", 0)))
    return ContainerStats(
        cpu_percent=round(percent, 2),
        memory_bytes=max(0, int(memory.get("usage", 0)) - int(cache or 0)),
        memory_limit=int(memory.get("limit", 0)),
        pids=int((raw.get("pids_stats") or {}).get("current", 0)),
    )


def create_arguments(spec: ContainerSpec) -> dict[str, Any]:
    """Keyword arguments for `client.containers.create` that apply `spec` faithfully."""
    ports: dict[str, Any] = {f"{spec.notebook_port}/tcp": (spec.bind_address, spec.host_port)}
    for container_port, host_port in spec.public_ports.items():
        ports[f"{container_port}/tcp"] = (spec.bind_address, host_port)  # never all interfaces (DESIGN §5)
    arguments: dict[str, Any] = {
        "image": spec.image,
        "name": spec.name,
        "labels": dict(spec.labels),
        "environment": dict(spec.environment),
        "mounts": [DockerMount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts],
        "ports": ports,
        "security_opt": list(SECURITY_OPTIONS),
        "cap_drop": list(DROPPED_CAPABILITIES),
        "cap_add": list(KEPT_CAPABILITIES),
        "detach": True,
    }
    optional = {
        "command": spec.command,
        "mem_limit": spec.memory_bytes,
        "nano_cpus": spec.nano_cpus,
        "pids_limit": spec.pids_limit,
        "hostname": spec.hostname,
        "group_add": [str(gid) for gid in spec.group_add] or None,
    }
    arguments.update({key: value for key, value in optional.items() if value is not None})
    return arguments
