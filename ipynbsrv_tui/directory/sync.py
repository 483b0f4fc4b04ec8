"""`users sync`: mirror the directory's users and groups into the store.

The UI lists users from the store (`cached_users`), so the list stays fast and keeps working
while LDAP is briefly down; `sync_status()` says when the copy was last refreshed and whether
the last attempt failed (then the list is shown as stale).

Settings written: `directory.synced_at` (ISO time of the last successful sync, UTC) and
`directory.sync_error` (the last failure's message; empty after a success).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from peewee import IntegrityError

from .. import validation
from ..domain import DirectoryError, DirectoryGroup, DirectoryUser, SyncReport, ValidationError
from ..store.models import Group, GroupMember, Setting, User, database_proxy, utcnow
from .base import Directory

SYNCED_AT = "directory.synced_at"
SYNC_ERROR = "directory.sync_error"
DELETED = "deleted"  # LocalDirectory's tombstone rows; never listed, never touched by a sync


@dataclass(frozen=True)
class SyncStatus:
    """How fresh the store's copy of the directory is."""

    synced_at: datetime | None
    error: str

    @property
    def stale(self) -> bool:
        """True when the last sync failed or none has run: show the cached list as stale."""
        return bool(self.error) or self.synced_at is None


def sync_users(directory: Directory) -> SyncReport:
    """Mirror every directory user and group into store.User / Group / GroupMember.

    Users new to the store are added with `source = directory.kind`; changed ones updated;
    store users of that source that the directory no longer has, or that it disabled, are
    deactivated (their rows stay: containers refer to them). A row of another source with
    the same name is left alone and reported. Runs in one transaction.

    When the directory cannot be read, the error is recorded in `directory.sync_error` and
    raised again (DirectoryUnavailable / DirectoryError); the store keeps the last copy.
    """
    started = time.monotonic()
    try:
        users = directory.list_users()
        groups = directory.list_groups()
    except DirectoryError as exc:
        _put(SYNC_ERROR, str(exc))
        raise
    now = utcnow()
    report = _Changes()
    with database_proxy.atomic():
        _mirror_users(directory, users, now, report)
        group_count = _mirror_groups(directory, groups, report)
        _put(SYNCED_AT, datetime.now(UTC).isoformat(timespec="seconds"))
        _put(SYNC_ERROR, "")
    return SyncReport(
        added=tuple(report.added),
        updated=tuple(report.updated),
        deactivated=tuple(report.deactivated),
        errors=tuple(report.errors),
        groups=group_count,
        seconds=time.monotonic() - started,
    )


def sync_status() -> SyncStatus:
    """The time of the last successful sync and the last error (empty when it succeeded)."""
    values = dict(
        Setting.select(Setting.key, Setting.value).where(Setting.key.in_([SYNCED_AT, SYNC_ERROR])).tuples()
    )
    synced_at = None
    if values.get(SYNCED_AT):
        try:
            synced_at = datetime.fromisoformat(values[SYNCED_AT])
        except ValueError:
            synced_at = None
    return SyncStatus(synced_at=synced_at, error=values.get(SYNC_ERROR, ""))


def cached_users(query: str = "") -> list[DirectoryUser]:
    """The users as last mirrored into the store (inactive ones included), for the UI's list.

    `query` matches username, display name or email (case-insensitive substring).
    """
    select = User.select().where(User.source != DELETED).order_by(User.username)
    needle = (query or "").strip().lower()
    members: dict[int, list[str]] = {}
    for user_id, name in GroupMember.select(GroupMember.user, Group.name).join(Group).tuples():
        members.setdefault(user_id, []).append(name)
    by_gid = dict(Group.select(Group.gid, Group.name).tuples())
    result = []
    for row in select:
        if needle and not any(
            needle in (text or "").lower() for text in (row.username, row.display_name, row.email)
        ):
            continue
        result.append(user_from_store(row, members, by_gid))
    return result


# ---------------------------------------------------------------------- internals


@dataclass
class _Changes:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _put(key: str, value: str) -> None:
    Setting.insert(key=key, value=value).on_conflict_replace().execute()


def _mirror_users(directory: Directory, users: list[DirectoryUser], now: datetime, report: _Changes) -> None:
    kind = directory.kind
    existing = {row.username: row for row in User.select()}
    seen: set[str] = set()
    for user in users:
        try:
            validation.username(user.username)
        except ValidationError as exc:
            report.errors.append(f"user {user.username!r} skipped: {exc}")
            continue
        seen.add(user.username)
        row = existing.get(user.username)
        if row is not None and row.source != kind:
            report.errors.append(
                f"user {user.username} skipped: the store has a {row.source} account with that name"
            )
            continue
        values = {
            "uid": user.uid,
            "gid": user.gid,
            "display_name": user.display_name,
            "email": user.email,
            "home": user.home,
            "active": user.active,
            "is_admin": directory.user_is_admin(user),
        }
        try:
            with database_proxy.atomic():
                if row is None:
                    User.create(username=user.username, source=kind, synced=now, **values)
                    report.added.append(user.username)
                    continue
                changes = {key: value for key, value in values.items() if getattr(row, key) != value}
                User.update(synced=now, **changes).where(User.id == row.id).execute()
        except IntegrityError:
            taken_by = User.get_or_none((User.uid == user.uid) & (User.username != user.username))
            owner = f" by {taken_by.username}" if taken_by is not None else ""
            report.errors.append(f"user {user.username} skipped: uid {user.uid} is taken{owner} in the store")
            continue
        if changes.get("active") is False:
            report.deactivated.append(user.username)
        elif changes:
            report.updated.append(user.username)
    for name, row in existing.items():
        if row.source == kind and name not in seen and row.active:
            User.update(active=False, is_admin=False, synced=now).where(User.id == row.id).execute()
            report.deactivated.append(name)


def _kind_of(directory: Directory, name: str, current: str | None) -> str:
    if name == directory.settings.admin_group:
        return "admin"
    if name == directory.settings.users_group:
        return "primary"
    return current or "collaboration"


def _mirror_groups(directory: Directory, groups: list[DirectoryGroup], report: _Changes) -> int:
    """Mirror groups and their explicit members (memberUid); the primary group is User.gid."""
    kind = directory.kind
    user_ids = dict(User.select(User.username, User.id).where(User.source == kind).tuples())
    existing = {row.name: row for row in Group.select()}
    seen: set[str] = set()
    for group in groups:
        row = existing.get(group.name)
        if row is not None and row.source != kind:
            report.errors.append(
                f"group {group.name} skipped: the store has a {row.source} group with that name"
            )
            continue
        try:
            with database_proxy.atomic():
                if row is None:
                    row = Group.create(
                        name=group.name,
                        gid=group.gid,
                        kind=_kind_of(directory, group.name, None),
                        description=group.description,
                        source=kind,
                    )
                else:
                    values = {"gid": group.gid, "description": group.description}
                    values["kind"] = _kind_of(directory, group.name, row.kind)
                    changes = {key: value for key, value in values.items() if getattr(row, key) != value}
                    if changes:
                        Group.update(**changes).where(Group.id == row.id).execute()
                wanted = {user_ids[name] for name in group.members if name in user_ids}
                set_group_members(row, wanted)
        except IntegrityError:
            report.errors.append(
                f"group {group.name} skipped: gid {group.gid} is taken by another group in the store"
            )
            continue
        seen.add(group.name)
    for name, row in existing.items():
        if row.source == kind and name not in seen:
            GroupMember.delete().where(GroupMember.group == row).execute()
    return len(seen)


def set_group_members(group: Group, wanted: set[int]) -> None:
    """Make the store's members of `group` exactly the users with ids `wanted` (rows added and removed)."""
    have = {
        user_id
        for (user_id,) in GroupMember.select(GroupMember.user).where(GroupMember.group == group).tuples()
    }
    if have - wanted:
        GroupMember.delete().where(
            (GroupMember.group == group) & GroupMember.user.in_(list(have - wanted))
        ).execute()
    for user_id in sorted(wanted - have):
        GroupMember.create(group=group, user=user_id)


def user_from_store(row: User, by_user: dict[int, list[str]], by_gid: dict[int, str]) -> DirectoryUser:
    """A store row as a DirectoryUser: its explicit groups plus its primary group (by gid)."""
    names = set(by_user.get(row.id, ()))
    if row.gid in by_gid:
        names.add(by_gid[row.gid])
    return DirectoryUser(
        username=row.username,
        uid=row.uid,
        gid=row.gid,
        display_name=row.display_name or row.username,
        email=row.email,
        home=row.home,
        active=row.active,
        groups=tuple(sorted(names)),
    )
