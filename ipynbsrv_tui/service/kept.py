"""Kept folders and retired ids (DESIGN §14): what a deleted share, group or user leaves behind.

"keep" moves a folder out of its namespace (under `<data root>/archive/kept`, root's, 0700), so
the next share or user of the same name starts empty. The numbers the deleted object's files and
running containers may carry (a share's or group's gid, a user's uid) are retired: the directory
skips them when it hands out the next id, until nothing holds them any more — no kept folder
with their files, and no container running since before they were retired (a start recomputes
a container's groups and mounts).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..domain import Actor, Conflict, KeptView, NotFound
from ..store.models import Container, RetiredId, database_proxy
from .base import Component

ALIVE = ("running", "paused", "starting")


class Kept(Component):
    """Retiring ids, releasing them, and the admins' view of kept folders."""

    def retire(self, kind: str, number: int | None, owner: str, path: Path | str | None = None) -> None:
        """Hold `number` back from the directory's next free ids while `path` exists or a container
        running now may carry it."""
        if number is None:
            return
        with database_proxy.atomic():
            RetiredId.delete().where((RetiredId.kind == kind) & (RetiredId.number == number)).execute()
            RetiredId.create(kind=kind, number=number, owner=owner, path=str(path or ""))

    def release_retired_ids(self) -> list[str]:
        """Give back the retired ids nothing holds any more; returns them ("gid 3105", …)."""
        starts = [started for (started,) in Container.select(Container.started)
                  .where(Container.state.in_(ALIVE)).tuples()]
        # a running container without a start time may have started at any time
        earliest = min((s or datetime.min for s in starts), default=None)
        released = []
        for row in RetiredId.select().order_by(RetiredId.id):
            if row.path and Path(row.path).exists():
                continue
            if earliest is not None and earliest <= row.since:
                continue
            row.delete_instance()
            released.append(f"{row.kind} {row.number}")
        return released

    def list_kept(self, actor: Actor) -> list[KeptView]:
        """The kept folders with the ids retired for them (admins)."""
        self._require_kept_admin(actor, "kept.list")
        self.release_retired_ids()
        retired: dict[str, list[RetiredId]] = {}
        for row in RetiredId.select().where(RetiredId.path != "").order_by(RetiredId.kind, RetiredId.number):
            retired.setdefault(row.path, []).append(row)
        views = []
        for folder in self.data.kept_folders():
            rows = retired.get(str(folder), [])
            views.append(KeptView(
                name=folder.name, path=str(folder), owner=rows[0].owner if rows else "",
                ids=tuple(f"{r.kind} {r.number}" for r in rows),
                since=rows[0].since if rows else datetime.fromtimestamp(folder.stat().st_mtime),
            ))
        return views

    def purge_kept(self, actor: Actor, name: str) -> KeptView:
        """Delete one kept folder for good (admins); its ids are released once no container holds them."""
        self._require_kept_admin(actor, "kept.purge")
        found = {folder.name: folder for folder in self.data.kept_folders()}
        folder = found.get(name) if isinstance(name, str) else None
        if folder is None:
            raise NotFound(f"No kept folder named {str(name)[:80]!r}: see `kept list`.")
        rows = list(RetiredId.select().where(RetiredId.path == str(folder)))
        view = KeptView(
            name=folder.name,
            path=str(folder),
            owner=rows[0].owner if rows else "",
            ids=tuple(f"{r.kind} {r.number}" for r in rows),
            since=rows[0].since if rows else None,
        )
        if not self.data.remove_tree(folder):
            raise Conflict(
                f"{folder} could not be removed completely: something still writes into it. Try again."
            )
        RetiredId.update(path="").where(RetiredId.path == str(folder)).execute()
        self.release_retired_ids()
        self.audit(actor, "kept.purge", folder.name, detail=", ".join(view.ids))
        return view

    def _require_kept_admin(self, actor: Actor, action: str) -> None:
        if not actor.is_admin:
            raise self.refuse(actor, action, "", "Only admins see and purge kept folders.")
