"""The embedded Session: the service bound to one actor, implementing the service interface.

Each method forwards to the use case of the same name on NotebookService with the session's
actor first; mypy checks both ends (the signature against `interface.ServiceCalls`, the call
against the service), and a test checks that every declared call is here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Unpack

from ..interface import ServiceSession
from .rights import RightsWatch

if TYPE_CHECKING:
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
    from ..interface import BuildStream, Stream
    from .core import NotebookService


class Session(ServiceSession):
    """`session.list_containers()` is `service.list_containers(actor)`: the interface the UI talks
    to in embedded mode (the broker serves each caller through one, too)."""

    def __init__(
        self, service: NotebookService, actor: Actor, resolve: Callable[[], Actor] | None = None
    ) -> None:
        self.service = service
        self._actor = actor
        self._resolve = resolve  # how `watch_rights` finds the actor again (default: by its uid)

    @property
    def actor(self) -> Actor:
        return self._actor

    @property
    def mode(self) -> str:
        return str(getattr(self.service, "mode", "embedded"))

    def adopt_rights(self, actor: Actor) -> None:
        """Act as `actor` from now on: what `watch_rights` reported after a change of rights."""
        self._actor = actor

    def close(self) -> None:
        """Nothing to release in embedded mode (the remote session closes its socket)."""

    def list_containers(self, owner: str | None = None) -> list[ContainerView]:
        return self.service.list_containers(self.actor, owner)

    def get_container(self, container_id: int) -> ContainerView:
        return self.service.get_container(self.actor, container_id)

    def connection_info(self, container_id: int) -> ConnectionInfo:
        return self.service.connection_info(self.actor, container_id)

    def container_logs(self, container_id: int, tail: int = 500) -> list[str]:
        return self.service.container_logs(self.actor, container_id, tail)

    def follow_logs(self, container_id: int, tail: int = 200, timestamps: bool = False) -> Stream[str]:
        return self.service.follow_logs(self.actor, container_id, tail, timestamps)

    def container_stats(self, container_id: int) -> ContainerStats:
        return self.service.container_stats(self.actor, container_id)

    def list_snapshots(self, container_id: int) -> list[SnapshotView]:
        return self.service.list_snapshots(self.actor, container_id)

    def create_container(
        self,
        name: str,
        image: str,
        description: str = "",
        memory: str | None = None,
        cpus: float | None = None,
        owner: str | None = None,
        start: bool = True,
    ) -> ContainerView:
        return self.service.create_container(self.actor, name, image, description, memory, cpus, owner, start)

    def start_container(self, container_id: int) -> ContainerView:
        return self.service.start_container(self.actor, container_id)

    def stop_container(self, container_id: int) -> ContainerView:
        return self.service.stop_container(self.actor, container_id)

    def restart_container(self, container_id: int) -> ContainerView:
        return self.service.restart_container(self.actor, container_id)

    def suspend_container(self, container_id: int) -> ContainerView:
        return self.service.suspend_container(self.actor, container_id)

    def resume_container(self, container_id: int) -> ContainerView:
        return self.service.resume_container(self.actor, container_id)

    def resume_suspended(self) -> list[ContainerView]:
        return self.service.resume_suspended(self.actor)

    def suspended_memory(self) -> SuspendedMemory:
        return self.service.suspended_memory(self.actor)

    def stop_suspended(self) -> list[str]:
        return self.service.stop_suspended(self.actor)

    def probe_starting(self) -> list[int]:
        return self.service.probe_starting(self.actor)

    def delete_container(self, container_id: int) -> None:
        return self.service.delete_container(self.actor, container_id)

    def clone_container(self, container_id: int, new_name: str) -> ContainerView:
        return self.service.clone_container(self.actor, container_id, new_name)

    def snapshot_container(self, container_id: int, name: str, description: str = "") -> SnapshotView:
        return self.service.snapshot_container(self.actor, container_id, name, description)

    def recreate_container(self, container_id: int) -> ContainerView:
        return self.service.recreate_container(self.actor, container_id)

    def restore_snapshot(self, container_id: int, snapshot_id: int) -> ContainerView:
        return self.service.restore_snapshot(self.actor, container_id, snapshot_id)

    def delete_snapshot(self, container_id: int, snapshot_id: int) -> None:
        return self.service.delete_snapshot(self.actor, container_id, snapshot_id)

    def commit_container(
        self, container_id: int, image_name: str, description: str = "", is_public: bool = False
    ) -> ImageView:
        return self.service.commit_container(self.actor, container_id, image_name, description, is_public)

    def list_images(self, include_retired: bool = True) -> list[ImageView]:
        return self.service.list_images(self.actor, include_retired)

    def usable_images(self) -> list[ImageView]:
        return self.service.usable_images(self.actor)

    def engine_images(self) -> list[ImageInfo]:
        return self.service.engine_images(self.actor)

    def image_defaults(self, ref: str) -> ImageDefaults:
        return self.service.image_defaults(self.actor, ref)

    def register_image(
        self, name: str, ref: str, description: str = "", command: str = "", notebook_port: int = 8888,
        public_ports: str | tuple[int, ...] = (), is_public: bool = True,
        access_groups: tuple[str, ...] | list[str] = (), memory: str = "", cpus: float | None = None,
        source_folder: str = "",
    ) -> ImageView:
        return self.service.register_image(
            self.actor,
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

    def update_image(self, name: str, **changes: Unpack[ImageChanges]) -> ImageView:
        return self.service.update_image(self.actor, name, **changes)

    def retire_image(self, name: str, retired: bool = True) -> ImageView:
        return self.service.retire_image(self.actor, name, retired)

    def delete_image(self, name: str, check_only: bool = False) -> None:
        return self.service.delete_image(self.actor, name, check_only)

    def dockerfile_folders(self) -> list[str]:
        return self.service.dockerfile_folders(self.actor)

    def build_image(
        self,
        folder: str,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> BuildStream:
        return self.service.build_image(self.actor, folder, tag, build_args, nocache)

    def build_plan(
        self,
        folder: str,
        tag: str | None = None,
        build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> list[str]:
        return self.service.build_plan(self.actor, folder, tag, build_args, nocache)

    def build_defaults(self, folder: str) -> dict[str, str]:
        return self.service.build_defaults(self.actor, folder)

    def list_builds(self, limit: int = 100) -> list[BuildView]:
        return self.service.list_builds(self.actor, limit)

    def build_log(self, build_id: int, limit: int | None = None) -> list[BuildEvent]:
        return self.service.build_log(self.actor, build_id, limit)

    def list_users(self, query: str = "") -> list[UserView]:
        return self.service.list_users(self.actor, query)

    def get_user(self, username: str) -> UserView:
        return self.service.get_user(self.actor, username)

    def create_user(
        self, username: str, password: str, display_name: str = "", email: str = "", is_admin: bool = False,
        uid: int | None = None, gid: int | None = None,
    ) -> UserView:
        return self.service.create_user(
            self.actor, username, password, display_name, email, is_admin, uid, gid
        )

    def set_password(self, username: str, password: str) -> None:
        return self.service.set_password(self.actor, username, password)

    def set_admin(self, username: str, is_admin: bool) -> UserView:
        return self.service.set_admin(self.actor, username, is_admin)

    def set_active(self, username: str, active: bool) -> UserView:
        return self.service.set_active(self.actor, username, active)

    def delete_user(
        self, username: str, containers: str = "delete", data: str = "archive"
    ) -> DeleteUserReport:
        return self.service.delete_user(self.actor, username, containers, data)

    def sync_users(self) -> SyncReport:
        return self.service.sync_users(self.actor)

    def list_groups(self) -> list[GroupView]:
        return self.service.list_groups(self.actor)

    def create_group(self, name: str, description: str = "") -> GroupView:
        return self.service.create_group(self.actor, name, description)

    def add_member(self, group: str, username: str) -> None:
        return self.service.add_member(self.actor, group, username)

    def remove_member(self, group: str, username: str) -> None:
        return self.service.remove_member(self.actor, group, username)

    # ------------------------------------------------------------------ collaboration (DESIGN §14)

    def collab_groups(self, query: str = "") -> list[CollabGroupView]:
        return self.service.collab_groups(self.actor, query)

    def collab_group(self, name: str) -> CollabGroupView:
        return self.service.collab_group(self.actor, name)

    def create_collab_group(self, name: str, public: bool = False, description: str = "") -> CollabGroupView:
        return self.service.create_collab_group(self.actor, name, public, description)

    def delete_collab_group(self, name: str) -> None:
        return self.service.delete_collab_group(self.actor, name)

    def add_collab_member(self, group: str, username: str, admin: bool = False) -> CollabGroupView:
        return self.service.add_collab_member(self.actor, group, username, admin)

    def remove_collab_member(self, group: str, username: str, admin_only: bool = False) -> CollabGroupView:
        return self.service.remove_collab_member(self.actor, group, username, admin_only)

    def join_group(self, group: str) -> CollabGroupView:
        return self.service.join_group(self.actor, group)

    def leave_group(self, group: str) -> None:
        return self.service.leave_group(self.actor, group)

    def list_shares(self, query: str = "") -> list[ShareView]:
        return self.service.list_shares(self.actor, query)

    def get_share(self, name: str) -> ShareView:
        return self.service.get_share(self.actor, name)

    def create_share(self, name: str, description: str = "") -> ShareView:
        return self.service.create_share(self.actor, name, description)

    def delete_share(self, name: str, data: str = "archive") -> DeleteShareReport:
        return self.service.delete_share(self.actor, name, data)

    def grant_share(self, share: str, group: str) -> ShareChange:
        return self.service.grant_share(self.actor, share, group)

    def revoke_share(self, share: str, group: str) -> ShareChange:
        return self.service.revoke_share(self.actor, share, group)

    def share_image(self, image: str, group: str) -> ShareChange:
        return self.service.share_image(self.actor, image, group)

    def list_kept(self) -> list[KeptView]:
        return self.service.list_kept(self.actor)

    def purge_kept(self, name: str) -> KeptView:
        return self.service.purge_kept(self.actor, name)

    def unshare_image(self, image: str, group: str) -> ShareChange:
        return self.service.unshare_image(self.actor, image, group)

    def list_notifications(self, unread_only: bool = False, query: str = "") -> list[NotificationView]:
        return self.service.list_notifications(self.actor, unread_only, query)

    def send_notification(
        self, group: str, message: str, kind: str = "misc", target: str = ""
    ) -> NotificationView:
        return self.service.send_notification(self.actor, group, message, kind, target)

    def mark_read(self, notification_id: int | None = None) -> int:
        return self.service.mark_read(self.actor, notification_id)

    def unread_count(self) -> int:
        return self.service.unread_count(self.actor)

    def mute(self, what: str, name: str, undo: bool = False) -> list[str]:
        return self.service.mute(self.actor, what, name, undo)

    def list_mutes(self) -> list[str]:
        return self.service.list_mutes(self.actor)

    def watch_containers(self, since: float | None = None) -> Stream[ContainerChange]:
        return self.service.watch_containers(self.actor, since)

    def watch_rights(self) -> Stream[Actor]:
        if self._resolve is not None:  # embedded: the process's own way to find its actor
            return RightsWatch(self.actor, self._resolve)
        return self.service.watch_rights(self.actor)

    def reconcile(self) -> ReconcileReport:
        return self.service.reconcile(self.actor)

    def health(self) -> Health:
        return self.service.health(self.actor)

    def list_nodes(self) -> list[NodeView]:
        return self.service.list_nodes(self.actor)

    def drain_node(self, node: str) -> NodeView:
        return self.service.drain_node(self.actor, node)

    def activate_node(self, node: str) -> NodeView:
        return self.service.activate_node(self.actor, node)

    def backup_init(self) -> str:
        return self.service.backup_init(self.actor)

    def backup_run(self) -> BackupReport:
        return self.service.backup_run(self.actor)

    def backup_status(self) -> BackupStatus:
        return self.service.backup_status(self.actor)

    def backup_snapshots(self) -> list[BackupSnapshot]:
        return self.service.backup_snapshots(self.actor)

    def backup_files(self, snapshot: str = "latest", path: str = "") -> list[BackupEntry]:
        return self.service.backup_files(self.actor, snapshot, path)

    def backup_restore(self, path: str, snapshot: str = "latest") -> BackupRestore:
        return self.service.backup_restore(self.actor, path, snapshot)
