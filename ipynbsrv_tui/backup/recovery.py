"""Disaster recovery (DESIGN §17): on a fresh host with the same config and repository, bring back
the database, homes, shares and public folders of an installation from its latest snapshot.

Runs as root with the broker stopped. It refuses to replace a database or data folders that hold
anything (unless forced), restores into a staging folder beside the data root, then moves each
folder into place, so a failure half-way leaves the host as it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..domain import BackupError, Conflict, NotFound
from .plan import TAG, restic_for
from .restic import Snapshot

FOLDERS = ("homes", "shares", "public")
RECOVERED_KEY = "backup.recovered"  # in the restored database: reconcile makes its notebooks again
DATABASE_COPY = Path(".backup") / "database" / "ipynbsrv.db"


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What `restore-installation` brought back."""

    snapshot: str
    time: str
    database: str
    folders: tuple[str, ...]


def choose_snapshot(snapshots: list[Snapshot], wanted: str = "") -> Snapshot:
    """The snapshot named by `wanted` (an id prefix), else the latest one when it is clear which
    installation it belongs to."""
    if wanted:
        matches = [s for s in snapshots if s.id.startswith(wanted.lower())]
        if len(matches) != 1:
            raise NotFound(
                f"No single snapshot {wanted!r} in the repository: see `restic snapshots --tag {TAG}`."
            )
        return matches[0]
    if not snapshots:
        raise NotFound("The repository holds no snapshot of an ipynbsrv installation.")
    installations = {tag for s in snapshots for tag in s.tags if tag.startswith(f"{TAG}-")}
    if len(installations) > 1:
        latest = {tag: next(s for s in reversed(snapshots) if tag in s.tags) for tag in sorted(installations)}
        listed = ", ".join(f"{s.short_id} ({tag}, {s.time:%Y-%m-%d %H:%M})" for tag, s in latest.items())
        raise Conflict(f"The repository holds several installations; choose one with --snapshot: {listed}.")
    return snapshots[-1]


def restore_installation(config: Config, wanted: str = "", force: bool = False) -> RecoveryReport:
    """Restore database, homes, shares and public folders from the snapshot (see the module docstring)."""
    if os.geteuid() != 0:
        raise Conflict("Run restore-installation as root: it gives every file back to its owner.")
    root = config.data.path.absolute()
    database = config.database.resolved_path.absolute()
    if not force:
        if database.exists() and database.stat().st_size > 0:
            raise Conflict(
                f"The database {database} exists already: move it away (or give --force to replace it)."
            )
        busy = [str(root / f) for f in FOLDERS if (root / f).is_dir() and any((root / f).iterdir())]
        if busy:
            raise Conflict(
                f"{', '.join(busy)} hold files already: move them away (or give --force to replace them)."
            )
    restic = restic_for(config.backup, root)
    snapshot = choose_snapshot(restic.snapshots((TAG,)), wanted)
    expected = {str(root / f) for f in FOLDERS} | {str(root / DATABASE_COPY)}
    if not expected <= set(snapshot.paths):
        raise Conflict(
            f"Snapshot {snapshot.short_id} holds {', '.join(snapshot.paths)}, not this installation's "
            f"folders under {root}: set [data] root as on the old host."
        )
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".restore-{uuid.uuid4().hex}"  # on the data's own file system: moved in by rename
    staging.mkdir(mode=0o700)
    try:
        restic.restore(snapshot.id, staging, *sorted(expected))
        restored = staging / str(root).lstrip("/")
        copy = restored / DATABASE_COPY
        if not copy.is_file():
            raise BackupError(f"Snapshot {snapshot.short_id} has no database copy at {root / DATABASE_COPY}.")
        database.parent.mkdir(parents=True, exist_ok=True)
        partial = database.with_name(database.name + ".restoring")
        shutil.copyfile(copy, partial)
        os.chmod(partial, 0o600)
        _mark_recovered(partial, snapshot.short_id)
        for suffix in ("-wal", "-shm"):
            Path(str(database) + suffix).unlink(missing_ok=True)
        os.replace(partial, database)
        for name in FOLDERS:
            target = root / name
            if target.exists():
                shutil.rmtree(target)
            os.rename(restored / name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RecoveryReport(snapshot.short_id, f"{snapshot.time:%Y-%m-%d %H:%M} UTC", str(database),
                          tuple(str(root / f) for f in FOLDERS))


def _mark_recovered(database: Path, snapshot: str) -> None:
    """Tell the restored store's next reconcile to make its notebooks again on this engine."""
    db = sqlite3.connect(str(database))
    try:
        with db:
            db.execute("INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", (RECOVERED_KEY, snapshot))
    finally:
        db.close()
