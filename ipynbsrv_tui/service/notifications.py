"""Notifications (DESIGN §14): messages to groups, from users or the system, with per-user read marks.

Each notification is copied into the inbox of every member of its groups when it is sent, so a
read mark is one row and the unread count one indexed query. The header's badge asks
`unread_count` every second; `UnreadCounts` answers from memory and looks at the database at
most once a second (one single-row read), recounting only after something changed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import timedelta
from typing import cast

from peewee import JOIN

from .. import validation
from ..domain import Actor, NotFound, NotificationView, RateLimited, ValidationError
from ..store.models import (
    Group,
    GroupMember,
    Mute,
    Notification,
    NotificationRecipient,
    Setting,
    User,
    database_proxy,
    utcnow,
)
from . import authz
from .base import Component

KINDS = ("container", "image", "group", "share", "misc")
VERSION_KEY = "notifications.version"
LIST_MAX = 500
# Per sender, in any WINDOW seconds (admins are not limited): messages sent, and changes that
# notify others (grants, revokes, joins, members added or removed …).
WINDOW = 60.0
MESSAGES_PER_WINDOW = 10
CHANGES_PER_WINDOW = 30
COALESCE_SECONDS = 600  # the same system notice again within this time updates the first one
MUTE_KINDS = ("user", "group")


class SenderLimits:
    """Sliding-window counts per (user, what), in memory: the broker is the one process that sends
    for everyone (an embedded session counts its own user's only)."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._times: dict[tuple[str, str], deque[float]] = {}

    def take(self, username: str, what: str, limit: int) -> float:
        """Count one more; 0.0 when within `limit`, else the seconds until one is free (not counted)."""
        now = time.monotonic()
        with self._lock:
            times = self._times.setdefault((username, what), deque())
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) >= limit:
                return self.window - (now - times[0])
            times.append(now)
            if len(self._times) > 10_000:  # forget who has been quiet for a window
                self._times = {k: v for k, v in self._times.items() if v and now - v[-1] < self.window}
            return 0.0


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


class Notifications(Component):
    """Sending, listing and reading notifications; limits per sender, coalescing, mutes."""

    _unread: UnreadCounts | None = None
    _limits: SenderLimits | None = None

    @property
    def sender_limits(self) -> SenderLimits:
        if self._limits is None:
            self._limits = SenderLimits()
        return self._limits

    def throttle(self, actor: Actor, what: str) -> None:
        """RateLimited when the actor sent too many messages (`what` "message") or made too many
        changes that notify others ("change") in the last WINDOW seconds; admins are not limited."""
        if actor.is_admin:
            return
        limit, words = ((MESSAGES_PER_WINDOW, "sent {n} messages") if what == "message"
                        else (CHANGES_PER_WINDOW, "made {n} changes that notify others"))
        wait = self.sender_limits.take(actor.username, what, limit)
        if wait:
            message = (
                f"You {words.format(n=limit)} in the last {int(WINDOW)} s, the most allowed: try again in "
                f"{max(1, round(wait))} s."
            )
            self.audit(actor, f"notification.{what}", "", "refused", message)
            raise RateLimited(message)

    @property
    def unread_counts(self) -> UnreadCounts:
        if self._unread is None:
            self._unread = UnreadCounts()
        return self._unread

    def list_notifications(
        self, actor: Actor, unread_only: bool = False, query: str = ""
    ) -> list[NotificationView]:
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
            if (
                needle
                and needle not in note.message.lower()
                and needle not in sender
                and needle not in note.target.lower()
            ):
                continue
            views.append(
                NotificationView(
                    id=note.id,
                    sender=sender,
                    message=note.message,
                    kind=note.kind,
                    target=note.target,
                    groups=tuple(g for g in note.groups.split(",") if g),
                    created=note.created,
                    read=row.read is not None,
                    repeats=note.repeats,
                )
            )
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
        self.throttle(actor, "message")
        sender = User.get_or_none(User.username == actor.username)
        note = self.deliver(sender, [row], message, kind, target, exclude=())
        self.audit(actor, "notification.send", group, detail=f"id={note.id}")
        return NotificationView(
            note.id, actor.username, message, kind, target, (row.name,), note.created, False
        )

    def mark_read(self, actor: Actor, notification_id: int | None = None) -> int:
        """Mark one notification (or, with None, all) of the actor's as read; returns how many changed."""
        me = User.get_or_none(User.username == actor.username)
        if notification_id is not None and (
            isinstance(notification_id, bool) or not isinstance(notification_id, int)
        ):
            raise ValidationError("A notification id is a whole number.")
        if me is None:
            if notification_id is None:
                return 0
            raise NotFound(f"No notification {notification_id}.")
        where = (NotificationRecipient.user == me) & NotificationRecipient.read.is_null()
        if notification_id is not None:
            exists = (
                NotificationRecipient.select()
                .where(
                    (NotificationRecipient.user == me)
                    & (NotificationRecipient.notification == notification_id)
                )
                .exists()
            )
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

    def notify_group(
        self, actor: Actor, group: Group, message: str, kind: str, target: str, extra: Iterable[User] = ()
    ) -> tuple[str, ...]:
        """A system notification to a group's members (and `extra` users), not to the acting user.
        The same notice (same cause, kind, subject and group) within COALESCE_SECONDS updates the
        earlier one (its text, time and count; unread again) instead of adding another."""
        cause = User.get_or_none(User.username == actor.username)
        key = f"{actor.username}|{kind}|{target}|{group.name}"
        note = self.deliver(
            None,
            [group],
            message[: validation.NOTIFICATION_MAX],
            kind,
            target[: validation.TARGET_MAX],
            exclude=(actor.username,),
            extra=extra,
            cause=cause,
            coalesce_key=key,
        )
        return self._recipients(note)

    def _recipients(self, note: Notification) -> tuple[str, ...]:
        return tuple(sorted(n for (n,) in User.select(User.username).join(NotificationRecipient)
                            .where(NotificationRecipient.notification == note).tuples()))

    def notify_admins(self, message: str, target: str) -> None:
        """A message from the system to every active admin (e.g. a failed recovery rebuild)."""
        admins = list(User.select().where((User.is_admin == True) & (User.active == True)))  # noqa: E712
        self.deliver(
            None,
            [],
            message[: validation.NOTIFICATION_MAX],
            "misc",
            target[: validation.TARGET_MAX],
            exclude=(),
            extra=admins,
        )

    def deliver(
        self, sender: User | None, groups: list[Group], message: str, kind: str, target: str,
        exclude: Iterable[str], extra: Iterable[User] = (), cause: User | None = None, coalesce_key: str = "",
    ) -> Notification:
        skip = set(exclude)
        with database_proxy.atomic():
            users = {u_id for (u_id,) in User.select(User.id).join(GroupMember)
                     .where(GroupMember.group.in_([g.id for g in groups]) & (User.active == True)  # noqa: E712
                            & User.username.not_in(list(skip) or [""])).tuples()}
            users |= {u.id for u in extra if u.username not in skip}
            if sender is not None:
                users.discard(sender.id)
            users -= _muting(sender or cause, groups)
            note = _earlier(coalesce_key) if coalesce_key else None
            if note is None:
                note = Notification.create(sender=sender, message=message, kind=kind, target=target,
                                           groups=",".join(g.name for g in groups), cause=cause,
                                           coalesce_key=coalesce_key)
            else:
                Notification.update(
                    message=message, created=utcnow(), repeats=Notification.repeats + 1
                ).where(Notification.id == note.id).execute()
                note = Notification.get_by_id(note.id)
                NotificationRecipient.update(read=None).where(
                    (NotificationRecipient.notification == note)
                    & NotificationRecipient.user.in_(sorted(users) or [0])
                ).execute()
            if users:
                NotificationRecipient.insert_many(
                    [{"notification": note.id, "user": user_id} for user_id in sorted(users)]
                ).on_conflict_ignore().execute()
        self._bump_version(None)
        return cast(Notification, note)

    # ------------------------------------------------------------------ mutes

    def mute(self, actor: Actor, what: str, name: str, undo: bool = False) -> list[str]:
        """Stop (with `undo`: resume) notifications from a user (`what` "user": their messages and the
        system's notices of what they did) or to a group ("group"); returns the actor's mutes."""
        me = User.get_or_none((User.username == actor.username) & (User.active == True))  # noqa: E712
        if me is None:
            raise ValidationError(
                f"{actor.username} is not a directory user, so has no notifications to mute."
            )
        if what not in MUTE_KINDS:
            raise ValidationError(f"Mute a 'user' or a 'group', not {what!r}.")
        if not isinstance(name, str) or not name.strip() or len(name) > validation.USERNAME_MAX:
            raise NotFound(f"No {what} named {str(name)[:64]!r}.")
        name = name.strip()
        if what == "user":
            other = User.get_or_none(User.username == name)
            if other is None:
                raise NotFound(f"No user named {name!r}.")
            where = (Mute.user == me) & (Mute.sender == other)
            fields = {"user": me, "sender": other, "group": None}
        else:
            group = Group.get_or_none((Group.name == name) & (Group.kind == "collaboration"))
            is_member = group is not None and GroupMember.select().where(
                (GroupMember.group == group) & (GroupMember.user == me)).exists()
            if group is None or not is_member:
                raise NotFound(f"No group named {name!r} that you belong to.")
            where = (Mute.user == me) & (Mute.group == group)
            fields = {"user": me, "sender": None, "group": group}
        if undo:
            Mute.delete().where(where).execute()
        elif not Mute.select().where(where).exists():
            Mute.create(**fields)
        self.audit(actor, "notification.unmute" if undo else "notification.mute", f"{what}:{name}")
        return self.list_mutes(actor)

    def list_mutes(self, actor: Actor) -> list[str]:
        """The actor's mutes, as `user:NAME` and `group:NAME`."""
        rows = (
            Mute.select(Mute, User, Group)
            .join(User, on=(Mute.sender == User.id), join_type=JOIN.LEFT_OUTER)
            .switch(Mute)
            .join(Group, join_type=JOIN.LEFT_OUTER)
            .where(Mute.user == User.select(User.id).where(User.username == actor.username))
        )
        found = [
            f"user:{row.sender.username}" if row.sender_id else f"group:{row.group.name}" for row in rows
        ]
        return sorted(found)

    def _bump_version(self, usernames: Iterable[str] | None) -> None:
        Setting.insert(key=VERSION_KEY, value=str(time.time_ns())).on_conflict_replace().execute()
        self.unread_counts.changed(usernames)


def _muting(sender: User | None, groups: list[Group]) -> set[int]:
    """The users who muted `sender` (a message's sender, or the user whose action a system notice
    tells of) or one of `groups`."""
    where = Mute.group.in_([g.id for g in groups]) if groups else None
    if sender is not None:
        where = (Mute.sender == sender) if where is None else (where | (Mute.sender == sender))
    if where is None:
        return set()
    return {u for (u,) in Mute.select(Mute.user).where(where).tuples()}


def _earlier(key: str) -> Notification | None:
    """The system notification with this coalescing key sent within COALESCE_SECONDS, if any."""
    since = utcnow() - timedelta(seconds=COALESCE_SECONDS)
    return cast(
        Notification | None,
        Notification.select()
        .where((Notification.coalesce_key == key) & (Notification.created >= since))
        .order_by(Notification.id.desc())
        .first(),
    )
