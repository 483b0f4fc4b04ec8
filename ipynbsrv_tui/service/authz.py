"""The authorization rules of DESIGN §8, as pure functions of an actor and a thing."""

from __future__ import annotations

from collections.abc import Iterable

from ..domain import Actor


def is_owner(username: str, owner: str) -> bool:
    """Whether the account `username` owns what `owner` names: the one place names are compared."""
    return username == owner


def is_owner_or_admin(actor: Actor, owner: str) -> bool:
    """The rule behind every "its owner and admins" below: one place to read and change it."""
    return actor.is_admin or is_owner(actor.username, owner)


def can_act_on_container(actor: Actor, owner: str) -> bool:
    """Owners and admins may see and act on a container (and see its token and URL), in the
    console and on the web, and hear of its changes."""
    return is_owner_or_admin(actor, owner)


def can_use_image(
    actor: Actor, *, owner: str | None, is_public: bool, retired: bool, access_groups: Iterable[str]
) -> bool:
    """Admins may use any image that is not retired; others public, own or shared-with-their-group ones."""
    if retired:
        return False
    if actor.is_admin or is_public:
        return True
    if owner is not None and owner == actor.username:
        return True
    return bool(set(access_groups) & set(actor.groups))


def can_manage_images(actor: Actor) -> bool:
    """Build, register, edit, retire images: admins only."""
    return actor.is_admin


def can_share_image(actor: Actor, owner: str | None) -> bool:
    """Share an image with a group: its owner and admins (an image without owner: admins only)."""
    return actor.is_admin if owner is None else is_owner_or_admin(actor, owner)


def can_manage_users(actor: Actor) -> bool:
    """Manage users and groups: admins only."""
    return actor.is_admin


def is_self_or_user_manager(actor: Actor, username: str) -> bool:
    """A user's own account (seeing it, changing its password), or any account for who manages users."""
    return is_owner(actor.username, username) or can_manage_users(actor)


def can_manage_share(actor: Actor, share_owner: str) -> bool:
    """A share is managed by its owner and admins; members only read it."""
    return is_owner_or_admin(actor, share_owner)


def can_see_group(actor: Actor, *, is_member: bool, is_public: bool) -> bool:
    """A collaboration group is seen by its members, by everyone when public, and by admins."""
    return actor.is_admin or is_member or is_public


def can_manage_group(actor: Actor, group_admins: Iterable[str]) -> bool:
    """Its group admins and creator (pass both in `group_admins`) and admins add and remove members and
    admins."""
    return actor.is_admin or actor.username in set(group_admins)


def can_delete_group(actor: Actor, creator: str) -> bool:
    """Only its creator and admins delete a group; co-admins cannot (DESIGN §8), unless the
    creator's account is gone (`creator` empty)."""
    return is_owner_or_admin(actor, creator) or not creator


def can_remove_from_group(actor: Actor, creator: str, member: str) -> bool:
    """Co-admins may remove or demote anyone but the group's creator; the creator (leaving or
    stepping down) and admins may remove anyone (DESIGN §8)."""
    return actor.is_admin or member != creator or is_owner(actor.username, creator)


def can_use_share(actor: Actor, share_owner: str, share_members: Iterable[str]) -> bool:
    """Members of granted groups (the share group's members), its owner and admins use a share."""
    return is_owner_or_admin(actor, share_owner) or actor.username in set(share_members)


def can_notify(actor: Actor, *, is_member: bool) -> bool:
    """Users send to groups they belong to; admins to anyone."""
    return actor.is_admin or is_member


def can_manage_backups(actor: Actor) -> bool:
    """Set up, run and watch backups: admins only (DESIGN §17)."""
    return actor.is_admin


def can_restore_home(actor: Actor, owner: str) -> bool:
    """Browse and restore a home's backups: its owner and admins (shares: `can_use_share`, as of now)."""
    return is_owner_or_admin(actor, owner)
