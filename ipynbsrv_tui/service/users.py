"""Use cases on users and groups: the directory plus the host side (homes, archives)."""

from __future__ import annotations

import pwd
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from peewee import fn

from .. import validation
from ..directory.sync import sync_users
from ..domain import (
    Actor,
    DeleteUserReport,
    EngineError,
    GroupView,
    NotAuthorized,
    NotFound,
    SyncReport,
    UserView,
    ValidationError,
)
from ..store.models import (
    CollaborationGroup,
    Container,
    Group,
    GroupMember,
    Image,
    User,
    database_proxy,
    utcnow,
)
from . import authz
from .base import Component, Ports
from .containers import Containers
from .kept import Kept

if TYPE_CHECKING:
    from ..config import Config

CHOICES = ("keep", "archive", "delete")
UNKNOWN_UID_SYNC_SECONDS = 30.0  # an unknown caller makes an LDAP store sync at most this often
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class PersonalGroups(Protocol):
    """What the users' lifecycle asks of collaboration: each user's personal group (DESIGN §14)."""

    def ensure_personal(self, user: User) -> CollaborationGroup: ...

    def end_personal_group(self, username: str) -> None: ...


class Users(Component):
    """The user directory as admins manage it, and who the caller is."""

    def __init__(
        self, ports: Ports, *, kept: Kept, containers: Containers, personal_groups: PersonalGroups
    ) -> None:
        super().__init__(ports)
        self.kept = kept
        self.containers = containers
        self.personal_groups = personal_groups


    # ------------------------------------------------------------------ who is calling

    def credential_binding(self, username: str) -> str | None:
        """The account's row, uid and credential version as one string (None when absent or disabled):
        what a web session is bound to (DESIGN §16). One indexed lookup, made for every web request."""
        cursor = database_proxy.execute_sql(
            'SELECT id, uid, credential_version, active FROM "user" WHERE username = ?', (username,))
        row = cursor.fetchone()
        return f"{row[0]}:{row[1]}:{row[2]}" if row and row[3] else None

    def _credentials_changed(self, username: str) -> None:
        User.update(credential_version=User.credential_version + 1).where(User.username == username).execute()

    def actor_for_username(self, username: str) -> Actor:
        """The Actor for a directory user (or root); NotFound for an unknown name."""
        if username == "root":
            return Actor("root", 0, True, ())
        row = User.get_or_none(User.username == username)
        if row is None:
            found = self.directory.get_user(username)
            row = self._mirror_user(found.username)
        if not row.active:
            raise NotFound(f"User {username!r} is disabled. Ask an admin to enable the account.")
        groups = tuple(
            g.name for g in Group.select(Group.name).join(GroupMember).where(GroupMember.user == row)
        )
        is_admin = (
            row.is_admin or username in self.config.admins or self.config.directory.admin_group in groups
        )
        now = utcnow()
        if row.last_seen is None or now - row.last_seen > LAST_SEEN_RESOLUTION:
            User.update(last_seen=now).where(User.id == row.id).execute()  # a write: not on every call
        return Actor(row.username, row.uid, is_admin, groups)

    def actor_for_uid(self, uid: int) -> Actor:
        """The Actor behind a Unix uid (SO_PEERCRED or the embedded process).

        Identity is the uid alone (DESIGN §7): the caller is the directory user with this uid. A
        host account whose name matches a directory user of another uid is refused, with the reason.
        """
        if uid == 0:
            return Actor("root", 0, True, ())
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = None
        row = User.get_or_none(User.uid == uid)
        if row is None:
            self.sync_if_due(UNKNOWN_UID_SYNC_SECONDS)  # a user added in LDAP a moment ago
            row = User.get_or_none(User.uid == uid)
        if row is not None:
            if row.username == "root" or (name is not None and name != row.username):
                raise NotAuthorized(
                    f"uid {uid} is {name or 'no account'} on this host but directory user {row.username!r} "
                    "in ipynbsrv. Ask an admin to give the directory user the uid of the same host account."
                )
            return self.actor_for_username(row.username)
        if name is None:
            raise NotFound(f"uid {uid} is not a known user. Ask an admin to create your account.")
        namesake = User.get_or_none(User.username == name)
        if namesake is not None:
            raise NotAuthorized(
                f"host account {name!r} has uid {uid}, but directory user {name!r} has uid {namesake.uid}: "
                "ipynbsrv knows people by uid, not by name. Ask an admin to give the two the same uid."
            )
        if name in self.config.admins:
            return Actor(name, uid, True, ())
        raise NotFound(f"uid {uid} ({name}) is not a directory user. Ask an admin to create your account.")

    # ------------------------------------------------------------------ users

    def list_users(self, actor: Actor, query: str = "") -> list[UserView]:
        """Admins list every user (from the store mirror, so it works while LDAP is down); others
        themselves."""
        self.sync_if_due(self.config.directory.sync_interval)
        rows = User.select().order_by(User.username)
        if not authz.can_manage_users(actor):
            rows = rows.where(User.username == actor.username)
        if query:
            like = f"%{query}%"
            rows = rows.where(User.username ** like | User.display_name ** like | User.email ** like)
        counts = dict(
            Container.select(Container.owner, fn.COUNT(Container.id)).group_by(Container.owner).tuples()
        )
        return [_user_view(row, counts.get(row.id, 0), self.config) for row in rows]

    def get_user(self, actor: Actor, username: str) -> UserView:
        if not authz.is_self_or_user_manager(actor, username):
            raise self.hide(actor, "user.show", username, f"No user named {username!r}.")
        row = User.get_or_none(User.username == username)
        if row is None:
            raise NotFound(f"No user named {username!r}.")
        return _user_view(row, Container.select().where(Container.owner == row).count(), self.config)

    def create_user(
        self, actor: Actor, username: str, password: str, display_name: str = "", email: str = "",
        is_admin: bool = False, uid: int | None = None, gid: int | None = None,
    ) -> UserView:
        """Create the user in the directory, mirror it, and make their home and public folders."""
        self._require_users_admin(actor, "user.create", username)
        username = validation.username(username)
        validation.password(password)
        validation.display_name(display_name, username)
        validation.email(email)
        found = self.directory.create_user(
            username, password, display_name=display_name, email=email, uid=uid, gid=gid
        )
        if is_admin:
            self._ensure_directory_group(self.config.directory.admin_group)
            self.directory.add_member(self.config.directory.admin_group, username)
        row = self._mirror_user(username)
        self.data.ensure_user(found.username, found.uid, found.gid)
        self.personal_groups.ensure_personal(row)  # DESIGN §14: "share with alice" is "share with her group"
        self.audit(actor, "user.create", username, detail=f"uid={found.uid}")
        return _user_view(row, 0, self.config)

    def set_password(self, actor: Actor, username: str, password: str) -> None:
        """Admins reset anyone's password; a user may change their own."""
        if not authz.is_self_or_user_manager(actor, username):
            raise self.refuse(actor, "user.password", username, "Only admins may set other users' passwords.")
        validation.password(password)
        self.directory.set_password(username, password)
        self._credentials_changed(username)
        self.audit(actor, "user.password", username)

    def set_admin(self, actor: Actor, username: str, is_admin: bool) -> UserView:
        self._require_users_admin(actor, "user.admin", username)
        group = self.config.directory.admin_group
        self._ensure_directory_group(group)
        if is_admin:
            self.directory.add_member(group, username)
        else:
            self.directory.remove_member(group, username)
        row = self._mirror_user(username)
        self.audit(actor, "user.admin", username, detail=f"admin={is_admin}")
        return _user_view(row, Container.select().where(Container.owner == row).count(), self.config)

    def set_active(self, actor: Actor, username: str, active: bool) -> UserView:
        """Disable (no login, no new containers; running ones are stopped) or enable a user."""
        self._require_users_admin(actor, "user.active", username)
        if username == actor.username and not active:
            raise ValidationError("You cannot disable your own account.")
        self.directory.set_active(username, active)
        self._credentials_changed(username)
        row = self._mirror_user(username)
        if not active:
            for container in Container.select().where(
                (Container.owner == row) & (Container.state == "running")
            ):
                try:
                    self.engine.stop(container.docker_id, timeout=self.config.notebooks.stop_timeout)
                    Container.update(state="exited").where(Container.id == container.id).execute()
                except EngineError:
                    pass
        self.audit(actor, "user.enable" if active else "user.disable", username)
        return _user_view(row, Container.select().where(Container.owner == row).count(), self.config)

    def delete_user(
        self, actor: Actor, username: str, containers: str = "delete", data: str = "archive"
    ) -> DeleteUserReport:
        """Delete a user; `containers` (with their snapshots and the user's images) and `data` (home,
        public folder) are each kept, archived under <data_root>/archive, or deleted. Nothing is orphaned:
        kept things stay listed under the (disabled) user until an admin deletes them."""
        self._require_users_admin(actor, "user.delete", username)
        for what, choice in (("containers", containers), ("data", data)):
            if choice not in CHOICES:
                raise ValidationError(f"{what} must be one of {', '.join(CHOICES)}, not {choice!r}.")
        if username == actor.username:
            raise ValidationError("You cannot delete your own account.")
        row = User.get_or_none(User.username == username)
        if row is None:
            raise NotFound(f"No user named {username!r}.")
        archived: list[str] = []
        removed: list[str] = []
        kept: list[str] = []
        owned = list(Container.select().where(Container.owner == row))
        if containers == "keep":
            for container in owned:
                if container.state == "running" and container.docker_id:
                    try:
                        self.engine.stop(container.docker_id, timeout=self.config.notebooks.stop_timeout)
                    except EngineError:
                        pass
                kept.append(f"container {container.name}")
        else:
            if (
                containers == "archive"
            ):  # every export first: one that fails stops the delete before anything went
                archived.extend(str(self._export_container(username, c)) for c in owned if c.docker_id)
            for container in owned:
                self.containers.delete_container(actor, container.id)
                removed.append(f"container {container.name}")
            for image in Image.select().where(Image.owner == row):
                if Container.select().where(Container.image == image).exists():
                    Image.update(owner=None).where(Image.id == image.id).execute()
                    kept.append(f"image {image.name} (still used; now a system image)")
                    continue
                try:
                    self.engine.remove_image(image.ref, force=True)
                except EngineError:
                    pass
                image.delete_instance(recursive=True)
                removed.append(f"image {image.name}")
        paths = [self.data.home_of(username), self.data.public_of(username)]
        kept_home: Path | None = None
        if data == "archive":
            archived.append(str(self.data.archive_paths(f"{username}-data", paths)))
            removed.extend(str(p) for p in self.data.remove_user_data(username))
        elif data == "delete":
            removed.extend(str(p) for p in self.data.remove_user_data(username))
        else:  # out of the namespace, so that a later account of the same name starts empty
            for path, label in zip(paths, ("home", "public"), strict=True):
                if path.exists():
                    aside = self.data.move_aside(path, f"{label}-{username}")
                    kept_home = kept_home or aside
                    kept.append(str(aside))
        self.personal_groups.end_personal_group(username)
        try:
            self.directory.delete_user(username)
        except NotFound:
            pass
        with database_proxy.atomic():
            if containers == "keep":
                User.update(active=False).where(User.id == row.id).execute()
            else:
                row.delete_instance(recursive=True)
            self.kept.retire("uid", row.uid, f"user {username}", kept_home)
        report = DeleteUserReport(username, containers, data, tuple(archived), tuple(removed), tuple(kept))
        self.audit(actor, "user.delete", username, detail=f"containers={containers} data={data}")
        return report

    def sync_users(self, actor: Actor) -> SyncReport:
        """Mirror the directory's users and groups into the store."""
        self._require_users_admin(actor, "user.sync")
        report = sync_users(self.directory)
        self.audit(actor, "user.sync", detail=report.summary())
        return report

    # ------------------------------------------------------------------ groups

    def list_groups(self, actor: Actor) -> list[GroupView]:
        self._require_users_admin(actor, "group.list")
        members: dict[int, list[str]] = {}
        for group_id, username in GroupMember.select(GroupMember.group, User.username).join(User).tuples():
            members.setdefault(group_id, []).append(username)
        return [
            GroupView(g.name, g.gid, g.kind, tuple(sorted(members.get(g.id, []))), g.description)
            for g in Group.select().order_by(Group.name)
        ]

    def create_group(self, actor: Actor, name: str, description: str = "") -> GroupView:
        self._require_users_admin(actor, "group.create", name)
        name = validation.group_name(name)
        description = validation.description(description)
        found = self.directory.create_group(name, description=description)
        sync_users(self.directory)
        self.audit(actor, "group.create", name)
        return GroupView(found.name, found.gid, "collaboration", found.members, description)

    def add_member(self, actor: Actor, group: str, username: str) -> None:
        self._require_users_admin(actor, "group.add", f"{group}+{username}")
        self.directory.add_member(group, username)
        self._mirror_user(username)
        self.audit(actor, "group.add", group, detail=username)

    def remove_member(self, actor: Actor, group: str, username: str) -> None:
        self._require_users_admin(actor, "group.remove", f"{group}-{username}")
        self.directory.remove_member(group, username)
        self._mirror_user(username)
        self.audit(actor, "group.remove", group, detail=username)

    # ------------------------------------------------------------------ helpers

    def _require_users_admin(self, actor: Actor, action: str, target: str = "") -> None:
        if not authz.can_manage_users(actor):
            raise self.refuse(actor, action, target, "Only admins may manage users and groups.")

    def _ensure_directory_group(self, name: str) -> None:
        try:
            self.directory.get_group(name)
        except NotFound:
            self.directory.create_group(name, description="ipynbsrv administrators")

    def _export_container(self, username: str, container: Container) -> Path:
        """The engine's export of a container's file system into archive/ as .tar.gz."""
        self.data.ensure_layout()
        return self.engine.export(
            container.docker_id, self.data.archive / f"{username}-{container.name}-{container.id}.tar.gz"
        )


def _user_view(row: User, containers: int, config: Config) -> UserView:
    return UserView(
        username=row.username, uid=row.uid, gid=row.gid, display_name=row.display_name, email=row.email,
        is_admin=row.is_admin or row.username in config.admins, active=row.active, source=row.source,
        containers=containers, last_seen=row.last_seen,
    )

