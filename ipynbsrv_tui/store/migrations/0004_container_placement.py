"""Schema version 4: where a swarm-mode notebook runs (DESIGN §15).

- `container.node_id`, `node_name`, `node_address`: the node of the notebook's task (empty in docker mode).
- `container.node_lost`: that node stopped answering the manager (Swarm reschedules the notebook).
"""

from peewee import BooleanField, CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("container", "node_id", CharField(default="")),
        migrator.add_column("container", "node_name", CharField(default="")),
        migrator.add_column("container", "node_address", CharField(default="")),
        migrator.add_column("container", "node_lost", BooleanField(default=False)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("container", "node_lost"),
        migrator.drop_column("container", "node_address"),
        migrator.drop_column("container", "node_name"),
        migrator.drop_column("container", "node_id"),
    )
