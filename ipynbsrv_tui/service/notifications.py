"""Notifications (DESIGN §14): messages to groups, from users or the system, with per-user read marks.

Each notification is copied into the inbox of every member of its groups when it is sent, so a
read mark is one row and the unread count one indexed query. The header's badge asks
`unread_count` every second; `UnreadCounts` answers from memory and looks at the database at
most once a second (one single-row read), recounting only after something changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import cast

from peewee import JOIN

from .. import validation
from ..domain import Actor, NotFound, NotificationView, ValidationError
from ..store.models import (
    Group,
    GroupMember,
    Notification,
    NotificationRecipient,
    Setting,
    User,
    database_proxy,
    utcnow,
)
from . import authz
from .base import ServiceBase

KINDS = ("container", "image", "group", "share", "misc")
VERSION_KEY = "notifications.version"
LIST_MAX = 500


class UnreadCounts:
    """Per-user unread counts kept in memory; the database is read at most once per `interval`."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.queries = 0  # database reads made, for the benchmark
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._version: str | None = None
        self._counts: dict[str, int] = {}

    def get(self, username: str) -> int:
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.interval:
                self._checked = now
                row = Setting.get_or_none(Setting.key == VERSION_KEY)
                self.queries += 1
                version = row.value if row is not None else ""
                if version != self._version:
                    self._version = version
                    self._counts.clear()
            if username not in self._counts:
                self.queries += 1
                self._counts[username] = (NotificationRecipient.select().join(User)
                                          .where((User.username == username)
                                                 & NotificationRecipient.read.is_null()).count())
            return self._counts[username]

    def changed(self, usernames: Iterable[str] | None = None) -> None:
        """Forget counts after a change made in this process (others are seen through the version)."""
        with self._lock:
            if usernames is None:
                self._counts.clear()
            else:
                for username in usernames:
                    self._counts.pop(username, None)


class NotificationsMixin(ServiceBase):
    """Sending, listing and reading notifications."""

    _unread: UnreadCounts | None = None

    @property
    def unread_counts(self) -> UnreadCounts:
        if self._unread is None:
            self._unread = UnreadCounts()
        return self._unread

    def list_notifications(self, actor: Actor, unread_only: bool = False, query: str = "") -> list[NotificationView]:
        """The actor's own notifications, newest first (at most 500)."""
        me = User.get_or_none(User.username == actor.username)
        if me is None:
            return []
        rows = (NotificationRecipient.select(NotificationRecipient, Notification, User.id, User.username)
                .join(Notification).join(User, on=(Notification.sender == User.id), join_type=JOIN.LEFT_OUTER)
                .where(NotificationRecipient.user == me).order_by(Notification.id.desc()).limit(LIST_MAX))
        if unread_only:
            rows = rows.where(NotificationRecipient.read.is_null())
        views = []
        needle = (query or "").strip().lower()
        for row in rows:
            note: Notification = row.notification
            sender = note.sender.username if note.sender_id else ""
            if needle and needle not in note.message.lower() and needle not in sender and needle not in note.target.lower():
                continue
            views.append(NotificationView(
                id=note.id, sender=sender, message=note.message, kind=note.kind, target=note.target,
                groups=tuple(g for g in note.groups.split(",") if g), created=note.created, read=row.read is not None,
            ))
        return views

    def send_notification(
        self, actor: Actor, group: str, message: str, kind: str = "misc", target: str = ""
    ) -> NotificationView:
        """Send a message to a group the actor belongs to (admins: any group)."""
        message = validation.notification_message(message)
        if kind not in KINDS:
            raise ValidationError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
        target = validation.notification_target(target)
        if not isinstance(group, str) or not group.strip() or len(group) > validation.USERNAME_MAX:
            raise NotFound(f"No group named {str(group)[:64]!r}.")
        row = Group.get_or_none((Group.name == group.strip()) & (Group.kind == "collaboration"))
        is_member = row is not None and GroupMember.select().join(User).where(
            (GroupMember.group == row) & (User.username == actor.username)).exists()
        if row is None or not authz.can_notify(actor, is_member=is_member):
            self.audit(actor, "notification.send", group[:64], "refused", "not a member")
            raise NotFound(f"No group named {group!r} that you belong to.")
        sender = User.get_or_none(User.username == actor.username)
        note = self._deliver(sender, [row], message, kind, target, exclude=())
        self.audit(actor, "notification.send", group, detail=f"id={note.id}")
        return NotificationView(note.id, actor.username, message, kind, target, (row.name,), note.created, False)

    def mark_read(self, actor: Actor, notification_id: int | None = None) -> int:
        """Mark one notification (or, with None, all) of the actor's as read; returns how many changed."""
        me = User.get_or_none(User.username == actor.username)
        if notification_id is not None and (isinstance(notification_id, bool) or not isinstance(notification_id, int)):
            raise ValidationError("A notification id is a whole number.")
        if me is None:
            if notification_id is None:
                return 0
            raise NotFound(f"No notification {notification_id}.")
        where = (NotificationRecipient.user == me) & NotificationRecipient.read.is_null()
        if notification_id is not None:
            exists = NotificationRecipient.select().where(
                (NotificationRecipient.user == me) & (NotificationRecipient.notification == notification_id)).exists()
            if not exists:
                self.audit(actor, "notification.read", str(notification_id), "refused", "not the actor's")
                raise NotFound(f"No notification {notification_id}.")
            where &= NotificationRecipient.notification == notification_id
        changed = NotificationRecipient.update(read=utcnow()).where(where).execute()
        if changed:
            self._bump_version([me.username])
        return int(changed)

    def unread_count(self, actor: Actor) -> int:
        """How many of the actor's notifications are unread (for the header's badge)."""
        return self.unread_counts.get(actor.username)

    # ------------------------------------------------------------------ sending (also for the system)

    def _notify_group(
        self, actor: Actor, group: Group, message: str, kind: str, target: str, extra: Iterable[User] = ()
    ) -> tuple[str, ...]:
        """A system notification to a group's members (and `extra` users), not to the acting user."""
        note = self._deliver(None, [group], message[: validation.NOTIFICATION_MAX], kind, target[: validation.TARGET_MAX],
                             exclude=(actor.username,), extra=extra)
        return self._recipients(note)

    def _recipients(self, note: Notification) -> tuple[str, ...]:
        return tuple(sorted(n for (n,) in User.select(User.username).join(NotificationRecipient)
                            .where(NotificationRecipient.notification == note).tuples()))

    def _deliver(
        self, sender: User | None, groups: list[Group], message: str, kind: str, target: str,
        exclude: Iterable[str], extra: Iterable[User] = (),
    ) -> Notification:
        skip = set(exclude)
        with database_proxy.atomic():
            note = Notification.create(sender=sender, message=message, kind=kind, target=target,
                                       groups=",".join(g.name for g in groups))
            users = {u_id for (u_id,) in User.select(User.id).join(GroupMember)
                     .where(GroupMember.group.in_([g.id for g in groups]) & (User.active == True)  # noqa: E712
                            & User.username.not_in(list(skip) or [""])).tuples()}
            users |= {u.id for u in extra if u.username not in skip}
            if sender is not None:
                users.discard(sender.id)
            if users:
                NotificationRecipient.insert_many(
                    [{"notification": note.id, "user": user_id} for user_id in sorted(users)]
                ).execute()
        self._bump_version(None)
        return cast(Notification, note)

    def _bump_version(self, usernames: Iterable[str] | None) -> None:
        Setting.insert(key=VERSION_KEY, value=str(time.time_ns())).on_conflict_replace().execute()
        self.unread_counts.changed(usernames)
