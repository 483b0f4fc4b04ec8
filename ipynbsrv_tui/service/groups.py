"""The store's copy of directory groups (DESIGN §7, §14): collaboration groups and share groups
are directory groups first; these calls copy one into the store, drop one, and recompute a
share group's members from its grants."""

from __future__ import annotations

from typing import cast

from ..directory.sync import set_group_members
from ..domain import NotFound
from ..store.models import Group, GroupMember, Share, ShareGrant, User, database_proxy
from .base import Component


class GroupMirror(Component):
    """Directory groups into the store, one at a time (a full sync is `users sync`)."""

    def mirror_group(self, name: str, kind: str | None = None) -> Group:
        """Copy one directory group (gid, members) into the store, without a full sync."""
        found = self.directory.get_group(name)
        with database_proxy.atomic():
            row = Group.get_or_none(Group.name == name)
            if row is None:
                row = Group.create(name=name, gid=found.gid, kind=kind or "collaboration",
                                   description=found.description, source=self.directory.kind)
            elif kind is not None and row.kind != kind:
                Group.update(kind=kind).where(Group.id == row.id).execute()
            wanted = set(
                uid for (uid,) in User.select(User.id).where(User.username.in_(list(found.members))).tuples()
            ) if found.members else set()
            set_group_members(row, wanted)
        return cast(Group, row)

    def drop_directory_group(self, name: str) -> None:
        try:
            self.directory.delete_group(name)
        except NotFound:
            pass

    def sync_share_members(self, row: Share) -> None:
        """Make the share group's directory members its owner plus every granted group's members."""
        owner = User.get_by_id(row.owner_id)
        granted = [g for (g,) in ShareGrant.select(ShareGrant.group).where(ShareGrant.share == row).tuples()]
        wanted = {owner.username} if owner.active else set()
        if granted:
            wanted |= {n for (n,) in User.select(User.username).join(GroupMember)
                       .where(GroupMember.group.in_(granted) & (User.active == True)).tuples()}  # noqa: E712
        group_name = Group.get_by_id(row.group_id).name
        have = set(self.directory.get_group(group_name).members)
        for username in sorted(wanted - have):
            self.directory.add_member(group_name, username)
        for username in sorted(have - wanted):
            self.directory.remove_member(group_name, username)
        self.mirror_group(group_name, "share")
