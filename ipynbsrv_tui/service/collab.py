"""Collaboration groups (DESIGN §14): self-service directory groups with creators, admins,
public groups anyone may join, and every user's personal one-member group.

Membership lives in the directory (posixGroup memberUid, or the local directory) so ids inside
containers match; the store mirrors it and keeps the collaboration side (creator, admins, public).
"""

from __future__ import annotations

from typing import cast

from peewee import JOIN, fn

from .. import validation
from ..domain import (
    Actor,
    AlreadyExists,
    CollabGroupView,
    NotFound,
    ValidationError,
)
from ..store.models import (
    CollaborationAdmin,
    CollaborationGroup,
    Group,
    GroupMember,
    Share,
    ShareGrant,
    User,
    database_proxy,
)
from . import authz
from .base import Component, Ports
from .groups import GroupMirror
from .kept import Kept
from .notifications import Notifications


class Collaboration(Component):
    """Use cases on collaboration groups; every call checks §8 for its actor."""

    def __init__(
        self, ports: Ports, *, kept: Kept, notifications: Notifications, groups: GroupMirror
    ) -> None:
        super().__init__(ports)
        self.kept = kept
        self.notifications = notifications
        self.groups = groups

    # ------------------------------------------------------------------ reading

    def collab_groups(self, actor: Actor, query: str = "") -> list[CollabGroupView]:
        """The groups the actor may see: their own, public ones (admins: all), filtered by `query`."""
        me = self._actor_row(actor)
        if me is not None:
            self.ensure_personal(me)
        rows = (CollaborationGroup.select(CollaborationGroup, Group, User.id, User.username)
                .join(Group).switch(CollaborationGroup).join(User, on=(CollaborationGroup.creator == User.id),
                                                             join_type=JOIN.LEFT_OUTER)
                .order_by(Group.name))
        if query:
            rows = rows.where(fn.instr(fn.lower(Group.name), query.strip().lower()) > 0)
        members = _members_by_group()
        admins = _admins_by_cgroup()
        shares = _shares_by_group()
        views = []
        for row in rows:
            names = members.get(row.group.id, ())
            visible = actor.is_admin or row.is_public or actor.username in names
            if not visible:
                continue
            views.append(
                self._group_view(actor, row, names, admins.get(row.id, ()), shares.get(row.group.id, ()))
            )
        return views

    def collab_group(self, actor: Actor, name: str) -> CollabGroupView:
        """One group with its members, admins and granted shares; NotFound unless the actor may see it."""
        row = self.visible_group(actor, name, "group.show")
        return self._view_of(actor, row)

    # ------------------------------------------------------------------ changing

    def create_collab_group(
        self, actor: Actor, name: str, public: bool = False, description: str = ""
    ) -> CollabGroupView:
        """A new directory group; the actor becomes its creator, first member and first group admin."""
        name = validation.group_name(name)
        # the directory keeps it (posixGroup description): one line, as short as a display name
        description = validation.text(description, "The group's description", 128, single_line=True).strip()
        me = self.require_row(actor, "create a group")
        if name.startswith(validation.SHARE_PREFIX):
            raise ValidationError(f"Names starting with {validation.SHARE_PREFIX!r} are for shares' groups: "
                                  "choose another group name.")
        reserved = {self.config.directory.admin_group, self.config.directory.users_group}
        if (name in reserved or User.select().where(User.username == name).exists()
                or Group.select().where(Group.name == name).exists()):
            raise name_taken(name)
        try:
            self.directory.create_group(name, description=description)
        except AlreadyExists:  # a directory group the store does not mirror (a system group …)
            raise name_taken(name) from None
        try:
            self.directory.add_member(name, me.username)
            group = self.groups.mirror_group(name, "collaboration")
            with database_proxy.atomic():
                cgroup = CollaborationGroup.create(group=group, creator=me, is_public=bool(public))
                CollaborationAdmin.create(cgroup=cgroup, user=me)
        except Exception:
            self.groups.drop_directory_group(name)
            raise
        self.audit(actor, "group.create", name, detail=f"public={bool(public)}")
        return self._view_of(actor, cgroup)

    def delete_collab_group(self, actor: Actor, name: str) -> None:
        """Delete a group (its creator, group admins, admins): its grants end, members are told."""
        row = self._managed_group(actor, name, "group.delete")
        self.notifications.throttle(actor, "change")
        if row.is_personal:
            raise ValidationError(f"{name} is {name}'s personal group: it goes when the user is deleted.")
        creator = _creator_name(row)
        if not authz.can_delete_group(actor, creator):
            raise self.refuse(actor, "group.delete", name,
                              f"Only {creator}, who created {name}, or an admin may delete it.")
        group: Group = row.group
        self.notifications.notify_group(
            actor, group, f"{actor.username} deleted the group {name}.", "group", name
        )
        self._end_group(group)
        self.audit(actor, "group.delete", name)

    def add_collab_member(
        self, actor: Actor, group: str, username: str, admin: bool = False
    ) -> CollabGroupView:
        """Group admins add a member (and with `admin` make them a group admin too)."""
        row = self._managed_group(actor, group, "group.add")
        self.notifications.throttle(actor, "change")
        if row.is_personal:
            raise ValidationError(
                f"{group} is a personal group: it has one member. Create a group to work together."
            )
        user = self._member_row(username)
        already = _is_member(row.group, user)
        if not already:
            self.directory.add_member(group, user.username)
            self.groups.mirror_group(group)
        if admin:
            CollaborationAdmin.insert(cgroup=row, user=user).on_conflict_ignore().execute()
        if not already:
            self._after_membership_change(row.group)
            self.notifications.notify_group(
                actor,
                row.group,
                f"{user.username} joined {group} (added by {actor.username}).",
                "group",
                group,
            )
        self.audit(actor, "group.add", group, detail=f"{user.username} admin={bool(admin)}")
        return self._view_of(actor, row)

    def remove_collab_member(
        self, actor: Actor, group: str, username: str, admin_only: bool = False
    ) -> CollabGroupView:
        """Group admins remove a member (or, with `admin_only`, only their group-admin rights)."""
        row = self._managed_group(actor, group, "group.remove")
        self.notifications.throttle(actor, "change")
        if row.is_personal:
            raise ValidationError(f"{group} is a personal group: its one member cannot be removed.")
        user = User.get_or_none(User.username == validation.username(username))
        if user is None or not (_is_member(row.group, user) or _is_admin_of(row, user)):
            raise NotFound(f"{username!r} is not a member of {group}.")
        creator = _creator_name(row)
        if not authz.can_remove_from_group(actor, creator, user.username):
            raise self.refuse(
                actor,
                "group.remove",
                group,
                f"{creator} created {group}: only they or an admin may remove them or take their admin "
                "rights.",
            )
        CollaborationAdmin.delete().where(
            (CollaborationAdmin.cgroup == row) & (CollaborationAdmin.user == user)
        ).execute()
        if not admin_only:
            self._leave(actor, row, user, f"{user.username} left {group} (removed by {actor.username}).")
        self.audit(actor, "group.remove", group, detail=f"{user.username} admin_only={bool(admin_only)}")
        return self._view_of(actor, row)

    def join_group(self, actor: Actor, group: str) -> CollabGroupView:
        """Join a public group."""
        me = self.require_row(actor, "join a group")
        row = self.visible_group(actor, group, "group.join")
        self.notifications.throttle(actor, "change")
        if _is_member(row.group, me):
            raise ValidationError(f"You are a member of {group} already.")
        if not row.is_public:
            raise self.refuse(
                actor, "group.join", group, f"{group} is not public: ask one of its admins to add you."
            )
        self.directory.add_member(group, me.username)
        self.groups.mirror_group(group)
        self._after_membership_change(row.group)
        self.notifications.notify_group(actor, row.group, f"{me.username} joined {group}.", "group", group)
        self.audit(actor, "group.join", group)
        return self._view_of(actor, row)

    def leave_group(self, actor: Actor, group: str) -> None:
        """Leave a group one belongs to (not one's personal group)."""
        me = self.require_row(actor, "leave a group")
        row = self.visible_group(actor, group, "group.leave")
        self.notifications.throttle(actor, "change")
        if row.is_personal:
            raise ValidationError("You cannot leave your personal group.")
        if not _is_member(row.group, me):
            raise ValidationError(f"You are not a member of {group}.")
        CollaborationAdmin.delete().where(
            (CollaborationAdmin.cgroup == row) & (CollaborationAdmin.user == me)
        ).execute()
        self._leave(actor, row, me, f"{me.username} left {group}.")
        self.audit(actor, "group.leave", group)

    # ------------------------------------------------------------------ helpers

    def _leave(self, actor: Actor, row: CollaborationGroup, user: User, text: str) -> None:
        group: Group = row.group
        self.notifications.notify_group(actor, group, text, "group", group.name, extra=(user,))
        self.directory.remove_member(group.name, user.username)
        self.groups.mirror_group(group.name)
        self._after_membership_change(group)

    def _after_membership_change(self, group: Group) -> None:
        for share in Share.select().join(ShareGrant).where(ShareGrant.group == group):
            self.groups.sync_share_members(share)

    def _actor_row(self, actor: Actor) -> User | None:
        return cast(User | None, User.get_or_none((User.username == actor.username) & (User.active == True)))  # noqa: E712

    def require_row(self, actor: Actor, what: str) -> User:
        row = self._actor_row(actor)
        if row is None:
            raise ValidationError(
                f"{actor.username} is not a directory user, so cannot {what}: act as a directory user."
            )
        return row

    def _member_row(self, username: str) -> User:
        username = validation.username(username)
        row = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
        if row is None:
            raise NotFound(f"No user named {username!r}.")
        return cast(User, row)

    def ensure_personal(self, user: User) -> CollaborationGroup:
        """The user's personal one-member group (named after them), made on first use."""
        found = _personal_group(user.username)
        if found is not None:
            return found
        try:
            self.directory.get_group(user.username)
        except NotFound:
            self.directory.create_group(user.username, description=f"Personal group of {user.username}")
        self.directory.add_member(user.username, user.username)
        group = self.groups.mirror_group(user.username, "collaboration")
        with database_proxy.atomic():
            row, _ = CollaborationGroup.get_or_create(
                group=group, defaults={"creator": user, "is_personal": True, "is_public": False}
            )
            CollaborationAdmin.insert(cgroup=row, user=user).on_conflict_ignore().execute()
        return cast(CollaborationGroup, row)

    def _find_group(self, name: str) -> CollaborationGroup | None:
        row = (CollaborationGroup.select(CollaborationGroup, Group).join(Group)
               .where(Group.name == name).first())
        if row is None:
            user = User.get_or_none((User.username == name) & (User.active == True))  # noqa: E712
            if user is not None:
                row = self.ensure_personal(user)
        return cast(CollaborationGroup | None, row)

    def visible_group(
        self, actor: Actor, name: str, action: str, personal_ok: bool = False
    ) -> CollaborationGroup:
        """The group if the actor may see it (member, public, admin; `personal_ok`: any personal group)."""
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("A group name is required.")
        name = name.strip()
        row = self._find_group(name) if len(name) <= validation.USERNAME_MAX else None
        if row is not None:
            is_member = GroupMember.select().join(User).where(
                (GroupMember.group == row.group) & (User.username == actor.username)
            ).exists()
            if authz.can_see_group(actor, is_member=is_member, is_public=row.is_public) or (
                personal_ok and row.is_personal and _shares_a_group(actor.username, row.group.name)
            ):
                return row
        self.audit(actor, action, name[:64], "refused", "no such group visible")
        raise NotFound(f"No group named {name!r}.")

    def _managed_group(self, actor: Actor, name: str, action: str) -> CollaborationGroup:
        row = self.visible_group(actor, name, action)
        if not authz.can_manage_group(actor, (*_admin_names(row), _creator_name(row))):
            raise self.refuse(actor, action, name, f"Only the admins of {name} may do that.")
        return row

    def _end_group(self, group: Group) -> None:
        """A group goes: its grants end (the shares' members are recomputed), then the directory
        group and its rows."""
        shares = list(Share.select().join(ShareGrant).where(ShareGrant.group == group))
        ShareGrant.delete().where(ShareGrant.group == group).execute()
        for share in shares:
            self.groups.sync_share_members(share)
        self.groups.drop_directory_group(group.name)
        with database_proxy.atomic():
            group.delete_instance(recursive=True)
            # files in homes and shares may carry it, and running containers have it until they restart
            self.kept.retire("gid", group.gid, f"group {group.name}")

    def end_personal_group(self, username: str) -> None:
        """A deleted user's personal group goes with them, so that a later account of the same name
        does not inherit what was shared with them."""
        row = _personal_group(username)
        if row is not None:
            self._end_group(row.group)

    def _view_of(self, actor: Actor, row: CollaborationGroup) -> CollabGroupView:
        group = row.group
        members = tuple(
            sorted(
                n
                for (n,) in User.select(User.username)
                .join(GroupMember)
                .where(GroupMember.group == group)
                .tuples()
            )
        )
        admins = _admin_names(row)
        shares = tuple(sorted(
            n for (n,) in Share.select(Share.name).join(ShareGrant).where(ShareGrant.group == group).tuples()
        ))
        return self._group_view(actor, row, members, admins, shares)

    def _group_view(
        self,
        actor: Actor,
        row: CollaborationGroup,
        members: tuple[str, ...],
        admins: tuple[str, ...],
        shares: tuple[str, ...],
    ) -> CollabGroupView:
        creator = row.creator.username if row.creator_id else ""
        if not (actor.is_admin or actor.username in members):
            shares = ()  # a public group's grants are its members' business
        return CollabGroupView(
            name=row.group.name, gid=row.group.gid, creator=creator, is_public=row.is_public,
            is_personal=row.is_personal, members=tuple(members), admins=tuple(admins), shares=tuple(shares),
            description=row.group.description, is_member=actor.username in members,
            can_manage=authz.can_manage_group(actor, (*admins, creator)),
        )


def name_taken(name: str) -> AlreadyExists:
    """The one answer for a taken group or share name, whoever or whatever holds it (DESIGN §8):
    names are one namespace, and the answer says nothing about what holds it."""
    return AlreadyExists(f"The name {name!r} is taken: choose another name.")


def _creator_name(row: CollaborationGroup) -> str:
    """The group's creator's user name ("" when their account is gone)."""
    return cast(str, row.creator.username) if row.creator_id else ""


def _shares_a_group(username: str, other: str) -> bool:
    """Whether `username` and `other` are both members of some collaboration group that is
    nobody's personal one: only then may `username` reach `other`'s personal group."""
    mine = (GroupMember.select(GroupMember.group).join(User).where(User.username == username))
    return bool(GroupMember.select().join(User).switch(GroupMember).join(Group)
                .join(CollaborationGroup, on=(CollaborationGroup.group == Group.id))
                .where((User.username == other) & GroupMember.group.in_(mine)
                       & (CollaborationGroup.is_personal == False)).exists())  # noqa: E712


def _is_member(group: Group, user: User) -> bool:
    return bool(
        GroupMember.select().where((GroupMember.group == group) & (GroupMember.user == user)).exists()
    )


def _is_admin_of(row: CollaborationGroup, user: User) -> bool:
    return bool(CollaborationAdmin.select().where(
        (CollaborationAdmin.cgroup == row) & (CollaborationAdmin.user == user)
    ).exists())


def _admin_names(row: CollaborationGroup) -> tuple[str, ...]:
    return tuple(sorted(
        n for (n,) in User.select(User.username).join(CollaborationAdmin)
        .where(CollaborationAdmin.cgroup == row).tuples()
    ))


def _members_by_group() -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for group_id, name in GroupMember.select(GroupMember.group, User.username).join(User).tuples():
        found.setdefault(group_id, []).append(name)
    return {key: tuple(sorted(value)) for key, value in found.items()}


def _admins_by_cgroup() -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for cgroup_id, name in (
        CollaborationAdmin.select(CollaborationAdmin.cgroup, User.username).join(User).tuples()
    ):
        found.setdefault(cgroup_id, []).append(name)
    return {key: tuple(sorted(value)) for key, value in found.items()}


def _shares_by_group() -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for group_id, name in ShareGrant.select(ShareGrant.group, Share.name).join(Share).tuples():
        found.setdefault(group_id, []).append(name)
    return {key: tuple(sorted(value)) for key, value in found.items()}


def _personal_group(username: str) -> CollaborationGroup | None:
    """`username`'s personal group, if it has been made."""
    row = (CollaborationGroup.select(CollaborationGroup, Group).join(Group)
           .where((Group.name == username) & (CollaborationGroup.is_personal == True))  # noqa: E712
           .first())
    return cast(CollaborationGroup | None, row)
