"""One engine event stream for every client: the broker's own watch, fanned out per actor.

Without it, every open UI would hold its own Docker event stream, and every event would be
recorded in the store once per UI. The broker's events loop publishes each ContainerChange (as
the admin sees it) here; each subscriber receives the changes of the containers its actor may see
(DESIGN §8: owners and admins), with the same view the service would have given it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator

from ..domain import Actor, ContainerChange, ContainerView
from ..service import authz
from .protocol import BrokerUnavailable

log = logging.getLogger("ipynbsrv.broker")

QUEUE_LIMIT = 1000
REMOVED_SECONDS = 5.0  # a late event's view of a container removed this recently is stale
_END = object()


class ChangeSubscription:
    """A closeable iterator of the ContainerChanges one actor may see; `close()` ends it from any thread."""

    def __init__(self, hub: ChangeHub, actor: Actor) -> None:
        self.actor = actor
        self._hub = hub
        self._queue: queue.Queue[ContainerChange | object] = queue.Queue(QUEUE_LIMIT)
        self._closed = threading.Event()
        self._error: str | None = None

    def offer(self, change: ContainerChange) -> bool:
        """Queue a change; False when the reader is too far behind (it is then ended)."""
        try:
            self._queue.put_nowait(change)
            return True
        except queue.Full:
            self._error = (
                f"Live updates fell {QUEUE_LIMIT} changes behind and were stopped; they restart on their own."
            )
            self.close()
            return False

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._hub.unsubscribe(self)
            try:
                self._queue.put_nowait(_END)
            except queue.Full:
                pass

    def __iter__(self) -> Iterator[ContainerChange]:
        """The queued changes, then the end once closed (at once, with an error, when it fell behind)."""
        while not (self._closed.is_set() and (self._error or self._queue.empty())):
            item = self._queue.get()
            if not isinstance(item, ContainerChange):  # _END
                break
            yield item
        if self._error:
            raise BrokerUnavailable(self._error)


class ChangeHub:
    """Publishes the broker's container changes to the subscribers allowed to see them."""

    def __init__(self) -> None:
        self._subscribers: set[ChangeSubscription] = set()
        self._owners: dict[int, str] = {}
        self._removed: dict[int, float] = {}
        # Reentrant: a subscription that falls behind unsubscribes itself while a publish holds it.
        self._lock = threading.RLock()
        self._live = threading.Event()

    @property
    def live(self) -> bool:
        """True while the broker's own event stream is connected."""
        return self._live.is_set()

    def connected(self, views: Iterable[ContainerView]) -> None:
        """The events loop (re)connected; `views` (all containers) tell who owns what."""
        with self._lock:
            self._owners = {view.id: view.owner for view in views}
        self._live.set()

    def disconnected(self) -> None:
        self._live.clear()

    def subscribe(self, actor: Actor) -> ChangeSubscription:
        subscription = ChangeSubscription(self, actor)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: ChangeSubscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def publish(self, change: ContainerChange) -> None:
        """Send `change` to who may see it (from the events loop, or the service after a removal).

        The check against recent removals and the offers happen under one lock: otherwise a view
        read just before a delete (the destroy event's "missing" one) could pass the check, then
        be queued after the delete's removal, and stay on the owner's screen.
        """
        with self._lock:
            owner: str | None
            now = time.monotonic()
            if change.view is not None:
                removed_at = self._removed.get(change.container_id)
                if (
                    removed_at is not None
                    and now - removed_at < REMOVED_SECONDS
                    and change.action != "create"
                ):
                    return  # e.g. the destroy event's "missing" view, read just before the row went
                self._owners[change.container_id] = change.view.owner
                owner = change.view.owner
            else:
                # its owner as seen, else as the deletion says (the events loop may lag behind)
                owner = self._owners.pop(change.container_id, None) or change.owner or None
                self._removed = {cid: at for cid, at in self._removed.items() if now - at < REMOVED_SECONDS}
                self._removed[change.container_id] = now
            for subscription in list(self._subscribers):  # offer() never blocks: a full queue ends it
                actor = subscription.actor
                if actor.is_admin or (owner is not None and authz.can_act_on_container(actor, owner)):
                    subscription.offer(change)

    def close_all(self) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.close()
