"""Schema version 6: when a container's current run began (`container.started`).

`state_changed` moves on every state change, a pause and a resume included, so it cannot say how
long a notebook has been up; `started` moves only when the engine starts it. Running and paused
rows take their `state_changed` as the best guess of when their run began.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import DateTimeField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(migrator.add_column("container", "started", DateTimeField(null=True)))
    db.execute_sql("UPDATE container SET started = state_changed WHERE state IN ('running', 'paused')")


def down(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(migrator.drop_column("container", "started"))
