"""NotebookService: every use case, each taking an explicit actor (DESIGN §3, §8)."""

from __future__ import annotations

from ..domain import Actor, Health
from .backups import BackupsMixin
from .idle import IdleMixin
from .images import ImagesMixin
from .live import LiveMixin
from .nodes import NodesMixin
from .notifications import NotificationsMixin
from .rights import RightsMixin
from .shares import SharesMixin
from .users import UsersMixin

__all__ = ["NotebookService"]


class NotebookService(IdleMixin, ImagesMixin, UsersMixin, LiveMixin, NodesMixin, BackupsMixin, SharesMixin,
                      NotificationsMixin, RightsMixin):
    """The only place that combines store, engine and directory. Every public call checks
    authorization for its actor and writes the audit log."""

    def health(self, actor: Actor) -> Health:
        """The header's health (shared by every client), with the backup problem for admins."""
        return self.health_for(actor, LiveMixin.health(self, actor))
