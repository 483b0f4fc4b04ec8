"""The service interface, written once (DESIGN §3, §13): what the UI may ask, in both modes.

`ServiceCalls` declares every call with full annotations. The embedded `service.Session` and the
broker's `RemoteSession` implement it; the broker dispatches through it and checks argument types
from these annotations. `CALLS` (the call names, streaming ones marked) is derived from it, so
adding a call means declaring it here, writing the use case on `NotebookService` (the actor
first) and its one-line forwarder on `service.Session`; mypy and the tests point at whatever is
missing.

Client mode imports this module (beside `domain`): keep it stdlib-only and cheap. Annotations
are evaluated at import on purpose (no `from __future__ import annotations`): the broker and the
derivation below read them as types.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, Unpack, get_origin, get_type_hints

from .domain import (
    Actor,
    BackupEntry,
    BackupReport,
    BackupRestore,
    BackupSnapshot,
    BackupStatus,
    BuildEvent,
    BuildSummary,
    BuildView,
    CollabGroupView,
    ConnectionInfo,
    ContainerChange,
    ContainerStats,
    ContainerView,
    DeleteShareReport,
    DeleteUserReport,
    GroupView,
    Health,
    ImageChanges,
    ImageDefaults,
    ImageInfo,
    ImageView,
    KeptView,
    NodeView,
    NotificationView,
    ReconcileReport,
    ShareChange,
    ShareView,
    SnapshotView,
    SuspendedMemory,
    SyncReport,
    UserView,
)

T_co = TypeVar("T_co", covariant=True)


class Stream(Protocol[T_co]):
    """The result of a streaming call: iterate it for items; `close()` from any thread ends it."""

    def __iter__(self) -> Iterator[T_co]: ...

    def close(self) -> None: ...


class BuildStream(Protocol):
    """A running build: iterate it for BuildEvents; `cancel()` stops it, `summary` is set at the end."""

    @property
    def build_id(self) -> int | None: ...

    @property
    def summary(self) -> BuildSummary | None: ...

    def __iter__(self) -> Iterator[BuildEvent]: ...

    def cancel(self) -> None: ...


STREAM_TYPES: tuple[type, ...] = (Stream, BuildStream)


class ServiceCalls(Protocol):
    """Every service call, as the UI makes it: the actor is the session's (DESIGN §8)."""

    # ------------------------------------------------------------------ containers

    def list_containers(self, owner: str | None = None) -> list[ContainerView]: ...

    def get_container(self, container_id: int) -> ContainerView: ...

    def connection_info(self, container_id: int) -> ConnectionInfo: ...

    def container_logs(self, container_id: int, tail: int = 500) -> list[str]: ...

    def follow_logs(self, container_id: int, tail: int = 200, timestamps: bool = False) -> Stream[str]: ...

    def container_stats(self, container_id: int) -> ContainerStats: ...

    def list_snapshots(self, container_id: int) -> list[SnapshotView]: ...

    def create_container(
        self,
        name: str,
        image: str,
        description: str = "",
        memory: str | None = None,
        cpus: float | None = None,
        owner: str | None = None,
        start: bool = True,
    ) -> ContainerView: ...

    def start_container(self, container_id: int) -> ContainerView: ...

    def stop_container(self, container_id: int) -> ContainerView: ...

    def restart_container(self, container_id: int) -> ContainerView: ...

    def suspend_container(self, container_id: int) -> ContainerView: ...

    def resume_container(self, container_id: int) -> ContainerView: ...

    def resume_suspended(self) -> list[ContainerView]: ...

    def suspended_memory(self) -> SuspendedMemory: ...

    def stop_suspended(self) -> list[str]: ...

    def probe_starting(self) -> list[int]: ...

    def delete_container(self, container_id: int) -> None: ...

    def clone_container(self, container_id: int, new_name: str) -> ContainerView: ...

    def snapshot_container(self, container_id: int, name: str, description: str = "") -> SnapshotView: ...

    def recreate_container(self, container_id: int) -> ContainerView: ...

    def restore_snapshot(self, container_id: int, snapshot_id: int) -> ContainerView: ...

    def delete_snapshot(self, container_id: int, snapshot_id: int) -> None: ...

    def commit_container(
        self, container_id: int, image_name: str, description: str = "", is_public: bool = False
    ) -> ImageView: ...

    # ------------------------------------------------------------------ images

    def list_images(self, include_retired: bool = True) -> list[ImageView]: ...

    def usable_images(self) -> list[ImageView]: ...

    def engine_images(self) -> list[ImageInfo]: ...

    def image_defaults(self, ref: str) -> ImageDefaults: ...

    def register_image(
        self,
        name: str,
        ref: str,
        description: str = "",
        command: str = "",
        notebook_port: int = 8888,
        public_ports: str | tuple[int, ...] = (),
        is_public: bool = True,
        access_groups: tuple[str, ...] | list[str] = (),
        memory: str = "",
        cpus: float | None = None,
        source_folder: str = "",
    ) -> ImageView: ...

    def update_image(self, name: str, **changes: Unpack[ImageChanges]) -> ImageView: ...

    def retire_image(self, name: str, retired: bool = True) -> ImageView: ...

    def delete_image(self, name: str, check_only: bool = False) -> None: ...

    def dockerfile_folders(self) -> list[str]: ...

    def build_image(
        self,
        folder: str,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> BuildStream: ...

    def build_plan(
        self,
        folder: str,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> list[str]: ...

    def build_defaults(self, folder: str) -> dict[str, str]: ...

    def list_builds(self, limit: int = 100) -> list[BuildView]: ...

    def build_log(self, build_id: int, limit: int | None = None) -> list[BuildEvent]: ...

    # ------------------------------------------------------------------ users and groups

    def list_users(self, query: str = "") -> list[UserView]: ...

    def get_user(self, username: str) -> UserView: ...

    def create_user(
        self, username: str, password: str, display_name: str = "", email: str = "", is_admin: bool = False,
        uid: int | None = None, gid: int | None = None,
    ) -> UserView: ...

    def set_password(self, username: str, password: str) -> None: ...

    def set_admin(self, username: str, is_admin: bool) -> UserView: ...

    def set_active(self, username: str, active: bool) -> UserView: ...

    def delete_user(
        self, username: str, containers: str = "delete", data: str = "archive"
    ) -> DeleteUserReport: ...

    def sync_users(self) -> SyncReport: ...

    def list_groups(self) -> list[GroupView]: ...

    def create_group(self, name: str, description: str = "") -> GroupView: ...

    def add_member(self, group: str, username: str) -> None: ...

    def remove_member(self, group: str, username: str) -> None: ...

    # ------------------------------------------------------------------ collaboration (DESIGN §14)

    def collab_groups(self, query: str = "") -> list[CollabGroupView]: ...

    def collab_group(self, name: str) -> CollabGroupView: ...

    def create_collab_group(
        self, name: str, public: bool = False, description: str = ""
    ) -> CollabGroupView: ...

    def delete_collab_group(self, name: str) -> None: ...

    def add_collab_member(self, group: str, username: str, admin: bool = False) -> CollabGroupView: ...

    def remove_collab_member(
        self, group: str, username: str, admin_only: bool = False
    ) -> CollabGroupView: ...

    def join_group(self, group: str) -> CollabGroupView: ...

    def leave_group(self, group: str) -> None: ...

    def list_shares(self, query: str = "") -> list[ShareView]: ...

    def get_share(self, name: str) -> ShareView: ...

    def create_share(self, name: str, description: str = "") -> ShareView: ...

    def delete_share(self, name: str, data: str = "archive") -> DeleteShareReport: ...

    def grant_share(self, share: str, group: str) -> ShareChange: ...

    def revoke_share(self, share: str, group: str) -> ShareChange: ...

    def share_image(self, image: str, group: str) -> ShareChange: ...

    def unshare_image(self, image: str, group: str) -> ShareChange: ...

    def list_kept(self) -> list[KeptView]: ...

    def purge_kept(self, name: str) -> KeptView: ...

    def list_notifications(self, unread_only: bool = False, query: str = "") -> list[NotificationView]: ...

    def send_notification(
        self, group: str, message: str, kind: str = "misc", target: str = ""
    ) -> NotificationView: ...

    def mark_read(self, notification_id: int | None = None) -> int: ...

    def unread_count(self) -> int: ...

    def mute(self, what: str, name: str, undo: bool = False) -> list[str]:
        """Stop (`undo`: resume) notifications from a user ("user": their messages and the notices of
        what they did) or to a group ("group"); the session's mutes as `user:NAME` / `group:NAME`."""
        ...

    def list_mutes(self) -> list[str]: ...

    # ------------------------------------------------------------------ live

    def watch_containers(self, since: float | None = None) -> Stream[ContainerChange]: ...

    def watch_rights(self) -> Stream[Actor]:
        """The session's Actor now, then each time its rights change; ends with RightsChanged when refused."""
        ...

    def reconcile(self) -> ReconcileReport: ...

    def health(self) -> Health: ...

    # ------------------------------------------------------------------ swarm nodes (DESIGN §15)

    def list_nodes(self) -> list[NodeView]: ...

    def drain_node(self, node: str) -> NodeView: ...

    def activate_node(self, node: str) -> NodeView: ...

    # ------------------------------------------------------------------ backups (DESIGN §17)

    def backup_init(self) -> str: ...

    def backup_run(self) -> BackupReport: ...

    def backup_status(self) -> BackupStatus: ...

    def backup_snapshots(self) -> list[BackupSnapshot]: ...

    def backup_files(self, snapshot: str = "latest", path: str = "") -> list[BackupEntry]: ...

    def backup_restore(self, path: str, snapshot: str = "latest") -> BackupRestore: ...


class ServiceSession(ServiceCalls, Protocol):
    """What the UI holds in either mode: the calls, who they run as, and the mode's name."""

    @property
    def actor(self) -> Actor: ...

    @property
    def mode(self) -> str: ...

    def adopt_rights(self, actor: Actor) -> None:
        """Show and act as `actor` from now on (what `watch_rights` reported)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Call:
    """One call of the interface: its name, its declaration, and whether its result is streamed."""

    name: str
    declaration: Callable[..., Any]
    stream: bool


def _is_stream(annotation: object) -> bool:
    origin = get_origin(annotation) or annotation
    return isinstance(origin, type) and any(base in STREAM_TYPES for base in origin.__mro__)


def derive_calls(interface: type) -> dict[str, Call]:
    """The calls a Protocol declares (public methods, in order), each marked streaming or not."""
    calls: dict[str, Call] = {}
    for klass in reversed(interface.__mro__):
        if klass in (Protocol, Generic, object):
            continue
        for name, value in vars(klass).items():
            if callable(value) and not name.startswith("_"):
                returns = getattr(value, "__annotations__", {}).get("return")
                if isinstance(returns, str):  # declared under `from __future__ import annotations`
                    returns = get_type_hints(value).get("return")
                calls[name] = Call(name, value, _is_stream(returns))
    return calls


CALLS: dict[str, Call] = derive_calls(ServiceCalls)
STREAM_CALLS: frozenset[str] = frozenset(name for name, call in CALLS.items() if call.stream)
