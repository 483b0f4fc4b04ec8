"""NotebookService: every use case, each taking an explicit actor (DESIGN §3, §8)."""

from __future__ import annotations

from .containers import ContainersMixin
from .images import ImagesMixin
from .live import LiveMixin
from .users import UsersMixin


class NotebookService(ContainersMixin, ImagesMixin, UsersMixin, LiveMixin):
    """The only place that combines store, engine and directory. Every public call checks
    authorization for its actor and writes the audit log."""


# The calls a Session (and the broker) exposes: each takes the actor as its first argument.
SESSION_METHODS: frozenset[str] = frozenset(
    {
        # containers
        "list_containers", "get_container", "connection_info", "container_logs", "follow_logs",
        "container_stats", "list_snapshots", "create_container", "start_container", "stop_container",
        "restart_container", "suspend_container", "resume_container", "delete_container", "clone_container",
        "snapshot_container", "restore_snapshot", "delete_snapshot", "commit_container",
        # images
        "list_images", "usable_images", "engine_images", "image_defaults", "register_image", "update_image",
        "retire_image", "delete_image", "dockerfile_folders", "build_image", "list_builds", "build_log",
        # users and groups
        "list_users", "get_user", "create_user", "set_password", "set_admin", "set_active", "delete_user",
        "sync_users", "list_groups", "create_group", "add_member", "remove_member",
        # live
        "watch_containers", "reconcile", "health",
    }
)
