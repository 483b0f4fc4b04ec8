"""Schema version 3: row ids are never reused, and every container row has a random key (DESIGN §4, §5).

- Every table with an integer `id` key is rebuilt with `AUTOINCREMENT`, so that the id of a
  deleted row never names a new one (an engine object still labelled with the old id must not be
  mistaken for the new row's). Rows, ids, indexes and foreign keys are kept as they were.
- `container.key`: a random id (not a secret) labelled on the engine object as `ipynbsrv.key`.
  Reconcile adopts an engine object for a row only when its key matches. Rows made before this
  version keep an empty key; their engine object is recognised by its engine id alone.
- `container.worker` / `build.worker`: the process (`pid:start time`) creating the container or
  running the build, "" once done; reconcile finishes or rolls back what a dead process left.
- `build.containers`: the engine's build-step containers (comma-separated ids), so that reconcile
  removes those a killed build left behind.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from peewee import CharField, TextField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator

TABLES = ("user", "group", "image", "build", "container", "snapshot", "share", "auditevent")
_ID_COLUMN = re.compile(r'"id" INTEGER NOT NULL PRIMARY KEY(?! AUTOINCREMENT)')


def _rebuild_with_autoincrement(db: Database, table: str) -> None:
    """SQLite's table rebuild (create new, copy, drop old, rename), keeping the old table's SQL."""
    row = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if row is None:
        return
    create = row[0]
    if "AUTOINCREMENT" in create.upper():
        return
    new_name = f"{table}__rebuild"
    prefix = re.compile(rf'^CREATE TABLE (IF NOT EXISTS )?"?{re.escape(table)}"?', re.IGNORECASE)
    rebuilt, count = prefix.subn(f'CREATE TABLE "{new_name}"', create)
    rebuilt, id_count = _ID_COLUMN.subn('"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT', rebuilt)
    if count != 1 or id_count != 1:
        raise RuntimeError(f"table {table!r} does not have the expected integer id column")
    indexes = [sql for (sql,) in db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
    ).fetchall()]
    columns = ", ".join(f'"{c.name}"' for c in db.get_columns(table))
    db.execute_sql(rebuilt)
    db.execute_sql(f'INSERT INTO "{new_name}" ({columns}) SELECT {columns} FROM "{table}"')
    db.execute_sql(f'DROP TABLE "{table}"')
    db.execute_sql(f'ALTER TABLE "{new_name}" RENAME TO "{table}"')
    for sql in indexes:
        db.execute_sql(sql)


def up(migrator: SchemaMigrator, db: Database) -> None:
    # legacy_alter_table keeps the rename from rewriting other tables' references to the new name.
    db.execute_sql("PRAGMA legacy_alter_table = ON")
    try:
        for table in TABLES:
            _rebuild_with_autoincrement(db, table)
    finally:
        db.execute_sql("PRAGMA legacy_alter_table = OFF")
    migrator.migrate(
        migrator.add_column("container", "key", CharField(default="")),
        migrator.add_column("container", "worker", CharField(default="")),
        migrator.add_column("build", "worker", CharField(default="")),
        migrator.add_column("build", "containers", TextField(default="")),
    )
