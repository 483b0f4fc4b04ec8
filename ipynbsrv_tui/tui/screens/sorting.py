"""Sorting the container lists by a column, as k9s does (issue 28, item 7).

`>` sorts by the next column, `<` reverses the order; the header shows the sort column with ▲
(ascending) or ▼. Without a sort column the list is by owner, then name. Each column's sort value
is plain data of the row (the CPU and memory figures from the last sample); ties keep the owner /
name order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from textual.binding import Binding

from ...domain import ContainerStats, ContainerView
from ..book import ACTIVE_STATES
from ..widgets.table import Column

SORT_BINDINGS = [
    Binding("greater_than_sign", "sort_next", "Sort by the next column", show=False, key_display=">"),
    Binding("less_than_sign", "sort_reverse", "Reverse the sort order", show=False, key_display="<"),
]


def _stamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def _cpu(view: ContainerView, stats: ContainerStats | None) -> float:
    return stats.cpu_percent if stats is not None and view.state in ACTIVE_STATES else -1.0


def _memory(view: ContainerView, stats: ContainerStats | None) -> float:
    return float(stats.memory_bytes) if stats is not None and view.state in ACTIVE_STATES else -1.0


def _uptime(view: ContainerView, _stats: ContainerStats | None) -> float:
    # longest up first when ascending would read oddly: the value is the start time, so ▲ is the newest last
    return -_stamp(view.started_at) if view.state in ACTIVE_STATES and view.started_at else 0.0


SORT_VALUES: dict[str, Callable[[ContainerView, ContainerStats | None], Any]] = {
    "owner": lambda view, _stats: view.owner,
    "name": lambda view, _stats: view.name.lower(),
    "image": lambda view, _stats: view.image.lower(),
    "state": lambda view, _stats: view.state.value,
    "port": lambda view, _stats: view.host_port or 0,
    "cpu": _cpu,
    "memory": _memory,
    "uptime": _uptime,
    "activity": lambda view, _stats: -_stamp(view.last_activity),
    "node": lambda view, _stats: view.node or "",
}
LIVE_COLUMNS = frozenset({"cpu", "memory"})  # their values change with every sample


def sort_ids(ids: Sequence[int], views: dict[int, ContainerView], stats: dict[int, ContainerStats],
             column: str, descending: bool) -> list[int]:
    """`ids` (in owner / name order) sorted by `column`; a stable sort keeps that order for ties."""
    value = SORT_VALUES[column]
    return sorted(ids, key=lambda cid: value(views[cid], stats.get(cid)), reverse=descending)


def next_column(columns: Sequence[Column], current: str | None) -> str | None:
    """The sortable column after `current` (None, the owner / name order, after the last one)."""
    keys = [column.key for column in columns if column.key in SORT_VALUES]
    if current not in keys:
        return keys[0] if keys else None
    index = keys.index(current) + 1
    return keys[index] if index < len(keys) else None


def headed(columns: Sequence[Column], sort: str | None, descending: bool) -> tuple[Column, ...]:
    """The columns with ▲ / ▼ after the sort column's label (its width grows to fit it)."""
    if sort is None:
        return tuple(columns)
    arrow = "▼" if descending else "▲"
    return tuple(
        replace(column, label=f"{column.label} {arrow}", width=max(column.width, len(column.label) + 2))
        if column.key == sort else column
        for column in columns
    )
