"""Schema version 2: when a user was last synced from the directory, and two lookup indexes.

- `user.synced`: the time the LDAP sync last confirmed this user (NULL = never; local users).
- `container.state`: reconcile and the dashboards select containers by their last known state.
- `auditevent.actor`: the audit log is filtered by who acted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import DateTimeField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(
        migrator.add_column("user", "synced", DateTimeField(null=True)),
        migrator.add_index("container", ("state",)),
        migrator.add_index("auditevent", ("actor",)),
    )


def down(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(
        migrator.drop_index("auditevent", "auditevent_actor"),
        migrator.drop_index("container", "container_state"),
        migrator.drop_column("user", "synced"),
    )
