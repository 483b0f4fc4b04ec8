"""NotebookService: every use case, each taking an explicit actor (DESIGN §3, §8).

The one place where the service's parts meet. It builds the ports once (`base.Ports`: the
configuration, the `Engine` protocol, the directory, host data, audit and change notices) and
the use-case components, handing each the components it declares in its constructor; then it
answers every call of the service by delegating to the component that owns it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Unpack

from ..config import Config
from ..directory.base import Directory
from ..domain import (
    Actor,
    BackupEntry,
    BackupReport,
    BackupRestore,
    BackupSnapshot,
    BackupStatus,
    BuildEvent,
    BuildView,
    CollabGroupView,
    ConnectionInfo,
    ContainerStats,
    ContainerView,
    CullReport,
    DeleteShareReport,
    DeleteUserReport,
    EngineEvent,
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
from ..interface import Stream
from ..store.models import Image, User
from .backups import Backups
from .base import Component, Ports
from .builds import BuildHandle
from .collab import Collaboration
from .containers import Containers
from .groups import GroupMirror
from .idle import Idle
from .images import Images
from .kept import Kept
from .live import ContainerWatch, Live
from .nodes import Nodes
from .notifications import Notifications, SenderLimits, UnreadCounts
from .readiness import Readiness
from .rebuild import Rebuilds
from .rights import Rights, RightsWatch
from .shares import Shares
from .snapshots import Snapshots
from .users import Users
from .web import WebAccess

if TYPE_CHECKING:
    from ..engine.protocol import Engine

__all__ = ["NotebookService"]


class NotebookService(Component):
    """The only place that combines store, engine and directory. Every public call checks
    authorization for its actor and writes the audit log."""

    def __init__(
        self,
        config: Config,
        directory: Directory,
        *,
        engine_factory: Callable[[], Engine] | None = None,
        mode: str = "embedded",
    ) -> None:
        ports = Ports(config, directory, engine_factory=engine_factory, mode=mode)
        Component.__init__(self, ports)
        self.images = Images(ports)
        self.nodes = Nodes(ports)
        self.kept = Kept(ports)
        self.notifications = Notifications(ports)
        self.readiness = Readiness(ports)
        self.groups = GroupMirror(ports)
        self.collaboration = Collaboration(
            ports, kept=self.kept, notifications=self.notifications, groups=self.groups
        )
        self.shares = Shares(ports, kept=self.kept, notifications=self.notifications, groups=self.groups,
                             collaboration=self.collaboration)
        self.containers = Containers(ports, readiness=self.readiness, share_mounts=self.shares)
        self.snapshots = Snapshots(ports, containers=self.containers, images=self.images)
        self.idle = Idle(ports, containers=self.containers, readiness=self.readiness)
        self.live = Live(
            ports,
            containers=self.containers,
            readiness=self.readiness,
            rebuilds=Rebuilds(
                self.images,
                lambda text: self.notifications.notify_admins(text, "rebuild"),
                keep_process_alive=mode == "embedded",
            ),
        )
        self.users = Users(
            ports, kept=self.kept, containers=self.containers, personal_groups=self.collaboration
        )
        self.rights = Rights(self.users)
        self.backups = Backups(ports, notifications=self.notifications, shares=self.shares)
        self.web = WebAccess(ports, users=self.users)

    def health(self, actor: Actor) -> Health:
        """The header's health (shared by every client), with the backup problem for admins."""
        return self.backups.health_for(actor, self.live.health(actor))

    # ------------------------------ containers (service/containers.py)

    def list_containers(self, actor: Actor, owner: str | None = None) -> list[ContainerView]:
        return self.containers.list_containers(actor, owner)

    def get_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self.containers.get_container(actor, container_id)

    def connection_info(self, actor: Actor, container_id: int) -> ConnectionInfo:
        return self.containers.connection_info(actor, container_id)

    def container_logs(self, actor: Actor, container_id: int, tail: int = 500) -> list[str]:
        return self.containers.container_logs(actor, container_id, tail)

    def follow_logs(
        self, actor: Actor, container_id: int, tail: int = 200, timestamps: bool = False
    ) -> Stream[str]:
        return self.containers.follow_logs(actor, container_id, tail, timestamps)

    def container_stats(self, actor: Actor, container_id: int) -> ContainerStats:
        return self.containers.container_stats(actor, container_id)

    def list_snapshots(self, actor: Actor, container_id: int) -> list[SnapshotView]:
        return self.snapshots.list_snapshots(actor, container_id)

    def create_container(
        self,
        actor: Actor,
        name: str,
        image: str,
        description: str = "",
        memory: str | None = None,
        cpus: float | None = None,
        owner: str | None = None,
        start: bool = True,
    ) -> ContainerView:
        return self.containers.create_container(actor, name, image, description, memory, cpus, owner, start)

    def start_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self.containers.start_container(actor, container_id)

    def stop_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self.containers.stop_container(actor, container_id)

    def restart_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self.containers.restart_container(actor, container_id)

    def suspend_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self.containers.suspend_container(actor, container_id)

    def resume_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self.containers.resume_container(actor, container_id)

    def recreate_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self.containers.recreate_container(actor, container_id)

    def delete_container(self, actor: Actor, container_id: int) -> None:
        self.containers.delete_container(actor, container_id)

    def clone_container(self, actor: Actor, container_id: int, new_name: str) -> ContainerView:
        return self.containers.clone_container(actor, container_id, new_name)

    def snapshot_container(
        self, actor: Actor, container_id: int, name: str, description: str = ""
    ) -> SnapshotView:
        return self.snapshots.snapshot_container(actor, container_id, name, description)

    def restore_snapshot(self, actor: Actor, container_id: int, snapshot_id: int) -> ContainerView:
        return self.snapshots.restore_snapshot(actor, container_id, snapshot_id)

    def delete_snapshot(self, actor: Actor, container_id: int, snapshot_id: int) -> None:
        self.snapshots.delete_snapshot(actor, container_id, snapshot_id)

    def commit_container(
        self, actor: Actor, container_id: int, image_name: str, description: str = "", is_public: bool = False
    ) -> ImageView:
        return self.snapshots.commit_container(actor, container_id, image_name, description, is_public)

    # ------------------------------ images and builds (service/images.py)

    def list_images(self, actor: Actor, include_retired: bool = True) -> list[ImageView]:
        return self.images.list_images(actor, include_retired)

    def usable_images(self, actor: Actor) -> list[ImageView]:
        return self.images.usable_images(actor)

    def image_view(self, row: Image, viewer: Actor | None = None) -> ImageView:
        return self.images.image_view(row, viewer)

    def engine_images(self, actor: Actor) -> list[ImageInfo]:
        return self.images.engine_images(actor)

    def image_defaults(self, actor: Actor, ref: str) -> ImageDefaults:
        return self.images.image_defaults(actor, ref)

    def register_image(
        self,
        actor: Actor,
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
    ) -> ImageView:
        return self.images.register_image(
            actor,
            name,
            ref,
            description,
            command,
            notebook_port,
            public_ports,
            is_public,
            access_groups,
            memory,
            cpus,
            source_folder,
        )

    def update_image(self, actor: Actor, name: str, **changes: Unpack[ImageChanges]) -> ImageView:
        return self.images.update_image(actor, name, **changes)

    def retire_image(self, actor: Actor, name: str, retired: bool = True) -> ImageView:
        return self.images.retire_image(actor, name, retired)

    def delete_image(self, actor: Actor, name: str, check_only: bool = False) -> None:
        self.images.delete_image(actor, name, check_only)

    def dockerfile_folders(self, actor: Actor) -> list[str]:
        return self.images.dockerfile_folders(actor)

    def build_image(
        self,
        actor: Actor,
        folder: str,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> BuildHandle:
        return self.images.build_image(actor, folder, tag, build_args, nocache)

    def build_plan(
        self,
        actor: Actor,
        folder: str,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> list[str]:
        return self.images.build_plan(actor, folder, tag, build_args, nocache)

    def build_defaults(self, actor: Actor, folder: str) -> dict[str, str]:
        return self.images.build_defaults(actor, folder)

    def list_builds(self, actor: Actor, limit: int = 100) -> list[BuildView]:
        return self.images.list_builds(actor, limit)

    def build_log(self, actor: Actor, build_id: int, limit: int | None = None) -> list[BuildEvent]:
        return self.images.build_log(actor, build_id, limit)

    # ------------------------------ users and who is calling (service/users.py)

    def credential_binding(self, username: str) -> str | None:
        return self.users.credential_binding(username)

    def actor_for_username(self, username: str) -> Actor:
        return self.users.actor_for_username(username)

    def actor_for_uid(self, uid: int) -> Actor:
        return self.users.actor_for_uid(uid)

    def list_users(self, actor: Actor, query: str = "") -> list[UserView]:
        return self.users.list_users(actor, query)

    def get_user(self, actor: Actor, username: str) -> UserView:
        return self.users.get_user(actor, username)

    def create_user(
        self,
        actor: Actor,
        username: str,
        password: str,
        display_name: str = "",
        email: str = "",
        is_admin: bool = False,
        uid: int | None = None,
        gid: int | None = None,
    ) -> UserView:
        return self.users.create_user(actor, username, password, display_name, email, is_admin, uid, gid)

    def set_password(self, actor: Actor, username: str, password: str) -> None:
        self.users.set_password(actor, username, password)

    def set_admin(self, actor: Actor, username: str, is_admin: bool) -> UserView:
        return self.users.set_admin(actor, username, is_admin)

    def set_active(self, actor: Actor, username: str, active: bool) -> UserView:
        return self.users.set_active(actor, username, active)

    def delete_user(
        self, actor: Actor, username: str, containers: str = 'delete', data: str = 'archive'
    ) -> DeleteUserReport:
        return self.users.delete_user(actor, username, containers, data)

    def sync_users(self, actor: Actor) -> SyncReport:
        return self.users.sync_users(actor)

    def list_groups(self, actor: Actor) -> list[GroupView]:
        return self.users.list_groups(actor)

    def create_group(self, actor: Actor, name: str, description: str = "") -> GroupView:
        return self.users.create_group(actor, name, description)

    def add_member(self, actor: Actor, group: str, username: str) -> None:
        self.users.add_member(actor, group, username)

    def remove_member(self, actor: Actor, group: str, username: str) -> None:
        self.users.remove_member(actor, group, username)

    # ------------------------------ rights that change (service/rights.py)

    def rights_epoch(self) -> int:
        return self.rights.rights_epoch()

    def watch_rights(self, actor: Actor) -> RightsWatch:
        return self.rights.watch_rights(actor)

    # ------------------------------ idle culling and return (service/idle.py)

    def cull_idle(
        self, actor: Actor, now: datetime | None = None, present: Mapping[str, datetime] | None = None
    ) -> CullReport:
        return self.idle.cull_idle(actor, now, present)

    def resume_suspended(self, actor: Actor) -> list[ContainerView]:
        return self.idle.resume_suspended(actor)

    def suspended_memory(self, actor: Actor) -> SuspendedMemory:
        return self.idle.suspended_memory(actor)

    def stop_suspended(self, actor: Actor) -> list[str]:
        return self.idle.stop_suspended(actor)

    # ------------------------------ readiness (service/readiness.py)

    def probe_starting(self, actor: Actor) -> list[int]:
        return self.readiness.probe_starting(actor)

    # ------------------------------ live views and reconcile (service/live.py)

    def watch_containers(self, actor: Actor, since: float | None = None) -> ContainerWatch:
        return self.live.watch_containers(actor, since)

    def apply_event(self, event: EngineEvent, record: bool = True) -> int | None:
        return self.live.apply_event(event, record)

    def reconcile(self, actor: Actor) -> ReconcileReport:
        return self.live.reconcile(actor)

    # ------------------------------ notifications (service/notifications.py)

    @property
    def unread_counts(self) -> UnreadCounts:
        return self.notifications.unread_counts

    def list_notifications(
        self, actor: Actor, unread_only: bool = False, query: str = ""
    ) -> list[NotificationView]:
        return self.notifications.list_notifications(actor, unread_only, query)

    def send_notification(
        self, actor: Actor, group: str, message: str, kind: str = 'misc', target: str = ""
    ) -> NotificationView:
        return self.notifications.send_notification(actor, group, message, kind, target)

    def mark_read(self, actor: Actor, notification_id: int | None = None) -> int:
        return self.notifications.mark_read(actor, notification_id)

    def unread_count(self, actor: Actor) -> int:
        return self.notifications.unread_count(actor)

    @property
    def sender_limits(self) -> SenderLimits:
        return self.notifications.sender_limits

    def mute(self, actor: Actor, what: str, name: str, undo: bool = False) -> list[str]:
        return self.notifications.mute(actor, what, name, undo)

    def list_mutes(self, actor: Actor) -> list[str]:
        return self.notifications.list_mutes(actor)

    # ------------------------------ kept folders and retired ids (service/kept.py)

    def release_retired_ids(self) -> list[str]:
        return self.kept.release_retired_ids()

    def list_kept(self, actor: Actor) -> list[KeptView]:
        return self.kept.list_kept(actor)

    def purge_kept(self, actor: Actor, name: str) -> KeptView:
        return self.kept.purge_kept(actor, name)

    # ------------------------------ backups (service/backups.py)

    def backup_init(self, actor: Actor) -> str:
        return self.backups.backup_init(actor)

    def backup_run(self, actor: Actor) -> BackupReport:
        return self.backups.backup_run(actor)

    def backup_status(self, actor: Actor) -> BackupStatus:
        return self.backups.backup_status(actor)

    def backup_due(self, now: datetime | None = None) -> bool:
        return self.backups.backup_due(now)

    def backup_watch(self, actor: Actor, now: datetime | None = None) -> BackupStatus:
        return self.backups.backup_watch(actor, now)

    def backup_problem(self) -> str:
        return self.backups.backup_problem()

    def backup_snapshots(self, actor: Actor) -> list[BackupSnapshot]:
        return self.backups.backup_snapshots(actor)

    def backup_files(self, actor: Actor, snapshot: str = 'latest', path: str = "") -> list[BackupEntry]:
        return self.backups.backup_files(actor, snapshot, path)

    def backup_restore(self, actor: Actor, path: str, snapshot: str = 'latest') -> BackupRestore:
        return self.backups.backup_restore(actor, path, snapshot)

    # ------------------------------ swarm nodes (service/nodes.py)

    def list_nodes(self, actor: Actor) -> list[NodeView]:
        return self.nodes.list_nodes(actor)

    def drain_node(self, actor: Actor, node: str) -> NodeView:
        return self.nodes.drain_node(actor, node)

    def activate_node(self, actor: Actor, node: str) -> NodeView:
        return self.nodes.activate_node(actor, node)

    # ------------------------------ web access (service/web.py)

    def web_login(self, username: str, password: str, address: str) -> Actor:
        return self.web.web_login(username, password, address)

    def web_may_open(self, actor: Actor, owner: str) -> bool:
        return self.web.web_may_open(actor, owner)

    def web_owns(self, username: str, owner: str) -> bool:
        return self.web.web_owns(username, owner)

    def web_resumes(self, actor: Actor, owner: str) -> bool:
        return self.web.web_resumes(actor, owner)

    def credential_stamp(self, username: str) -> str | None:
        return self.web.credential_stamp(username)

    def web_refused(self, username: str, target: str, reason: str) -> None:
        self.web.web_refused(username, target, reason)

    # ------------------------------ collaboration groups (service/collab.py)

    def collab_groups(self, actor: Actor, query: str = "") -> list[CollabGroupView]:
        return self.collaboration.collab_groups(actor, query)

    def collab_group(self, actor: Actor, name: str) -> CollabGroupView:
        return self.collaboration.collab_group(actor, name)

    def create_collab_group(
        self, actor: Actor, name: str, public: bool = False, description: str = ""
    ) -> CollabGroupView:
        return self.collaboration.create_collab_group(actor, name, public, description)

    def delete_collab_group(self, actor: Actor, name: str) -> None:
        self.collaboration.delete_collab_group(actor, name)

    def add_collab_member(
        self, actor: Actor, group: str, username: str, admin: bool = False
    ) -> CollabGroupView:
        return self.collaboration.add_collab_member(actor, group, username, admin)

    def remove_collab_member(
        self, actor: Actor, group: str, username: str, admin_only: bool = False
    ) -> CollabGroupView:
        return self.collaboration.remove_collab_member(actor, group, username, admin_only)

    def join_group(self, actor: Actor, group: str) -> CollabGroupView:
        return self.collaboration.join_group(actor, group)

    def leave_group(self, actor: Actor, group: str) -> None:
        self.collaboration.leave_group(actor, group)

    # ------------------------------ shares (service/shares.py)

    def list_shares(self, actor: Actor, query: str = "") -> list[ShareView]:
        return self.shares.list_shares(actor, query)

    def get_share(self, actor: Actor, name: str) -> ShareView:
        return self.shares.get_share(actor, name)

    def create_share(self, actor: Actor, name: str, description: str = "") -> ShareView:
        return self.shares.create_share(actor, name, description)

    def delete_share(self, actor: Actor, name: str, data: str = 'archive') -> DeleteShareReport:
        return self.shares.delete_share(actor, name, data)

    def grant_share(self, actor: Actor, share: str, group: str) -> ShareChange:
        return self.shares.grant_share(actor, share, group)

    def revoke_share(self, actor: Actor, share: str, group: str) -> ShareChange:
        return self.shares.revoke_share(actor, share, group)

    def share_image(self, actor: Actor, image: str, group: str) -> ShareChange:
        return self.shares.share_image(actor, image, group)

    def unshare_image(self, actor: Actor, image: str, group: str) -> ShareChange:
        return self.shares.unshare_image(actor, image, group)

    def usable_share_mounts(self, user: User) -> list[tuple[str, int]]:
        return self.shares.usable_share_mounts(user)
