"""Schema version 11: coalesced system notifications and mutes (DESIGN §8, §14).

A system notification records the user whose action caused it (`cause`) and a key that makes
repeats of the same notice one row (`coalesce_key`, counted in `repeats`); `mute` holds who
does not want notifications from a sender (their messages and the notices of what they did) or
to a group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import CharField, ForeignKeyField, IntegerField, Model

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


class User(Model):
    class Meta:
        table_name = "user"


class Group(Model):
    class Meta:
        table_name = "group"


class Mute(Model):
    user = ForeignKeyField(User, on_delete="CASCADE")
    sender = ForeignKeyField(User, null=True, on_delete="CASCADE")
    group = ForeignKeyField(Group, null=True, on_delete="CASCADE")

    class Meta:
        table_name = "mute"
        indexes = ((("user", "sender", "group"), True),)


def up(migrator: SchemaMigrator, db: Database) -> None:
    # SQLite adds a column with a foreign key by plain SQL (the migrator wants a bound model)
    db.execute_sql('ALTER TABLE "notification" ADD COLUMN "cause_id" INTEGER '
                   'REFERENCES "user" ("id") ON DELETE SET NULL')
    migrator.migrate(
        migrator.add_column("notification", "coalesce_key", CharField(default="")),
        migrator.add_column("notification", "repeats", IntegerField(default=1)),
        migrator.add_index("notification", ("cause_id",), False),
        migrator.add_index("notification", ("coalesce_key",), False),
    )
    with db.bind_ctx([User, Group, Mute]):
        db.create_tables([Mute], safe=False)


def down(migrator: SchemaMigrator, db: Database) -> None:
    with db.bind_ctx([User, Group, Mute]):
        db.drop_tables([Mute], safe=False)
    migrator.migrate(
        migrator.drop_index("notification", "notification_coalesce_key"),
        migrator.drop_index("notification", "notification_cause_id"),
        migrator.drop_column("notification", "repeats"),
        migrator.drop_column("notification", "coalesce_key"),
        migrator.drop_column("notification", "cause_id"),
    )
