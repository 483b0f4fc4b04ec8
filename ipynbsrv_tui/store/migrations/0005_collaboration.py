"""Schema version 5: collaboration (DESIGN §14) — groups' collaboration side, share grants,
notifications with per-user read marks. New tables only; ids never reused (AUTOINCREMENT)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    Model,
    TextField,
)
from playhouse.sqlite_ext import AutoIncrementField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(Model):
    id = AutoField()

    class Meta:
        table_name = "user"


class Group(Model):
    id = AutoField()

    class Meta:
        table_name = "group"


class Share(Model):
    id = AutoField()

    class Meta:
        table_name = "share"


class CollaborationGroup(Model):
    id = AutoIncrementField()
    group = ForeignKeyField(Group, unique=True, on_delete="CASCADE")
    creator = ForeignKeyField(User, null=True, on_delete="SET NULL")
    is_public = BooleanField(default=False)
    is_personal = BooleanField(default=False)
    created = DateTimeField(default=_utcnow)

    class Meta:
        table_name = "collaborationgroup"


class CollaborationAdmin(Model):
    cgroup = ForeignKeyField(CollaborationGroup, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")

    class Meta:
        table_name = "collaborationadmin"
        indexes = ((("cgroup", "user"), True),)


class ShareGrant(Model):
    share = ForeignKeyField(Share, on_delete="CASCADE")
    group = ForeignKeyField(Group, on_delete="CASCADE")
    created = DateTimeField(default=_utcnow)

    class Meta:
        table_name = "sharegrant"
        indexes = ((("share", "group"), True),)


class Notification(Model):
    id = AutoIncrementField()
    sender = ForeignKeyField(User, null=True, on_delete="SET NULL")
    message = TextField()
    kind = CharField(default="misc")
    target = CharField(default="")
    groups = TextField(default="")
    created = DateTimeField(default=_utcnow, index=True)

    class Meta:
        table_name = "notification"


class NotificationRecipient(Model):
    notification = ForeignKeyField(Notification, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    read = DateTimeField(null=True)

    class Meta:
        table_name = "notificationrecipient"
        indexes = ((("notification", "user"), True), (("user", "read"), False))


NEW = [CollaborationGroup, CollaborationAdmin, ShareGrant, Notification, NotificationRecipient]


def up(migrator: SchemaMigrator, db: Database) -> None:
    with db.bind_ctx([User, Group, Share, *NEW]):
        db.create_tables(NEW, safe=False)


def down(migrator: SchemaMigrator, db: Database) -> None:
    with db.bind_ctx([User, Group, Share, *NEW]):
        db.drop_tables(NEW, safe=False)
