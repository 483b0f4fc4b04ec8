"""LocalDirectory: the embedded user directory, kept in the SQLite store (no LDAP needed)."""

from __future__ import annotations

from peewee import JOIN, DatabaseError, fn

from .. import validation
from ..config import Config
from ..domain import (
    AlreadyExists,
    Conflict,
    DirectoryError,
    DirectoryGroup,
    DirectoryUnavailable,
    DirectoryUser,
    InvalidCredentials,
    NotFound,
    ValidationError,
)
from ..store.models import Container, Group, GroupMember, Image, Share, User, database_proxy
from . import base
from .base import WRONG_CREDENTIALS, Directory
from .passwords import hash_password, verify_password
from .sync import user_from_store

SOURCE = "local"
DELETED = "deleted"
QUERY_MAX = 256


class LocalDirectory(Directory):
    """The user directory kept in our own database (`store.User`, `store.Group`, `store.GroupMember`).

    Accounts are User rows with `source = "local"`, groups are Group rows with
    `source = "local"`. The only password material kept is a salted scrypt hash in
    `User.password_hash` (see `passwords.hash_password`); clear-text passwords are never
    stored or logged. The store must be open (`store.db.open_database`) before this is made.

    Disabling sets `User.active = False`; `authenticate` refuses inactive accounts.
    Deleting a user who still owns containers, images or shares in the store keeps their row
    as an inactive tombstone (`source = "deleted"`, no password, no group memberships), so
    those rows are not cascaded away and the name cannot be handed to someone else; the
    service layer removes or archives what they own first.
    """

    kind = "local"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if database_proxy.obj is None:
            raise DirectoryError(
                "The local user directory needs the database, which is not open: "
                "call store.db.open_database(config.database.resolved_path) first."
            )
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------ rows

    @staticmethod
    def _find_row(username: str) -> User | None:
        row: User | None = User.get_or_none((User.username == username) & (User.source == SOURCE))
        return row

    def _user_row(self, username: str) -> User:
        username = base.check_username(username)
        row = self._find_row(username)
        if row is None:
            raise NotFound(f"No user {username!r} in the directory.")
        return row

    @staticmethod
    def _group_row(name: str) -> Group:
        if not name:
            raise ValidationError("A group name is required.")
        row: Group | None = Group.get_or_none((Group.name == name) & (Group.source == SOURCE))
        if row is None:
            raise NotFound(f"No group {name!r} in the directory.")
        return row

    @staticmethod
    def _memberships() -> tuple[dict[int, list[str]], dict[int, str]]:
        """Group names per user id, and group name per gid, for local groups."""
        by_user: dict[int, list[str]] = {}
        rows = (
            GroupMember.select(GroupMember.user, Group.name)
            .join(Group)
            .where(Group.source == SOURCE)
            .tuples()
        )
        for user_id, name in rows:
            by_user.setdefault(user_id, []).append(name)
        by_gid = dict(Group.select(Group.gid, Group.name).where(Group.source == SOURCE).tuples())
        return by_user, by_gid

    def _user(self, row: User) -> DirectoryUser:
        return user_from_store(row, *self._memberships())

    @staticmethod
    def _to_group(row: Group) -> DirectoryGroup:
        members = (
            User.select(User.username)
            .join(GroupMember)
            .where(GroupMember.group == row)
            .order_by(User.username)
            .tuples()
        )
        return DirectoryGroup(
            name=row.name,
            gid=row.gid,
            members=tuple(name for (name,) in members),
            description=row.description,
        )

    # ------------------------------------------------------------------ users

    def ping(self) -> None:
        """Check the database answers."""
        try:
            User.select(User.id).limit(1).count()
        except DatabaseError as exc:
            raise DirectoryUnavailable(
                f"The local directory's database cannot be read: {exc}. Check [database] path and its "
                "permissions."
            ) from None

    def list_users(self, query: str = "", page_size: int = 500) -> list[DirectoryUser]:
        """Users whose username, display name or email contains `query` (case-insensitive).

        `page_size` is checked for the same bounds as LDAP's; the store is read in one query.
        """
        validation.page_size(page_size)
        query = (query or "").strip().lower()
        if len(query) > QUERY_MAX:
            raise ValidationError(f"The search text is longer than {QUERY_MAX} characters.")
        select = User.select().where(User.source == SOURCE)
        if query:
            select = select.where(
                (fn.instr(fn.lower(User.username), query) > 0)
                | (fn.instr(fn.lower(User.display_name), query) > 0)
                | (fn.instr(fn.lower(User.email), query) > 0)
            )
        by_user, by_gid = self._memberships()
        return [user_from_store(row, by_user, by_gid) for row in select.order_by(User.username)]

    def get_user(self, username: str) -> DirectoryUser:
        return self._user(self._user_row(username))

    def authenticate(self, username: str, password: str) -> DirectoryUser:
        """Check the password against the stored scrypt hash."""
        username = base.login_name(username)
        password = base.login_password(password)
        row = self._find_row(username)
        if row is None:
            verify_password(password, self._dummy())  # same work as for a real account
            raise InvalidCredentials(WRONG_CREDENTIALS)
        if not verify_password(password, row.password_hash):
            raise InvalidCredentials(WRONG_CREDENTIALS)
        if not row.active:
            raise InvalidCredentials(f"The account {username} is disabled. Ask an admin to enable it.")
        return self._user(row)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = hash_password("not a password of anybody")
        return self._dummy_hash

    def create_user(
        self, username: str, password: str, display_name: str = "", email: str = "",
        uid: int | None = None, gid: int | None = None,
    ) -> DirectoryUser:
        username = base.check_not_reserved(base.check_username(username))
        secret = hash_password(validation.directory_password(password))
        name = validation.display_name(display_name, username)
        mail = validation.email(email)
        with database_proxy.atomic():
            existing = User.get_or_none(User.username == username)
            if existing is not None:
                raise AlreadyExists(_taken(username, existing.source))
            primary = self._ensure_users_group()
            used = [number for (number,) in User.select(User.uid).tuples()]
            if uid is None:
                uid = base.next_free_id([*used, *base.retired_ids("uid")], self.settings.uid_range, "uid")
            else:
                uid = base.check_explicit_id(uid, "uid", used, username)
            if gid is not None:
                gid = base.check_explicit_id(gid, "gid", (), username)
            row = User.create(
                username=username,
                uid=uid,
                gid=primary.gid if gid is None else gid,
                display_name=name,
                email=mail,
                home=f"/home/{username}",
                source=SOURCE,
                active=True,
                password_hash=secret,
            )
            GroupMember.create(group=primary, user=row)
        return self._user(row)

    def _ensure_users_group(self) -> Group:
        name = self.settings.users_group
        row: Group | None = Group.get_or_none(Group.name == name)
        if row is None:
            self.create_group(name, description="Users of ipynbsrv (primary group of new accounts)")
            row = Group.get(Group.name == name)
        elif row.source != SOURCE:
            raise DirectoryError(
                f"The users group {name} in the store comes from {row.source}, not from the local directory: "
                "set directory.users_group to another name."
            )
        return row

    def set_password(self, username: str, password: str) -> None:
        secret = hash_password(validation.directory_password(password))
        row = self._user_row(username)
        User.update(password_hash=secret).where(User.id == row.id).execute()

    def set_active(self, username: str, active: bool) -> None:
        """Enable or disable an account: `User.active`, which `authenticate` checks."""
        row = self._user_row(username)
        User.update(active=bool(active)).where(User.id == row.id).execute()

    def delete_user(self, username: str) -> None:
        """Delete the row, or keep it as a tombstone while the store holds things the user owns."""
        row = self._user_row(username)
        with database_proxy.atomic():
            GroupMember.delete().where(GroupMember.user == row).execute()
            owns = (
                Container.select().where(Container.owner == row).exists()
                or Image.select().where(Image.owner == row).exists()
                or Share.select().where(Share.owner == row).exists()
            )
            if owns:
                User.update(source=DELETED, active=False, password_hash=None, is_admin=False).where(
                    User.id == row.id
                ).execute()
            else:
                row.delete_instance()

    # ------------------------------------------------------------------ groups

    def list_groups(self) -> list[DirectoryGroup]:
        members: dict[int, list[str]] = {}
        rows = (
            Group.select(Group.id, User.username)
            .join(GroupMember, JOIN.LEFT_OUTER)
            .join(User, JOIN.LEFT_OUTER)
            .where(Group.source == SOURCE)
            .tuples()
        )
        for group_id, username in rows:
            names = members.setdefault(group_id, [])
            if username:
                names.append(username)
        groups = Group.select().where(Group.source == SOURCE).order_by(Group.name)
        return [
            DirectoryGroup(row.name, row.gid, tuple(sorted(members.get(row.id, ()))), row.description)
            for row in groups
        ]

    def get_group(self, name: str) -> DirectoryGroup:
        return self._to_group(self._group_row(name))

    def create_group(self, name: str, gid: int | None = None, description: str = "") -> DirectoryGroup:
        name = base.check_group_name(name)
        gid = validation.group_id(gid)
        description = validation.display_name(description, "")
        with database_proxy.atomic():
            if Group.select().where(Group.name == name).exists():
                raise AlreadyExists(f"Group {name} exists already in the directory.")
            used = [number for (number,) in Group.select(Group.gid).tuples()]
            if gid is None:
                gid = base.next_free_id([*used, *base.retired_ids("gid")], self.settings.gid_range, "gid")
            elif gid in used:
                raise AlreadyExists(
                    f"gid {gid} is used by another group already: choose another or leave it empty."
                )
            row = Group.create(
                name=name, gid=gid, kind=self._kind_of(name), description=description, source=SOURCE
            )
        return self._to_group(row)

    def _kind_of(self, name: str) -> str:
        if name == self.settings.admin_group:
            return "admin"
        if name == self.settings.users_group:
            return "primary"
        return "collaboration"

    def delete_group(self, name: str) -> None:
        row = self._group_row(name)
        primary_of = [
            username
            for (username,) in User.select(User.username)
            .where((User.gid == row.gid) & (User.source == SOURCE))
            .order_by(User.username)
            .tuples()
        ]
        if primary_of:
            raise Conflict(
                f"Group {row.name} is the primary group of {', '.join(primary_of[:5])}"
                f"{' …' if len(primary_of) > 5 else ''}: move or delete those users first."
            )
        share = Share.get_or_none(Share.group == row)
        if share is not None:
            raise Conflict(
                f"Group {row.name} gives access to the share {share.name}: delete the share first."
            )
        row.delete_instance()

    def add_member(self, group: str, username: str) -> None:
        user = self._user_row(username)
        row = self._group_row(group)
        GroupMember.insert(group=row, user=user).on_conflict_ignore().execute()

    def remove_member(self, group: str, username: str) -> None:
        username = base.check_username(username)
        row = self._group_row(group)
        user = self._find_row(username)
        if user is not None:
            GroupMember.delete().where((GroupMember.group == row) & (GroupMember.user == user)).execute()

    def groups_of(self, username: str) -> tuple[str, ...]:
        return self.get_user(username).groups


def _taken(username: str, source: str) -> str:
    if source == DELETED:
        return (
            f"The name {username} belongs to a deleted account that still owns containers, images or "
            "shares: remove those first, or choose another name."
        )
    if source != SOURCE:
        return f"User {username} exists already (mirrored from {source})."
    return f"User {username} exists already in the directory."
