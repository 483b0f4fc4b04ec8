"""The authorization rules of DESIGN §8, as pure functions of an actor and a thing."""

from __future__ import annotations

from collections.abc import Iterable

from ..domain import Actor


def can_act_on_container(actor: Actor, owner: str) -> bool:
    """Owners and admins may see and act on a container (and see its token and URL)."""
    return actor.is_admin or actor.username == owner


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


def can_manage_users(actor: Actor) -> bool:
    """Manage users and groups: admins only."""
    return actor.is_admin


def can_manage_share(actor: Actor, share_owner: str) -> bool:
    """A share is managed by its owner and admins; members only read it."""
    return actor.is_admin or actor.username == share_owner
