"""Open the SQLite store: pragmas, the model proxy and numbered migrations (DESIGN §4).

Connections are per thread (peewee's default). Every transaction starts `BEGIN IMMEDIATE`, so a
read-then-write transaction waits for the write lock up front (busy_timeout) instead of failing
with "database is locked" when another process wrote in between.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

from ipynbsrv_tui.domain import StoreBusy, StoreError
from ipynbsrv_tui.store import models

if TYPE_CHECKING:
    from playhouse.migrations import Runner

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
HISTORY_TABLE = "schema_migration"
MEMORY = ":memory:"

# busy_timeout first, so that the pragmas after it wait for another process's lock.
BUSY_SECONDS = 5
PRAGMAS = (
    ("busy_timeout", BUSY_SECONDS * 1000),
    ("journal_mode", "wal"),
    ("foreign_keys", 1),
    ("synchronous", "normal"),
)

_current: peewee.SqliteDatabase | None = None


class StoreDatabase(peewee.SqliteDatabase):  # type: ignore[misc]  # peewee is untyped
    """SqliteDatabase whose run-time failures are domain errors with one clear line, never tracebacks.

    A write lock held by another process past busy_timeout is StoreBusy; a full disk or another
    operational failure is StoreError. Either way the statement changed nothing.
    """

    def execute_sql(self, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_sql(sql, params, *args, **kwargs)
        except peewee.OperationalError as exc:
            raise store_failure(exc, self.database) from None

    def begin(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().begin(*args, **kwargs)
        except peewee.OperationalError as exc:
            raise store_failure(exc, self.database) from None

    def rollback(self) -> Any:
        try:
            return super().rollback()
        except peewee.OperationalError as exc:
            if "no transaction is active" in str(exc):
                return None  # SQLite rolled back itself (e.g. when the disk filled up)
            raise store_failure(exc, self.database) from None

    def commit(self) -> Any:
        try:
            return super().commit()
        except peewee.OperationalError as exc:
            raise store_failure(exc, self.database) from None


def store_failure(exc: Exception, where: str) -> StoreError:
    """The domain error for a failed SQLite statement."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreBusy(
            f"The database is busy: another process has held its write lock for over {BUSY_SECONDS} s, so "
            "nothing was changed. Try again in a moment; if it persists, find the process holding "
            f"{where} (fuser {where}) and end it."
        )
    if "disk is full" in text or "disk I/O" in text:
        return StoreError(
            f"The database {where} cannot be written: {text}. Nothing was changed. Free space on its file "
            "system, then try again."
        )
    return StoreError(f"The database {where} failed: {text}. Nothing was changed; try again.")


def _version_of(name: str) -> int:
    match = re.match(r"\d+", name)
    return int(match.group()) if match else 0


def _runner(db: peewee.SqliteDatabase) -> Runner:
    from playhouse.migrations import Runner  # only when there is something to migrate: it loads slowly

    return Runner(db, str(MIGRATIONS_DIR), table_name=HISTORY_TABLE)


def _known() -> set[str]:
    """The migrations this program has (their file names without `.py`)."""
    return {p.stem for p in MIGRATIONS_DIR.glob("[0-9]*.py")}


def _recorded(db: peewee.SqliteDatabase) -> set[str]:
    """The migrations `db` records as applied (read with plain SQL, as the runner records them)."""
    if not db.table_exists(HISTORY_TABLE):
        return set()
    return {row[0] for row in db.execute_sql(f'SELECT "name" FROM "{HISTORY_TABLE}"')}


def latest_version() -> int:
    """The schema version this program creates: the number of its newest migration."""
    return max((_version_of(name) for name in _known()), default=0)


def schema_version(db: peewee.SqliteDatabase) -> int:
    """The schema version recorded in `db` (0 for an empty database)."""
    return max((_version_of(name) for name in _recorded(db)), default=0)


def _check_known(db: peewee.SqliteDatabase) -> set[str]:
    """The migrations `db` records; StoreError when it records one this program does not have."""
    recorded = _recorded(db)
    unknown = sorted(recorded - _known(), key=_version_of)
    if not unknown:
        return recorded
    where = db.database
    latest = latest_version()
    found = max(_version_of(name) for name in unknown)
    if found > latest:
        raise StoreError(
            f"The database {where} has schema version {found}, but this ipynbsrv-tui knows versions "
            f"up to {latest} only. Install the newer ipynbsrv-tui that wrote it, or set "
            "[database] path to another file."
        )
    raise StoreError(
        f"The database {where} records migrations this ipynbsrv-tui does not have: {', '.join(unknown)}. "
        "It was written by a different build; use that build, or set [database] path to another file."
    )


def upgrade(db: peewee.SqliteDatabase, to_version: int | None = None) -> list[str]:
    """Apply the pending migrations (up to `to_version`, default all); return their names.

    All of them run in one `BEGIN IMMEDIATE` transaction, each in its own savepoint, so two
    processes opening a new database at once migrate it once, and a failure changes nothing.
    Foreign keys are off meanwhile (SQLite cannot switch them inside a transaction) and are
    checked before the commit.
    """
    if _known() <= _check_known(db):
        return []  # the usual start: nothing to do, and the migration runner is never loaded
    runner = _runner(db)
    pending = [m for m in runner.status() if m.path and not m.applied]
    if to_version is not None:
        pending = [m for m in pending if m.idx <= to_version]
    if not pending:
        return []
    target = pending[-1].name
    db.pragma("foreign_keys", 0)
    try:
        with db.atomic():
            _check_known(db)
            try:
                applied: list[str] = runner.up(target=target)
            except Exception as exc:
                raise StoreError(
                    f"Upgrading the database {db.database} to schema version {pending[-1].idx} failed: "
                    f"{exc}. Nothing was changed; keep using the previous ipynbsrv-tui with it."
                ) from exc
            broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StoreError(
                    f"Upgrading the database {db.database} would leave {len(broken)} rows pointing at "
                    f"missing rows (first in table {broken[0][0]!r}). Nothing was changed."
                )
    finally:
        db.pragma("foreign_keys", 1)
    return applied


def _prepare_folder(path: Path) -> None:
    folder = path.parent
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)
    except FileExistsError:
        if not folder.is_dir():  # else another process created it just now
            raise StoreError(
                f"Cannot create the folder {folder} for the database: a file is in the way."
            ) from None
    except OSError as exc:
        raise StoreError(
            f"Cannot create the folder {folder} for the database: {exc.strerror or exc}. "
            "Create it, or set [database] path in config.toml to a writable place."
        ) from exc


def _create_private(path: Path) -> None:
    """Create a new database file 0600: it holds every token and password hash. SQLite gives its
    -wal and -shm files the main file's mode, so they are private too."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # SQLite's own open reports it, with the usual advice
    os.close(fd)


def readable_by_others(path: str | Path) -> list[str]:
    """Warnings for the database file, its -wal/-shm and its folder when others can read them."""
    path = Path(path).expanduser()
    found = []
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = candidate.stat().st_mode
        except OSError:
            continue
        if mode & 0o044:
            found.append(f"the database file {candidate} is readable by others (mode {mode & 0o777:o}): "
                         f"it holds tokens and password hashes, run chmod 600 {candidate}")
    try:
        folder_mode = path.parent.stat().st_mode
    except OSError:
        return found
    if folder_mode & 0o005:
        found.append(
            f"the database folder {path.parent} can be listed by others (mode {folder_mode & 0o777:o}): "
            f"run chmod 700 {path.parent}"
        )
    return found


def _connect(db: peewee.SqliteDatabase) -> None:
    """Connect, retrying while another process switches a new file to WAL.

    That switch holds a lock that SQLite reports at once as "database is locked", without
    waiting for busy_timeout; it lasts only a moment.
    """
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            db.connect()
            return
        except (peewee.OperationalError, StoreBusy) as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def open_database(path: str | Path, migrate: bool = True) -> peewee.SqliteDatabase:
    """Open (creating if needed) the SQLite database at `path` and bind the models to it.

    Sets WAL, busy_timeout=5000, foreign_keys=1, synchronous=NORMAL; runs the pending
    migrations when `migrate` is true. Raises StoreError when the file cannot be opened or
    created, or when its schema is newer than this program knows.
    """
    global _current
    location = str(path)
    if location != MEMORY:
        path = Path(path).expanduser()
        location = str(path)
        _prepare_folder(path)
        _create_private(path)
    db = StoreDatabase(location, pragmas=list(PRAGMAS), timeout=BUSY_SECONDS, lock_type="IMMEDIATE")
    try:
        _connect(db)
        if migrate:
            upgrade(db)
        else:
            _check_known(db)
    except peewee.DatabaseError as exc:
        db.close()
        raise StoreError(
            f"Cannot open the database {location}: {exc}. Check that the file is an ipynbsrv-tui "
            "database and that you may write to it and its folder, or set [database] path to another file."
        ) from exc
    except StoreError:
        db.close()
        raise
    if _current is not None and _current is not db:
        _current.close()
    models.database_proxy.initialize(db)
    _current = db
    return db


def close_database() -> None:
    """Close the database opened by `open_database` (this thread's connection) and unbind the models."""
    global _current
    if _current is not None:
        _current.close()
        _current = None
    models.database_proxy.initialize(None)


def close_thread_database() -> None:
    """Close this thread's SQLite connection (peewee keeps one per thread) before the thread ends."""
    try:
        if models.database_proxy.obj is not None and not models.database_proxy.is_closed():
            models.database_proxy.close()
    except Exception:
        logging.getLogger("ipynbsrv.store").debug(
            "closing a thread's database connection failed", exc_info=True
        )
