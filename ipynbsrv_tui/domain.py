"""Plain dataclasses, enums and errors that cross layers.

Nothing here talks to Docker, LDAP, the database or the screen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

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


class RightsChanged(NotAuthorized):
    """The session's rights changed while it was open (admin revoked, account disabled or deleted)."""


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


class StoreError(IpynbsrvError):
    """The SQLite store cannot be opened, created or upgraded (or is newer than this program)."""


class StoreBusy(StoreError):
    """Another process held the database's write lock longer than busy_timeout; nothing was written."""


class RateLimited(IpynbsrvError):
    """Too many messages, or changes that notify others, in a short time; nothing was done (try later)."""


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
    """Docker's container states, plus `missing` for a store row with no engine object, and
    `starting` for one the engine runs whose notebook does not answer yet (DESIGN §5)."""

    CREATED = "created"
    STARTING = "starting"
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
    group_add: tuple[int, ...] = ()  # supplementary gids (the owner's share groups)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a swarm-mode notebook's task runs: its node, the node's address, and whether the node is lost."""

    node_id: str
    node_name: str = ""
    address: str = ""
    lost: bool = False


@dataclass(frozen=True, slots=True)
class NodeView:
    """A swarm node as the Nodes section shows it (DESIGN §15)."""

    id: str
    hostname: str
    role: str
    state: str
    availability: str
    address: str
    labels: dict[str, str] = field(default_factory=dict)
    notebooks: tuple[str, ...] = ()
    engine_version: str = ""
    leader: bool = False

    @property
    def name(self) -> str:
        """What people call the node: its `ipynbsrv.node` label, else its hostname."""
        return self.labels.get("ipynbsrv.node") or self.hostname


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What the engine says about one container (in swarm mode: one service and its task)."""

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
    placement: Placement | None = None

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
    placement: Placement | None = None

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

    @property
    def is_directory_user(self) -> bool:
        """False for root (uid 0): it administers everything but owns nothing (no notebook, image,
        group or share of its own), so what makes something of one's own is refused to it."""
        return self.uid != 0


# --------------------------------------------------------------------------- service views


@dataclass(frozen=True, slots=True)
class ContainerView:
    """A notebook container as the UI shows it. `token` and `url` are None for viewers who may not see
    them."""

    id: int
    name: str
    owner: str
    image: str
    image_ref: str
    state: ContainerState
    host_port: int
    description: str = ""
    url: str | None = None
    token: str | None = None
    docker_id: str = ""
    created: datetime | None = None
    started_at: datetime | None = None
    last_activity: datetime | None = None
    clone_of: str | None = None
    memory_limit: int = 0
    cpus: float = 0.0
    public_ports: dict[str, int] = field(default_factory=dict)
    ready: bool = False  # the notebook answers `BASE_URL/api/status`: its URL and tunnel work now
    node: str = ""  # swarm mode: the node the notebook runs on ("" in docker mode)
    node_lost: bool = False  # swarm mode: that node stopped answering the manager

    @property
    def up(self) -> bool:
        """The engine runs it (the notebook may still be starting)."""
        return self.state in (ContainerState.STARTING, ContainerState.RUNNING)


@dataclass(frozen=True, slots=True)
class CullReport:
    """One round of idle culling: who was suspended or stopped, and why (`owner/name: reason`)."""

    checked: int = 0
    suspended: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SuspendedMemory:
    """The memory held by suspended (paused) notebooks: how many, and the bytes they use."""

    count: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class ContainerChange:
    """A live change of one container: `view` is None when it was deleted, and then `owner` says
    whose it was (the broker routes a deletion to its owner even before it saw the container)."""

    container_id: int
    action: str
    view: ContainerView | None
    owner: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """How the owner reaches a notebook: URL with token, the ssh tunnel command for a laptop, and
    the browser address when web access is on (DESIGN §16; "" when it is off)."""

    url: str
    token: str
    host_port: int
    tunnel_command: str
    local_url: str
    web_url: str = ""


@dataclass(frozen=True, slots=True)
class SnapshotView:
    """A snapshot of a container."""

    id: int
    container_id: int
    name: str
    image_ref: str
    description: str = ""
    created: datetime | None = None


class ImageChanges(TypedDict, total=False):
    """What `update_image` may change on a registered image; a key left out stays as it is."""

    ref: str
    description: str
    command: str
    notebook_port: int
    public_ports: str | tuple[int, ...]
    is_public: bool
    access_groups: tuple[str, ...] | list[str]
    memory: str
    cpus: float | None


@dataclass(frozen=True, slots=True)
class ImageView:
    """A registered image as the UI shows it."""

    name: str
    ref: str
    description: str = ""
    command: str = ""
    notebook_port: int = 8888
    public_ports: tuple[int, ...] = ()
    owner: str | None = None
    is_public: bool = False
    access_groups: tuple[str, ...] = ()
    memory: str = ""
    cpus: float | None = None
    retired: bool = False
    docker_id: str = ""
    containers: int = 0
    last_build_status: str | None = None
    source_folder: str = ""
    # The most memory / CPUs the viewer may give a container of this image ("" / None = any: admins).
    max_memory: str = ""
    max_cpus: float | None = None


@dataclass(frozen=True, slots=True)
class ImageDefaults:
    """Registration defaults read from an engine image's ipynbsrv.* labels (DESIGN §6)."""

    ref: str
    name: str = ""
    description: str = ""
    command: str = ""
    notebook_port: int = 8888
    public_ports: tuple[int, ...] = ()
    registrable: bool = True
    docker_id: str = ""


@dataclass(frozen=True, slots=True)
class BuildView:
    """One build in the history."""

    id: int
    image_ref: str
    context: str
    status: BuildStatus
    started: datetime | None = None
    finished: datetime | None = None
    image_id: str = ""
    exit_code: int | None = None
    error: str = ""
    tolerated: int = 0
    warnings: int = 0
    lines: int = 0
    actor: str = ""
    build_args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserView:
    """A directory user as the UI shows it (read from the store mirror)."""

    username: str
    uid: int
    gid: int
    display_name: str = ""
    email: str = ""
    is_admin: bool = False
    active: bool = True
    source: str = "local"
    containers: int = 0
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group and its members."""

    name: str
    gid: int
    kind: str = "collaboration"
    members: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class CollabGroupView:
    """A collaboration group as its viewer may see it (DESIGN §14)."""

    name: str
    gid: int
    creator: str = ""
    is_public: bool = False
    is_personal: bool = False
    members: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    shares: tuple[str, ...] = ()  # shares granted to the group (those the viewer may see)
    description: str = ""
    is_member: bool = False
    can_manage: bool = False


@dataclass(frozen=True, slots=True)
class ShareView:
    """A shared folder and who may use it; `path` is where containers see it."""

    name: str
    owner: str
    group: str
    gid: int
    description: str = ""
    grants: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    path: str = ""
    can_manage: bool = False
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class ShareChange:
    """What a share change did, and what it needs to reach running containers."""

    share: str
    group: str
    notified: tuple[str, ...] = ()  # users a notification went to
    restart_needed: tuple[str, ...] = ()  # running containers that see the change at their next start
    note: str = ""


@dataclass(frozen=True, slots=True)
class DeleteShareReport:
    """What deleting a share did with its folder."""

    share: str
    data: str
    archived: str = ""
    removed: str = ""
    kept: str = ""
    restart_needed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeptView:
    """A folder kept after its share, group or user was deleted (admins only; DESIGN §14): out of
    every namespace under the data root's archive, with the ids retired while it exists."""

    name: str  # its folder name under archive/kept, e.g. "share-oldproj-20261206-201500"
    path: str
    owner: str = ""  # what it belonged to, e.g. "share oldproj"
    ids: tuple[str, ...] = ()  # the retired ids its files may carry, e.g. ("gid 3105",)
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class NotificationView:
    """One notification in the viewer's inbox."""

    id: int
    sender: str  # "" = the system
    message: str
    kind: str = "misc"
    target: str = ""
    groups: tuple[str, ...] = ()
    created: datetime | None = None
    read: bool = False
    repeats: int = 1  # the same system notification, coalesced: how many times it happened


@dataclass(frozen=True, slots=True)
class Health:
    """What the header shows: engine and directory reachability, and whether the user list is stale."""

    mode: str
    host: str
    engine_ok: bool
    engine_detail: str
    directory_ok: bool
    directory_detail: str
    directory_synced_at: datetime | None = None
    directory_stale: bool = False
    backup_problem: str = ""  # admins only: a failed or late backup (DESIGN §17)


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What a reconcile found and did."""

    checked: int
    repaired: tuple[str, ...] = ()
    flagged: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DeleteUserReport:
    """What happened to a deleted user's containers, images and data."""

    username: str
    containers: str
    data: str
    archived: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


# --------------------------------------------------------------------------- base images


class BootstrapError(EngineError):
    """A base image could not be made with debootstrap (not root, no debootstrap, no mirror, a failed run)."""


class WheelhouseError(IpynbsrvError):
    """The Python wheels of an image folder could not be prepared on the host (`pip download`)."""


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync changed in the store: usernames added, updated and deactivated, and problems.

    `errors` holds one message per user or group that could not be mirrored (the rest were).
    """

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deactivated: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    groups: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        text = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.deactivated)} deactivated, "
            f"{self.groups} groups in {self.seconds:.2f} s"
        )
        if self.errors:
            text += f"; {len(self.errors)} not mirrored: " + "; ".join(self.errors[:3])
        return text


# --------------------------------------------------------------------------- backups (DESIGN §17)


class BackupError(IpynbsrvError):
    """restic failed (repository unreachable, wrong password, busy, …); the message is restic's own."""


@dataclass(frozen=True, slots=True)
class BackupSnapshot:
    """One backup run as a user sees it: when, and its id (nothing about what else it holds)."""

    id: str
    short_id: str
    time: datetime


@dataclass(frozen=True, slots=True)
class BackupEntry:
    """A file, folder or link in a snapshot, named by the path the user knows (`/home/alice/x`)."""

    path: str
    name: str
    kind: str  # "file", "dir", "symlink" or "other"
    size: int = 0
    mtime: datetime | None = None
    link_target: str = ""


@dataclass(frozen=True, slots=True)
class BackupRestore:
    """Where a restore put things: `target` holds `path` as it was in the snapshot."""

    path: str
    snapshot: str
    snapshot_time: datetime
    target: str
    files: int
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What one backup run did."""

    snapshot: str
    files_new: int
    files_changed: int
    bytes_added: int
    seconds: float
    forgotten: int = 0
    checked: bool = False


@dataclass(frozen=True, slots=True)
class BackupStatus:
    """The state of backups for the admin header and `backup status`."""

    enabled: bool
    repository: str = ""
    schedule: str = ""
    running: bool = False
    last_run: datetime | None = None
    last_success: datetime | None = None
    last_check: datetime | None = None
    last_error: str = ""
    late: bool = False
    next_run: datetime | None = None
