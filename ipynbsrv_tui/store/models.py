"""Peewee models: the truth about what was asked for (DESIGN §4).

All models are bound to `database_proxy`; `store.db.open_database()` initialises it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from peewee import (
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.sqlite_ext import AutoIncrementField

database_proxy = DatabaseProxy()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(Model):  # type: ignore[misc]  # peewee is untyped: its Model is Any
    """Base of every table: bound to the shared database proxy."""

    class Meta:
        database = database_proxy


class User(BaseModel):
    """A person, mirrored from the directory (or kept here by LocalDirectory)."""

    id = AutoIncrementField()  # ids are never reused (migration 0003)
    username = CharField(unique=True, max_length=32)
    uid = IntegerField(unique=True)
    gid = IntegerField()
    display_name = CharField(default="")
    email = CharField(default="")
    home = CharField(default="")
    is_admin = BooleanField(default=False)
    source = CharField(default="local")  # "local" | "ldap"
    active = BooleanField(default=True)
    # Salted scrypt hash, only for the local directory; LDAP passwords are never stored here.
    password_hash = CharField(null=True)
    created = DateTimeField(default=utcnow)
    last_seen = DateTimeField(null=True)
    synced = DateTimeField(null=True)  # since migration 0002: last confirmed by the directory sync
    # Since migration 0007: moves on every password change, disable and enable; web sessions bind to it.
    credential_version = IntegerField(default=0)


class Group(BaseModel):
    """A POSIX group: collaboration, share or admin."""

    id = AutoIncrementField()
    name = CharField(unique=True, max_length=64)
    gid = IntegerField(unique=True)
    kind = CharField(default="collaboration")  # collaboration | share | admin | primary
    description = TextField(default="")
    source = CharField(default="local")


class GroupMember(BaseModel):
    """Membership of a user in a group."""

    group = ForeignKeyField(Group, backref="memberships", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")

    class Meta:
        indexes = ((("group", "user"), True),)


class Image(BaseModel):
    """A registered notebook image that containers may be created from."""

    id = AutoIncrementField()
    name = CharField(unique=True, max_length=64)
    ref = CharField()
    docker_id = CharField(default="")
    description = TextField(default="")
    command = TextField(default="")
    notebook_port = IntegerField(default=8888)
    public_ports = CharField(default="")  # comma-separated container ports, e.g. "22"
    owner = ForeignKeyField(User, null=True, backref="images", on_delete="SET NULL")
    is_public = BooleanField(default=False)
    memory = CharField(default="")  # "" = config default
    cpus = FloatField(null=True)
    source_folder = CharField(default="")
    retired = BooleanField(default=False)
    created = DateTimeField(default=utcnow)


class ImageAccess(BaseModel):
    """A group that may create containers from a non-public image."""

    image = ForeignKeyField(Image, backref="access", on_delete="CASCADE")
    group = ForeignKeyField(Group, backref="image_access", on_delete="CASCADE")

    class Meta:
        indexes = ((("image", "group"), True),)


class Build(BaseModel):
    """One image build and its log."""

    id = AutoIncrementField()
    image_ref = CharField()
    context = CharField()
    build_args = TextField(default="{}")  # JSON
    started = DateTimeField(default=utcnow)
    finished = DateTimeField(null=True)
    status = CharField(default="running")  # running | succeeded | failed | cancelled
    image_id = CharField(default="")
    exit_code = IntegerField(null=True)
    error = TextField(default="")
    tolerated = IntegerField(default=0)
    warnings = IntegerField(default=0)
    lines = IntegerField(default=0)
    log_path = CharField(default="")
    actor = CharField(default="")
    worker = CharField(default="")  # since 0003: the process running it ("pid:start"), "" when done
    containers = TextField(default="")  # since 0003: the engine's build-step container ids, comma-separated
    images = TextField(
        default=""
    )  # since 0010: untagged images it left that reconcile removes, comma-separated


class Container(BaseModel):
    """A notebook container as asked for by its owner."""

    id = AutoIncrementField()
    name = CharField(max_length=64)
    owner = ForeignKeyField(User, backref="containers", on_delete="CASCADE")
    image = ForeignKeyField(Image, null=True, backref="containers", on_delete="RESTRICT")
    image_ref = CharField(default="")  # the exact engine image (snapshots, clones)
    docker_id = CharField(default="", index=True)
    description = TextField(default="")
    host_port = IntegerField(unique=True)
    public_ports = TextField(default="{}")  # JSON {container_port: host_port}
    token = CharField()
    base_url = CharField()
    state = CharField(default="created", index=True)  # indexed since migration 0002
    memory = CharField(default="")
    cpus = FloatField(null=True)
    created = DateTimeField(default=utcnow)
    clone_of = ForeignKeyField("self", null=True, backref="clones", on_delete="SET NULL")
    last_activity = DateTimeField(null=True)
    state_changed = DateTimeField(null=True)
    started = DateTimeField(null=True)  # since 0006: when the current run began (a resume keeps it)
    # since migration 0003: random id labelled ipynbsrv.key on the engine object ("" = made before it)
    key = CharField(default="")
    worker = CharField(default="")  # since 0003: the process creating it ("pid:start"), "" when done
    node_id = CharField(default="")  # swarm mode: the node of the task (since migration 0004)
    node_name = CharField(default="")
    node_address = CharField(default="")
    node_lost = BooleanField(default=False)

    class Meta:
        indexes = ((("owner", "name"), True),)


class Snapshot(BaseModel):
    """A committed image of a container that it can be restored to."""

    id = AutoIncrementField()
    container = ForeignKeyField(Container, backref="snapshots", on_delete="CASCADE")
    name = CharField(max_length=64)
    image_ref = CharField()
    description = TextField(default="")
    created = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("container", "name"), True),)


class Share(BaseModel):
    """A shared folder under <data_root>/shares, accessed through its group."""

    id = AutoIncrementField()
    name = CharField(unique=True, max_length=64)
    group = ForeignKeyField(Group, backref="shares", on_delete="CASCADE")
    owner = ForeignKeyField(User, backref="shares", on_delete="CASCADE")
    description = TextField(default="")
    created = DateTimeField(default=utcnow)


class CollaborationGroup(BaseModel):
    """The collaboration side of a Group (DESIGN §14): who made it, whether anyone may join,
    and whether it is a user's personal one-member group. Members are the Group's members."""

    id = AutoIncrementField()
    group = ForeignKeyField(Group, backref="collaboration", unique=True, on_delete="CASCADE")
    creator = ForeignKeyField(User, null=True, backref="created_groups", on_delete="SET NULL")
    is_public = BooleanField(default=False)
    is_personal = BooleanField(default=False)
    created = DateTimeField(default=utcnow)


class CollaborationAdmin(BaseModel):
    """A group admin of a collaboration group: adds and removes members and admins."""

    cgroup = ForeignKeyField(CollaborationGroup, backref="admins", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="group_admin_of", on_delete="CASCADE")

    class Meta:
        indexes = ((("cgroup", "user"), True),)


class ShareGrant(BaseModel):
    """A collaboration group granted on a share: its members are members of the share's group."""

    share = ForeignKeyField(Share, backref="grants", on_delete="CASCADE")
    group = ForeignKeyField(Group, backref="share_grants", on_delete="CASCADE")
    created = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("share", "group"), True),)


class Notification(BaseModel):
    """A message to groups (sender None = the system), optionally about a container, image, group or share."""

    id = AutoIncrementField()
    sender = ForeignKeyField(User, null=True, backref="sent_notifications", on_delete="SET NULL")
    message = TextField()
    kind = CharField(default="misc")  # container | image | group | share | misc
    target = CharField(default="")
    groups = TextField(default="")  # the receiver groups' names, comma-separated, as sent
    created = DateTimeField(default=utcnow, index=True)
    # A system notification's cause (the acting user) and what makes repeats of it one (since 0011)
    cause = ForeignKeyField(User, null=True, backref="caused_notifications", on_delete="SET NULL")
    coalesce_key = CharField(default="", index=True)
    repeats = IntegerField(default=1)


class NotificationRecipient(BaseModel):
    """One user's copy of a notification, with their read mark (None = unread)."""

    notification = ForeignKeyField(Notification, backref="recipients", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="inbox", on_delete="CASCADE")
    read = DateTimeField(null=True)

    class Meta:
        indexes = ((("notification", "user"), True), (("user", "read"), False))


class Mute(BaseModel):
    """A user who does not want notifications from a sender (their messages, and the system's
    notices of what they did), or to a group (since migration 0011)."""

    user = ForeignKeyField(User, backref="mutes", on_delete="CASCADE")
    sender = ForeignKeyField(User, null=True, backref="muted_by", on_delete="CASCADE")
    group = ForeignKeyField(Group, null=True, backref="muted_by", on_delete="CASCADE")

    class Meta:
        indexes = ((("user", "sender", "group"), True),)


class RetiredId(BaseModel):
    """A uid or gid not handed out again while a kept folder or a running container may carry it
    (since migration 0009; DESIGN §14)."""

    id = AutoIncrementField()
    kind = CharField()  # "uid" | "gid"
    number = IntegerField()
    owner = CharField(default="")  # what carried it, e.g. "share oldproj", "user alice"
    path = CharField(default="")  # the kept folder holding files with it, "" when none
    since = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "number"), True),)


class AuditEvent(BaseModel):
    """Who did what to what, and how it ended."""

    id = AutoIncrementField()
    at = DateTimeField(default=utcnow, index=True)
    actor = CharField(index=True)  # indexed since migration 0002
    action = CharField()
    target = CharField(default="")
    outcome = CharField(default="ok")  # ok | refused | failed
    detail = TextField(default="")


class Setting(BaseModel):
    """Small key/value state the app keeps (e.g. the last engine event time)."""

    key = CharField(primary_key=True)
    value = TextField(default="")


ALL_MODELS = [
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
    CollaborationGroup,
    CollaborationAdmin,
    ShareGrant,
    Notification,
    NotificationRecipient,
    RetiredId,
    Mute,
]
