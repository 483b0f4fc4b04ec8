"""Which process is doing a long change (a create, a build), so reconcile can finish what a dead one left.

A marker is `pid:start time` (the start time from /proc, so a reused pid does not count as the
same process). This process's own unfinished work is kept in memory: a marker of this process
whose work is no longer registered belongs to a call that failed half-way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active: set[tuple[str, int]] = set()


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 else None


def marker() -> str:
    """This process's marker."""
    pid = os.getpid()
    return f"{pid}:{_start_time(pid) or '?'}"


def begin(kind: str, row_id: int) -> None:
    """Register this process as working on row `row_id` of `kind` (until `end`)."""
    with _lock:
        _active.add((kind, row_id))


def end(kind: str, row_id: int) -> None:
    with _lock:
        _active.discard((kind, row_id))


@contextmanager
def working(kind: str, row_id: int) -> Iterator[None]:
    """Register this process as working on row `row_id` of `kind` for the duration of the block."""
    begin(kind, row_id)
    try:
        yield
    finally:
        end(kind, row_id)


def in_progress(kind: str, row_id: int, mark: str) -> bool:
    """True when the process named by `mark` is alive and still working on the row."""
    if not mark:
        return False
    if mark == marker():
        with _lock:
            return (kind, row_id) in _active
    pid_text, _, started = mark.partition(":")
    if not pid_text.isdigit():
        return False
    return _start_time(int(pid_text)) == started
