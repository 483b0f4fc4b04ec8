"""Schema version 10: the untagged images a build left (`build.images`).

A build records the images of its finished stages (and the last committed layer) while it runs,
and keeps those it could not remove yet when it ends, so that reconcile removes them later: after
the process died mid-build, or once a container no longer uses one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import TextField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(migrator.add_column("build", "images", TextField(default="")))


def down(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(migrator.drop_column("build", "images"))
