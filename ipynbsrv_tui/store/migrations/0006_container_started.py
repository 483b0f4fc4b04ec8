"""Schema version 6: when a container's current run began (`container.started`).

`state_changed` moves on every state change, a pause and a resume included, so it cannot say how
long a notebook has been up; `started` moves only when the engine starts it. Running and paused
rows take their `state_changed` as the best guess of when their run began.
"""

from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(migrator.add_column("container", "started", DateTimeField(null=True)))
    db.execute_sql("UPDATE container SET started = state_changed WHERE state IN ('running', 'paused')")


def down(migrator, db):
    migrator.migrate(migrator.drop_column("container", "started"))
