"""Schema version 4: where a swarm-mode notebook runs (DESIGN §15).

- `container.node_id`, `node_name`, `node_address`: the node of the notebook's task (empty in docker mode).
- `container.node_lost`: that node stopped answering the manager (Swarm reschedules the notebook).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import BooleanField, CharField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(
        migrator.add_column("container", "node_id", CharField(default="")),
        migrator.add_column("container", "node_name", CharField(default="")),
        migrator.add_column("container", "node_address", CharField(default="")),
        migrator.add_column("container", "node_lost", BooleanField(default=False)),
    )


def down(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(
        migrator.drop_column("container", "node_lost"),
        migrator.drop_column("container", "node_address"),
        migrator.drop_column("container", "node_name"),
        migrator.drop_column("container", "node_id"),
    )
