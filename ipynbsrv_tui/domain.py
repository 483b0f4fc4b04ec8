"""Plain dataclasses, enums and errors that cross layers.

Nothing here talks to Docker, LDAP, the database or the screen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

# --------------------------------------------------------------------------- errors


class IpynbsrvError(Exception):
    """Base of every error we show to a person: the message says what happened and what to do."""


class ConfigError(IpynbsrvError):
    """config.toml could not be read or holds a wrong value."""


class ValidationError(IpynbsrvError):
    """A value typed by a person is not acceptable (name, port, size, reference)."""


class NotFound(IpynbsrvError):
    """The thing asked for does not exist (or is not visible to the actor)."""


class AlreadyExists(IpynbsrvError):
    """A thing with that name exists already."""


class NotAuthorized(IpynbsrvError):
    """The actor may not do this (DESIGN §8)."""


class Conflict(IpynbsrvError):
    """The action cannot be done in the current state (e.g. an image still used)."""


class EngineError(IpynbsrvError):
    """The Docker Engine refused or failed a request."""


class EngineUnavailable(EngineError):
    """The Docker Engine cannot be reached."""


class ImageMissing(EngineError):
    """An image is not present on the engine (and cannot be pulled here)."""


class PortInUse(EngineError):
    """A host port is already taken."""


class NameInUse(EngineError):
    """A container name is already taken on the engine."""


class DirectoryError(IpynbsrvError):
    """The user directory (LDAP or local) refused or failed a request."""


class DirectoryUnavailable(DirectoryError):
    """The LDAP server cannot be reached."""


class InvalidCredentials(DirectoryError):
    """A bind or login failed because of a wrong name or password."""


# --------------------------------------------------------------------------- builds


class BuildEventKind(enum.StrEnum):
    """What a line of a build log is."""

    STEP = "step"
    OUTPUT = "output"
    STDERR = "stderr"
    TOLERATED = "tolerated"
    ERROR = "error"
    RESULT = "result"


@dataclass(frozen=True, slots=True)
class BuildEvent:
    """One classified item of a build's stream.

    `text` is plain text (ANSI stripped), never markup. `image_id` is set on RESULT,
    `exit_code` on ERROR when the failing RUN step reported one.
    """

    kind: BuildEventKind
    text: str
    step: int | None = None
    total_steps: int | None = None
    exit_code: int | None = None
    image_id: str | None = None


class BuildStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class BuildSummary:
    """How a finished build ended."""

    status: BuildStatus
    image_id: str | None
    exit_code: int | None
    error: str | None
    tolerated: int
    warnings: int
    lines: int
    seconds: float


# --------------------------------------------------------------------------- containers


class ContainerState(enum.StrEnum):
    """Docker's container states, plus `missing` for a store row with no engine object."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    DEAD = "dead"
    REMOVING = "removing"
    MISSING = "missing"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str | None) -> ContainerState:
        try:
            return cls(value or "unknown")
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Mount:
    """A bind mount from the host into a container."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything the engine needs to create a notebook container."""

    name: str
    image: str
    labels: dict[str, str]
    environment: dict[str, str]
    mounts: tuple[Mount, ...] = ()
    command: str | None = None
    notebook_port: int = 8888
    host_port: int | None = None
    bind_address: str = "127.0.0.1"
    public_ports: dict[int, int] = field(default_factory=dict)  # container port -> host port
    memory_bytes: int | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = None
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What the engine says about one container."""

    id: str
    name: str
    image: str
    state: ContainerState
    labels: dict[str, str]
    ports: dict[str, int]  # "8888/tcp" -> host port
    created: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None

    @property
    def owner(self) -> str | None:
        return self.labels.get("ipynbsrv.owner")

    @property
    def store_id(self) -> int | None:
        raw = self.labels.get("ipynbsrv.container")
        return int(raw) if raw and raw.isdigit() else None


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """One sample of a container's resource use."""

    cpu_percent: float
    memory_bytes: int
    memory_limit: int
    pids: int


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """A Docker event about a managed object."""

    action: str
    container_id: str
    name: str
    labels: dict[str, str]
    time: float

    @property
    def store_id(self) -> int | None:
        raw = self.labels.get("ipynbsrv.container")
        return int(raw) if raw and raw.isdigit() else None


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An image present on the engine."""

    id: str
    tags: tuple[str, ...]
    labels: dict[str, str]
    size: int
    created: datetime | None = None


# --------------------------------------------------------------------------- directory


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A person as the directory knows them."""

    username: str
    uid: int
    gid: int
    display_name: str = ""
    email: str = ""
    home: str = ""
    active: bool = True
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """A POSIX group as the directory knows it."""

    name: str
    gid: int
    members: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling the service: resolved from the login (embedded) or SO_PEERCRED (broker)."""

    username: str
    uid: int
    is_admin: bool
    groups: tuple[str, ...] = ()
