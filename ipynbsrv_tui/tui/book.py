"""The UI thread's copy of the containers the actor may see, kept live by the container feed."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from textual.dom import DOMNode
from textual.signal import Signal

from ..domain import ConnectionInfo, ContainerChange, ContainerState, ContainerStats, ContainerView

HISTORY = 120
ACTIVE_STATES = (
    ContainerState.STARTING,
    ContainerState.RUNNING,
    ContainerState.PAUSED,
    ContainerState.RESTARTING,
)


class ContainerBook:
    """Views by id plus the latest resource samples; screens subscribe to `changed` / `stats_changed`.

    `changed` carries the set of ids that changed, or None after a full reload. Only the UI
    thread touches the book.
    """

    def __init__(self, owner: DOMNode) -> None:
        self._owner = owner
        self._fetching: dict[int, list[Callable[[ConnectionInfo], object]]] = {}
        self.views: dict[int, ContainerView] = {}
        self.stats: dict[int, ContainerStats] = {}
        self.history: dict[int, deque[ContainerStats]] = {}
        self.connections: dict[int, ConnectionInfo] = {}
        self.loaded = False
        self.stale = False  # the service is unreachable: states and uptimes are what they were
        self._search: dict[int, tuple[str, str, str, str]] = {}
        self._removed: set[int] = set()  # deleted here: a later feed view of them is from before
        self.changed: Signal[frozenset[int] | None] = Signal(owner, "containers-changed")
        self.stats_changed: Signal[frozenset[int]] = Signal(owner, "stats-changed")

    # ------------------------------------------------------------------ updates

    def set_stale(self, stale: bool) -> None:
        """Mark the views as no longer live (the service is lost) or live again; repaints every row."""
        if stale == self.stale:
            return
        self.stale = stale
        if stale:
            self.stats.clear()
        self.changed.publish(None)

    def forget_all(self) -> None:
        """Drop every view, sample and connection (tokens included): the actor's rights changed."""
        self.views, self._search, self.stats, self.history, self.connections = {}, {}, {}, {}, {}
        self._fetching.clear()
        self.loaded = False
        self.changed.publish(None)

    def load(self, views: list[ContainerView]) -> None:
        self.stale = False
        self._removed.clear()
        self.views = {view.id: view for view in views}
        self._search = {view.id: _search_key(view) for view in views}
        for gone in set(self.stats) - set(self.views):
            self._forget(gone)
        self.loaded = True
        self.changed.publish(None)

    def apply(self, changes: list[ContainerChange]) -> None:
        ids = set()
        for change in changes:
            ids.add(change.container_id)
            if change.view is None:
                self.views.pop(change.container_id, None)
                self._search.pop(change.container_id, None)
                self._forget(change.container_id)
                self._removed.add(change.container_id)
            elif change.action == "create" or change.container_id not in self._removed:
                self._removed.discard(change.container_id)
                self._put(change.view)
            # else: a view read before the delete (the destroy event's "missing" one) came after it
        if ids:
            self.changed.publish(frozenset(ids))

    def put(self, view: ContainerView) -> None:
        """A view fresh from an action's answer (the engine event will confirm it)."""
        self._removed.discard(view.id)
        self._put(view)
        self.changed.publish(frozenset({view.id}))

    def remove(self, container_id: int) -> None:
        self.apply([ContainerChange(container_id, "delete", None)])

    def set_stats(self, samples: dict[int, ContainerStats]) -> None:
        for container_id, stats in samples.items():
            if container_id not in self.views:
                continue
            self.stats[container_id] = stats
            self.history.setdefault(container_id, deque(maxlen=HISTORY)).append(stats)
        if samples:
            self.stats_changed.publish(frozenset(samples))

    def fetch_connection(self, container_id: int, then: Callable[[ConnectionInfo], object] | None = None,
                         quiet: bool = False) -> None:
        """The one fetcher of connection info (URL, ssh tunnel): from the book when known, else asked
        for in a background call (`owner.run_call`); `then(info)` runs once it is known and the
        screens showing the container repaint through `changed`. `quiet` skips the error note."""
        info = self.connections.get(container_id)
        if info is not None:
            if then is not None:
                then(info)
            return
        waiting = self._fetching.get(container_id)
        if waiting is not None:
            if then is not None:
                waiting.append(then)
            return
        self._fetching[container_id] = [then] if then is not None else []
        session = self._owner.session  # type: ignore[attr-defined]
        self._owner.run_call(  # type: ignore[attr-defined]
            session.connection_info,
            container_id,
            then=lambda info: self._connected(container_id, info),
            failed=lambda exc: self._not_connected(container_id, exc, quiet),
            group=f"connection-{container_id}",
        )

    def _connected(self, container_id: int, info: ConnectionInfo) -> None:
        waiting = self._fetching.pop(container_id, [])
        if container_id not in self.views:
            return
        self.connections[container_id] = info
        self.changed.publish(frozenset({container_id}))
        for then in waiting:
            then(info)

    def _not_connected(self, container_id: int, exc: BaseException, quiet: bool) -> None:
        self._fetching.pop(container_id, None)
        if not quiet:
            self._owner.show_error(exc, "No connection details")  # type: ignore[attr-defined]

    def _put(self, view: ContainerView) -> None:
        self.views[view.id] = view
        self._search[view.id] = _search_key(view)
        if view.state not in ACTIVE_STATES:
            self.stats.pop(view.id, None)

    def _forget(self, container_id: int) -> None:
        self.stats.pop(container_id, None)
        self.history.pop(container_id, None)
        self.connections.pop(container_id, None)

    # ------------------------------------------------------------------ reading

    def get(self, container_id: int | None) -> ContainerView | None:
        return None if container_id is None else self.views.get(container_id)

    def ordered(self, owner: str | None = None) -> list[int]:
        """Ids sorted by owner and name (only `owner`'s when given)."""
        views: Iterable[ContainerView] = self.views.values()
        if owner is not None:
            views = [v for v in views if v.owner == owner]
        return [v.id for v in sorted(views, key=lambda v: (v.owner, v.name.lower(), v.id))]

    def matches(self, container_id: int, terms: list[tuple[str | None, str]]) -> bool:
        """Whether a container matches every filter term: (field or None for any, lower-case text)."""
        owner, name, state, image = self._search[container_id]
        for where, text in terms:
            if where == "owner":
                ok = text in owner
            elif where == "name":
                ok = text in name
            elif where == "state":
                ok = state.startswith(text)
            elif where == "image":
                ok = text in image
            else:
                ok = text in owner or text in name or state.startswith(text)
            if not ok:
                return False
        return True


FILTER_FIELDS = ("owner", "name", "state", "image")


def parse_filter(text: str) -> list[tuple[str | None, str]]:
    """`alice run` → any-field terms; `owner:alice state:running` → field terms."""
    terms: list[tuple[str | None, str]] = []
    for token in text.lower().split():
        where, sep, value = token.partition(":")
        if sep and where in FILTER_FIELDS:
            if value:
                terms.append((where, value))
        else:
            terms.append((None, token))
    return terms


def _search_key(view: ContainerView) -> tuple[str, str, str, str]:
    return view.owner.lower(), view.name.lower(), view.state.value, view.image.lower()
