"""Rights that change while a session is open (DESIGN §8).

The store counts every change of what decides an actor's rights (`rights.epoch`, kept by
triggers on users, memberships and group names, whichever process writes them). `RightsWatch`
polls that count and, when it moved, resolves the session's uid again: it yields the new Actor
when the rights differ, and ends with `RightsChanged` when the account may no longer be served.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Protocol, Self

from ..domain import Actor, IpynbsrvError, NotAuthorized, NotFound, RightsChanged, StoreError
from ..store.models import Setting

RIGHTS_EPOCH_KEY = "rights.epoch"
POLL_SECONDS = 0.25  # the liveness budget for a rights change is 1 s


def rights_epoch() -> int:
    """The store's count of rights changes (0 on a store without it)."""
    row = Setting.get_or_none(Setting.key == RIGHTS_EPOCH_KEY)
    try:
        return int(row.value) if row is not None else 0
    except ValueError:
        return 0


class RightsWatch:
    """Iterate for the session's Actor now, then each time its rights change; `close()` ends it from any
    thread."""

    def __init__(self, actor: Actor, resolve: Callable[[], Actor], poll: float = POLL_SECONDS) -> None:
        self._actor = actor
        self._resolve = resolve
        self._poll = poll
        self._closed = threading.Event()
        self._epoch = rights_epoch()

    def __iter__(self) -> Iterator[Actor]:
        yield self._actor  # who the session is as the watch opens (a reconnecting UI compares)
        while not self._closed.wait(self._poll):
            try:
                epoch = rights_epoch()
                if epoch == self._epoch:
                    continue
                self._epoch = epoch
                actor = self._resolve()
            except (NotFound, NotAuthorized) as exc:
                raise RightsChanged(f"Your access ended: {exc}") from None
            except (StoreError, IpynbsrvError):
                continue  # the store or directory is briefly unreachable: only a refusal ends it
            if _rights(actor) != _rights(self._actor):
                self._actor = actor
                yield actor

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()


def _rights(actor: Actor) -> tuple[str, int, bool, frozenset[str]]:
    return actor.username, actor.uid, actor.is_admin, frozenset(actor.groups)


class ActorLookup(Protocol):
    """Who a uid is now (the users component answers)."""

    def actor_for_uid(self, uid: int) -> Actor: ...


class Rights:
    """`watch_rights` for the sessions and `rights_epoch` for the broker's cached actors."""

    def __init__(self, users: ActorLookup) -> None:
        self.users = users

    def rights_epoch(self) -> int:
        return rights_epoch()

    def watch_rights(self, actor: Actor) -> RightsWatch:
        """The actor's rights as they change (the actor found again from its uid after each change)."""
        return RightsWatch(actor, lambda: self.users.actor_for_uid(actor.uid))
