"""Shares (DESIGN §14): folders `<data root>/shares/<name>` owned by their own directory group
`share-<name>` (2770, setgid), granted to collaboration groups; images shared the same way.

The share group's members are always its owner plus the members of the granted groups; they are
recomputed in the directory after every grant, revoke and membership change. Containers mount
each usable share on its own at their next start (service.containers), so the UI says
"restart to see it" for running ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from peewee import fn

from .. import validation
from ..domain import (
    Actor,
    AlreadyExists,
    ContainerState,
    DeleteShareReport,
    NotFound,
    ShareChange,
    ShareView,
    ValidationError,
)
from ..store.models import (
    Container,
    Group,
    GroupMember,
    Image,
    ImageAccess,
    Share,
    ShareGrant,
    User,
    database_proxy,
)
from . import authz
from .base import Component, Ports
from .collab import Collaboration, name_taken
from .groups import GroupMirror
from .kept import Kept
from .notifications import Notifications

CHOICES = ("keep", "archive", "delete")
SHARES_IN_CONTAINER = "/data/shares"


class Shares(Component):
    """Use cases on shares and on sharing images with groups."""

    def __init__(
        self, ports: Ports, *, kept: Kept, notifications: Notifications, groups: GroupMirror,
        collaboration: Collaboration,
    ) -> None:
        super().__init__(ports)
        self.kept = kept
        self.notifications = notifications
        self.groups = groups
        self.collaboration = collaboration

    # ------------------------------------------------------------------ reading

    def list_shares(self, actor: Actor, query: str = "") -> list[ShareView]:
        """Shares the actor owns or may use (admins: all), filtered by `query` (name or description)."""
        rows = (Share.select(Share, User.id, User.username, Group.id, Group.name, Group.gid)
                .join(User, on=(Share.owner == User.id)).switch(Share).join(Group).order_by(Share.name))
        if query:
            needle = query.strip().lower()
            rows = rows.where((fn.instr(fn.lower(Share.name), needle) > 0)
                              | (fn.instr(fn.lower(Share.description), needle) > 0))
        members: dict[int, list[str]] = {}
        for group_id, name in (GroupMember.select(GroupMember.group, User.username).join(User)
                               .switch(GroupMember).join(Group).where(Group.kind == "share").tuples()):
            members.setdefault(group_id, []).append(name)
        grants: dict[int, list[str]] = {}
        for share_id, name in ShareGrant.select(ShareGrant.share, Group.name).join(Group).tuples():
            grants.setdefault(share_id, []).append(name)
        views = []
        for row in rows:
            names = members.get(row.group_id, [])
            if not authz.can_use_share(actor, row.owner.username, names):
                continue
            views.append(self._share_view(actor, row, names, grants.get(row.id, [])))
        return views

    def get_share(self, actor: Actor, name: str) -> ShareView:
        row = self._usable_share(actor, name, "share.show")
        return self._share_view_of(actor, row)

    # ------------------------------------------------------------------ changing

    def create_share(self, actor: Actor, name: str, description: str = "") -> ShareView:
        """A new share owned by the actor: its group `share-<name>` and its folder (2770, setgid)."""
        name = validation.share_name(name)
        description = validation.description(description)
        me = self.collaboration.require_row(actor, "own a share")
        group_name = validation.SHARE_PREFIX + name
        if (Share.select().where(Share.name == name).exists()
                or Group.select().where(Group.name == group_name).exists()):
            raise name_taken(name)
        stale = self.data.share_of(name)
        if stale.exists():  # kept by a delete before kept folders left the namespace: never the new owner's
            self.data.move_aside(stale, f"share-{name}")
        try:
            self.directory.create_group(group_name, description=f"Share {name}")
        except AlreadyExists:
            raise name_taken(name) from None
        try:
            self.directory.add_member(group_name, me.username)
            group = self.groups.mirror_group(group_name, "share")
            self.data.ensure_share(name, group.gid)
            row = Share.create(name=name, group=group, owner=me, description=description)
        except Exception:
            self.groups.drop_directory_group(group_name)
            Group.delete().where(Group.name == group_name).execute()
            raise
        self.audit(actor, "share.create", name)
        return self._share_view_of(actor, row)

    def delete_share(self, actor: Actor, name: str, data: str = "archive") -> DeleteShareReport:
        """Delete a share (owner, admins). Its folder leaves the namespace at once (moved aside under
        archive/kept, root's), then is kept there, archived to a .tar.gz, or deleted; the share's gid
        is retired while a kept folder or a running container may carry it (DESIGN §14)."""
        if data not in CHOICES:
            raise ValidationError(f"data must be one of {', '.join(CHOICES)}, not {data!r}.")
        row = self._managed_share(actor, name, "share.delete")
        users = self._share_member_names(row)
        restart = self._running_containers_of(users)
        archived = removed = kept = ""
        folder = self.data.share_of(row.name)
        aside = self.data.move_aside(folder, f"share-{row.name}") if folder.exists() else None
        if aside is not None and data == "archive":
            archived = str(self.data.archive_folder(f"share-{row.name}", aside, f"shares/{row.name}"))
        if aside is not None and data in ("archive", "delete"):
            if self.data.remove_tree(aside):
                removed = str(folder)
                aside = None
            else:  # still written through a running container's mount: it stays out of the namespace
                kept = str(aside)
        elif aside is not None:
            kept = str(aside)
        group: Group = row.group
        with database_proxy.atomic():
            row.delete_instance(recursive=True)
            group.delete_instance(recursive=True)
            self.kept.retire("gid", group.gid, f"share {row.name}", aside)
        self.groups.drop_directory_group(group.name)
        self.audit(actor, "share.delete", name, detail=f"data={data}")
        return DeleteShareReport(name, data, archived, removed, kept, restart)

    def grant_share(self, actor: Actor, share: str, group: str) -> ShareChange:
        """Give a collaboration group (or a user, through their personal group) access to a share."""
        row = self._managed_share(actor, share, "share.grant")
        cgroup = self.collaboration.visible_group(actor, group, "share.grant", personal_ok=True)
        self.notifications.throttle(actor, "change")
        before = set(self._share_member_names(row))
        ShareGrant.insert(share=row, group=cgroup.group).on_conflict_ignore().execute()
        self.groups.sync_share_members(row)
        gained = sorted(set(self._share_member_names(row)) - before)
        notified = self.notifications.notify_group(
            actor,
            cgroup.group,
            f"{actor.username} shared {share} with {cgroup.group.name}: it is at "
            f"{SHARES_IN_CONTAINER}/{share} in your notebooks (restart running ones to see it).",
            "share",
            share,
        )
        self.audit(actor, "share.grant", share, detail=cgroup.group.name)
        return ShareChange(share, cgroup.group.name, notified, self._running_containers_of(gained),
                           _restart_note(share, "see"))

    def revoke_share(self, actor: Actor, share: str, group: str) -> ShareChange:
        """End a group's access to a share; its members lose it at their containers' next start."""
        row = self._managed_share(actor, share, "share.revoke")
        self.notifications.throttle(actor, "change")
        grant = (ShareGrant.select(ShareGrant, Group).join(Group)
                 .where((ShareGrant.share == row) & (Group.name == group)).first())
        if grant is None:
            raise NotFound(f"{group!r} is not granted on {share}.")
        before = set(self._share_member_names(row))
        notified = self.notifications.notify_group(
            actor, grant.group, f"{actor.username} revoked {grant.group.name}'s access to the share {share}.",
            "share", share,
        )
        grant.delete_instance()
        self.groups.sync_share_members(row)
        lost = sorted(before - set(self._share_member_names(row)))
        self.audit(actor, "share.revoke", share, detail=grant.group.name)
        return ShareChange(share, grant.group.name, notified, self._running_containers_of(lost),
                           _restart_note(share, "lose"))

    def share_image(self, actor: Actor, image: str, group: str) -> ShareChange:
        """Let a group's members create containers from an image (its owner, admins); they are notified."""
        row = self._managed_image(actor, image, "image.share")
        cgroup = self.collaboration.visible_group(actor, group, "image.share", personal_ok=True)
        self.notifications.throttle(actor, "change")
        ImageAccess.insert(image=row, group=cgroup.group).on_conflict_ignore().execute()
        notified = self.notifications.notify_group(
            actor, cgroup.group,
            f"{actor.username} shared the image {row.name} with {cgroup.group.name}: "
            "you can create notebooks from it now.",
            "image", row.name,
        )
        self.audit(actor, "image.share", row.name, detail=cgroup.group.name)
        return ShareChange(row.name, cgroup.group.name, notified, (), "")

    def unshare_image(self, actor: Actor, image: str, group: str) -> ShareChange:
        """Stop sharing an image with a group (existing containers keep running)."""
        row = self._managed_image(actor, image, "image.unshare")
        access = (ImageAccess.select(ImageAccess, Group).join(Group)
                  .where((ImageAccess.image == row) & (Group.name == group)).first())
        if access is None:
            raise NotFound(f"The image {image} is not shared with {group!r}.")
        access.delete_instance()
        self.audit(actor, "image.unshare", row.name, detail=group)
        return ShareChange(row.name, group, (), (), "")

    # ------------------------------------------------------------------ helpers

    def _find_share(self, name: str) -> Share | None:
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            return None
        return cast(Share | None, (Share.select(Share, User, Group).join(User, on=(Share.owner == User.id))
                .switch(Share).join(Group).where(Share.name == name.strip()).first()))

    def _usable_share(self, actor: Actor, name: str, action: str) -> Share:
        row = self._find_share(name)
        if row is None or not authz.can_use_share(actor, row.owner.username, self._share_member_names(row)):
            self.audit(actor, action, str(name)[:64], "refused", "no such share visible")
            raise NotFound(f"No share named {name!r}.")
        return row

    def _managed_share(self, actor: Actor, name: str, action: str) -> Share:
        row = self._usable_share(actor, name, action)
        if not authz.can_manage_share(actor, row.owner.username):
            raise self.refuse(
                actor, action, name, f"Only {row.owner.username}, who owns {name}, may do that."
            )
        return row

    def _managed_image(self, actor: Actor, name: str, action: str) -> Image:
        row = Image.get_or_none(Image.name == name) if isinstance(name, str) else None
        owner = row.owner.username if row is not None and row.owner_id else None
        if row is None or not authz.can_share_image(actor, owner):
            if row is not None and authz.can_use_image(actor, owner=owner, is_public=row.is_public,
                                                       retired=row.retired, access_groups=[]):
                raise self.refuse(actor, action, name, f"Only the owner of {name} and admins may share it.")
            self.audit(actor, action, str(name)[:64], "refused", "no such image visible")
            raise NotFound(f"No image named {name!r}.")
        return cast(Image, row)

    def _share_member_names(self, row: Share) -> list[str]:
        return [n for (n,) in User.select(User.username).join(GroupMember)
                .where(GroupMember.group == row.group_id).tuples()]

    def _running_containers_of(self, usernames: Iterable[str]) -> tuple[str, ...]:
        names = list(usernames)
        if not names:
            return ()
        rows = (Container.select(Container.name, User.username).join(User)
                .where(User.username.in_(names) & Container.state.in_(
                    [ContainerState.RUNNING.value, ContainerState.PAUSED.value, "starting"]))
                .order_by(User.username, Container.name).tuples())
        return tuple(f"{owner}/{name}" for name, owner in rows)

    def usable_share_mounts(self, user: User) -> list[tuple[str, int]]:
        """(name, gid) of every share `user` may use: the shares whose group lists them."""
        return list(Share.select(Share.name, Group.gid).join(Group).join(GroupMember)
                    .where(GroupMember.user == user).order_by(Share.name).tuples())

    def _share_view_of(self, actor: Actor, row: Share) -> ShareView:
        grants = [
            n for (n,) in Group.select(Group.name).join(ShareGrant).where(ShareGrant.share == row).tuples()
        ]
        return self._share_view(actor, row, self._share_member_names(row), grants)

    def _share_view(
        self, actor: Actor, row: Share, members: Iterable[str], grants: Iterable[str]
    ) -> ShareView:
        return ShareView(
            name=row.name, owner=row.owner.username, group=row.group.name, gid=row.group.gid,
            description=row.description, grants=tuple(sorted(grants)), members=tuple(sorted(members)),
            path=f"{SHARES_IN_CONTAINER}/{row.name}",
            can_manage=authz.can_manage_share(actor, row.owner.username), created=row.created,
        )


def _restart_note(share: str, verb: str) -> str:
    return f"Running notebooks {verb} {SHARES_IN_CONTAINER}/{share} at their next start: restart them."

