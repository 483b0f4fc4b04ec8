"""Schema version 1: every table of DESIGN §4, frozen as it was first released."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(Model):
    id = AutoField()
    username = CharField(unique=True, max_length=32)
    uid = IntegerField(unique=True)
    gid = IntegerField()
    display_name = CharField(default="")
    email = CharField(default="")
    home = CharField(default="")
    is_admin = BooleanField(default=False)
    source = CharField(default="local")
    active = BooleanField(default=True)
    password_hash = CharField(null=True)
    created = DateTimeField(default=_utcnow)
    last_seen = DateTimeField(null=True)

    class Meta:
        table_name = "user"


class Group(Model):
    id = AutoField()
    name = CharField(unique=True, max_length=64)
    gid = IntegerField(unique=True)
    kind = CharField(default="collaboration")
    description = TextField(default="")
    source = CharField(default="local")

    class Meta:
        table_name = "group"


class GroupMember(Model):
    group = ForeignKeyField(Group, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")

    class Meta:
        table_name = "groupmember"
        indexes = ((("group", "user"), True),)


class Image(Model):
    id = AutoField()
    name = CharField(unique=True, max_length=64)
    ref = CharField()
    docker_id = CharField(default="")
    description = TextField(default="")
    command = TextField(default="")
    notebook_port = IntegerField(default=8888)
    public_ports = CharField(default="")
    owner = ForeignKeyField(User, null=True, on_delete="SET NULL")
    is_public = BooleanField(default=False)
    memory = CharField(default="")
    cpus = FloatField(null=True)
    source_folder = CharField(default="")
    retired = BooleanField(default=False)
    created = DateTimeField(default=_utcnow)

    class Meta:
        table_name = "image"


class ImageAccess(Model):
    image = ForeignKeyField(Image, on_delete="CASCADE")
    group = ForeignKeyField(Group, on_delete="CASCADE")

    class Meta:
        table_name = "imageaccess"
        indexes = ((("image", "group"), True),)


class Build(Model):
    id = AutoField()
    image_ref = CharField()
    context = CharField()
    build_args = TextField(default="{}")
    started = DateTimeField(default=_utcnow)
    finished = DateTimeField(null=True)
    status = CharField(default="running")
    image_id = CharField(default="")
    exit_code = IntegerField(null=True)
    error = TextField(default="")
    tolerated = IntegerField(default=0)
    warnings = IntegerField(default=0)
    lines = IntegerField(default=0)
    log_path = CharField(default="")
    actor = CharField(default="")

    class Meta:
        table_name = "build"


class Container(Model):
    id = AutoField()
    name = CharField(max_length=64)
    owner = ForeignKeyField(User, on_delete="CASCADE")
    image = ForeignKeyField(Image, null=True, on_delete="RESTRICT")
    image_ref = CharField(default="")
    docker_id = CharField(default="", index=True)
    description = TextField(default="")
    host_port = IntegerField(unique=True)
    public_ports = TextField(default="{}")
    token = CharField()
    base_url = CharField()
    state = CharField(default="created")
    memory = CharField(default="")
    cpus = FloatField(null=True)
    created = DateTimeField(default=_utcnow)
    clone_of = ForeignKeyField("self", null=True, on_delete="SET NULL")
    last_activity = DateTimeField(null=True)
    state_changed = DateTimeField(null=True)

    class Meta:
        table_name = "container"
        indexes = ((("owner", "name"), True),)


class Snapshot(Model):
    id = AutoField()
    container = ForeignKeyField(Container, on_delete="CASCADE")
    name = CharField(max_length=64)
    image_ref = CharField()
    description = TextField(default="")
    created = DateTimeField(default=_utcnow)

    class Meta:
        table_name = "snapshot"
        indexes = ((("container", "name"), True),)


class Share(Model):
    id = AutoField()
    name = CharField(unique=True, max_length=64)
    group = ForeignKeyField(Group, on_delete="CASCADE")
    owner = ForeignKeyField(User, on_delete="CASCADE")
    description = TextField(default="")
    created = DateTimeField(default=_utcnow)

    class Meta:
        table_name = "share"


class AuditEvent(Model):
    id = AutoField()
    at = DateTimeField(default=_utcnow, index=True)
    actor = CharField()
    action = CharField()
    target = CharField(default="")
    outcome = CharField(default="ok")
    detail = TextField(default="")

    class Meta:
        table_name = "auditevent"


class Setting(Model):
    key = CharField(primary_key=True)
    value = TextField(default="")

    class Meta:
        table_name = "setting"


MODELS = [
    User,
    Group,
    GroupMember,
    Image,
    ImageAccess,
    Build,
    Container,
    Snapshot,
    Share,
    AuditEvent,
    Setting,
]


def up(migrator: SchemaMigrator, db: Database) -> None:
    with db.bind_ctx(MODELS):
        db.create_tables(MODELS, safe=False)


def down(migrator: SchemaMigrator, db: Database) -> None:
    with db.bind_ctx(MODELS):
        db.drop_tables(MODELS, safe=False)
