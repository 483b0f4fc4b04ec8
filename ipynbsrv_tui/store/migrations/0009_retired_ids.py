"""Schema version 9: retired uids and gids (DESIGN §14).

A deleted share's or group's gid, and a deleted user's uid, is not handed out again while files
(a kept folder) or a running container can still carry it: the directories skip the numbers
listed here when they choose the next free id, and the service releases a row once nothing
holds its number any more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from peewee import CharField, DateTimeField, IntegerField, Model
from playhouse.sqlite_ext import AutoIncrementField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class RetiredId(Model):
    id = AutoIncrementField()
    kind = CharField()  # "uid" | "gid"
    number = IntegerField()
    owner = CharField(default="")  # what carried it, e.g. "share oldproj", "user alice"
    path = CharField(default="")  # the kept folder holding files with it, "" when none
    since = DateTimeField(default=_utcnow)

    class Meta:
        table_name = "retiredid"
        indexes = ((("kind", "number"), True),)


def up(migrator: SchemaMigrator, db: Database) -> None:
    with db.bind_ctx([RetiredId]):
        db.create_tables([RetiredId], safe=False)


def down(migrator: SchemaMigrator, db: Database) -> None:
    with db.bind_ctx([RetiredId]):
        db.drop_tables([RetiredId], safe=False)
