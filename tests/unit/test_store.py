"""The SQLite store: pragmas, migrations, schema version, foreign keys, errors (DESIGN §4)."""

from __future__ import annotations

import shutil
import stat
import tomllib
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path

import peewee
import pytest

from ipynbsrv_tui.domain import StoreError
from ipynbsrv_tui.store import close_database, latest_version, open_database, schema_version, upgrade
from ipynbsrv_tui.store import db as store_db
from ipynbsrv_tui.store.audit import audit
from ipynbsrv_tui.store.models import (
    ALL_MODELS,
    AuditEvent,
    Container,
    Group,
    GroupMember,
    Image,
    Snapshot,
    User,
    database_proxy,
)


@pytest.fixture
def db_path(tmp_path):
    yield tmp_path / "state" / "ipynbsrv.db"
    close_database()


@pytest.fixture
def db(db_path):
    return open_database(db_path)


def _describe(db: peewee.SqliteDatabase) -> dict:
    """Columns, indexes and foreign keys of every table but the migration history."""
    schema = {}
    for table in db.get_tables():
        if table == store_db.HISTORY_TABLE:
            continue
        columns = {c.name: (c.data_type.upper(), c.null, c.primary_key) for c in db.get_columns(table)}
        indexes = {(i.name, tuple(i.columns), i.unique) for i in db.get_indexes(table)}
        fks = {row[2:7] for row in db.execute_sql(f'PRAGMA foreign_key_list("{table}")').fetchall()}
        schema[table] = (columns, indexes, fks)
    return schema


def _make_user(name: str = "alice", uid: int = 2001) -> User:
    return User.create(username=name, uid=uid, gid=uid)


def _make_container(owner: User, image: Image | None, port: int = 20001, name: str = "nb") -> Container:
    return Container.create(name=name, owner=owner, image=image, host_port=port, token="t", base_url="/x/")


def test_fresh_database_has_latest_version_and_every_table(db):
    assert schema_version(db) == latest_version() == 11
    tables = set(db.get_tables())
    assert {m._meta.table_name for m in ALL_MODELS} <= tables
    assert store_db.HISTORY_TABLE in tables
    assert [m.name for m in store_db._runner(db).status()] == [
        "0001_initial",
        "0002_user_synced_and_lookup_indexes",
        "0003_row_ids_never_reused_and_row_keys",
        "0004_container_placement",
        "0005_collaboration",
        "0006_container_started",
        "0007_user_credential_version",
        "0008_rights_epoch",
        "0009_retired_ids",
        "0010_build_leftover_images",
        "0011_notification_limits",
    ]


def test_every_change_of_rights_moves_the_epoch_and_nothing_else_does(db):
    """Migration 8: the triggers count changes to what decides an actor's rights (issue 28, bug 2)."""
    from ipynbsrv_tui.service.rights import rights_epoch

    alice = _make_user()
    group = Group.create(name="staff", gid=3001)
    epoch = rights_epoch()

    def moved() -> bool:
        nonlocal epoch
        now = rights_epoch()
        changed, epoch = now != epoch, now
        return changed

    User.update(display_name="Alice", email="a@example.org").where(User.id == alice.id).execute()
    User.update(is_admin=False).where(User.id == alice.id).execute()  # the same value: no change
    assert not moved()
    User.update(is_admin=True).where(User.id == alice.id).execute()
    assert moved()
    User.update(active=False).where(User.id == alice.id).execute()
    assert moved()
    member = GroupMember.create(group=group, user=alice)
    assert moved()
    Group.update(name="staff2").where(Group.id == group.id).execute()
    assert moved()
    member.delete_instance()
    assert moved()
    GroupMember.create(group=group, user=alice)
    assert moved()
    alice.delete_instance(recursive=True)
    assert moved()


def test_pragmas(db):
    assert db.pragma("journal_mode") == "wal"
    assert db.pragma("foreign_keys") == 1
    assert db.pragma("busy_timeout") == 5000
    assert db.pragma("synchronous") == 1  # NORMAL


def test_new_parent_folder_is_private(db_path, db):
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    assert db_path.exists()


def test_models_agree_with_migrated_schema(db):
    from_models = peewee.SqliteDatabase(":memory:")
    with from_models.bind_ctx(ALL_MODELS):
        from_models.create_tables(ALL_MODELS)
    assert _describe(db) == _describe(from_models)


def test_upgrade_from_version_1_keeps_rows(db_path):
    db = open_database(db_path, migrate=False)
    assert schema_version(db) == 0
    assert upgrade(db, to_version=1) == ["0001_initial"]
    assert schema_version(db) == 1
    assert "synced" not in {c.name for c in db.get_columns("user")}
    db.execute_sql(
        "INSERT INTO user (username, uid, gid, display_name, email, home, is_admin, source, active, created)"
        " VALUES ('bob', 2002, 2002, 'Bob', '', '/home/bob', 0, 'local', 1, '2024-01-01 00:00:00')"
    )
    db.execute_sql(
        "INSERT INTO auditevent (at, actor, action, target, outcome, detail)"
        " VALUES ('2024-01-01 00:00:00', 'bob', 'login', '', 'ok', '')"
    )
    close_database()

    db = open_database(db_path)
    assert schema_version(db) == latest_version()
    bob = User.get(User.username == "bob")
    assert (bob.display_name, bob.synced) == ("Bob", None)
    assert AuditEvent.get().actor == "bob"
    assert "container_state" in {i.name for i in db.get_indexes("container")}
    assert "auditevent_actor" in {i.name for i in db.get_indexes("auditevent")}
    recorded = [m.name for m in store_db._runner(db).status() if m.applied]
    assert recorded == [
        "0001_initial",
        "0002_user_synced_and_lookup_indexes",
        "0003_row_ids_never_reused_and_row_keys",
        "0004_container_placement",
        "0005_collaboration",
        "0006_container_started",
        "0007_user_credential_version",
        "0008_rights_epoch",
        "0009_retired_ids",
        "0010_build_leftover_images",
        "0011_notification_limits",
    ]


def test_migration_0004_can_be_reverted(db):
    container = _make_container(_make_user(), None)
    Container.update(node_name="worker-1").where(Container.id == container.id).execute()
    while schema_version(db) > 4:
        store_db._runner(db).down()
    assert store_db._runner(db).down() == ["0004_container_placement"]
    assert "node_name" not in {c.name for c in db.get_columns("container")}
    assert db.execute_sql("SELECT name FROM container").fetchall() == [("nb",)]


def test_migration_0006_takes_a_running_rows_start_from_its_last_state_change(db):
    running = _make_container(_make_user(), None)
    when = datetime(2026, 1, 2, 3, 4, 5)
    Container.update(state="running", state_changed=when).where(Container.id == running.id).execute()
    while schema_version(db) > 6:
        store_db._runner(db).down()
    assert store_db._runner(db).down() == ["0006_container_started"]
    upgrade(db)
    assert Container.get_by_id(running.id).started == when


def test_migration_0002_can_be_reverted(db_path):
    db = open_database(db_path, migrate=False)
    upgrade(db, to_version=2)
    db.execute_sql(
        "INSERT INTO user (username, uid, gid, display_name, email, home, is_admin, source, active,"
        " created) VALUES ('alice', 2001, 2001, '', '', '', 0, 'local', 1, '2024-01-01 00:00:00')"
    )
    while schema_version(db) > 2:
        store_db._runner(db).down()
    assert store_db._runner(db).down() == ["0002_user_synced_and_lookup_indexes"]
    assert schema_version(db) == 1
    assert "synced" not in {c.name for c in db.get_columns("user")}
    assert db.execute_sql("SELECT username FROM user").fetchall() == [("alice",)]


def test_reopening_applies_nothing(db_path, db):
    close_database()
    db = open_database(db_path)
    assert upgrade(db) == []
    assert schema_version(db) == latest_version()


def test_deleting_a_container_cascades_to_its_snapshots(db):
    container = _make_container(_make_user(), None)
    Snapshot.create(container=container, name="s1", image_ref="ipynbsrv/snap:1")
    Snapshot.create(container=container, name="s2", image_ref="ipynbsrv/snap:2")
    container.delete_instance()
    assert Snapshot.select().count() == 0


def test_an_image_used_by_a_container_cannot_be_deleted(db):
    image = Image.create(name="py3", ref="ipynbsrv/py3:latest")
    _make_container(_make_user(), image)
    with pytest.raises(peewee.IntegrityError):
        image.delete_instance()
    assert Image.select().count() == 1


def test_a_newer_schema_is_refused_clearly(db_path, db):
    db.execute_sql(
        f"INSERT INTO {store_db.HISTORY_TABLE} (name, applied) VALUES ('0099_future', '2030-01-01')"
    )
    close_database()
    for migrate in (True, False):
        with pytest.raises(StoreError) as caught:
            open_database(db_path, migrate=migrate)
        message = str(caught.value)
        assert (
            "schema version 99" in message
            and f"up to {latest_version()}" in message
            and str(db_path) in message
        )


def test_a_failed_migration_changes_nothing(db, tmp_path, monkeypatch):
    _make_user()
    migrations = tmp_path / "migrations"
    shutil.copytree(store_db.MIGRATIONS_DIR, migrations)
    broken = latest_version() + 1
    (migrations / f"{broken:04d}_broken.py").write_text(
        "def up(migrator, db):\n"
        "    db.execute_sql('CREATE TABLE half_done (x INTEGER)')\n"
        "    raise RuntimeError('disk on fire')\n"
    )
    monkeypatch.setattr(store_db, "MIGRATIONS_DIR", migrations)
    with pytest.raises(StoreError, match=f"schema version {broken} failed: disk on fire"):
        upgrade(db)
    assert "half_done" not in db.get_tables()
    assert schema_version(db) == broken - 1
    assert [u.username for u in User.select()] == ["alice"]
    assert db.pragma("foreign_keys") == 1


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not SQLite" * 100)
    with pytest.raises(StoreError, match=r"Cannot open the database .*notes\.db.*not a database"):
        open_database(path)


def test_a_path_under_a_file_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(StoreError, match="Cannot create the folder .*blocker"):
        open_database(blocker / "sub" / "ipynbsrv.db")


def test_a_folder_in_place_of_the_file_gives_a_clear_error(tmp_path):
    (tmp_path / "ipynbsrv.db").mkdir()
    with pytest.raises(StoreError, match="Cannot open the database"):
        open_database(tmp_path / "ipynbsrv.db")


def test_audit_writes_an_event(db):
    event = audit("alice", "container.start", target="alice/nb")
    stored = AuditEvent.get_by_id(event.id)
    assert (stored.actor, stored.action, stored.target, stored.outcome, stored.detail) == (
        "alice",
        "container.start",
        "alice/nb",
        "ok",
        "",
    )
    assert stored.at is not None
    refused = audit("bob", "image.delete", "py3", outcome="refused", detail="not the owner")
    assert AuditEvent.get_by_id(refused.id).outcome == "refused"
    with pytest.raises(ValueError, match="outcome"):
        audit("bob", "x", outcome="maybe")


def test_close_database_unbinds_the_models(db_path, db):
    close_database()
    with pytest.raises(AttributeError):
        User.select().count()
    assert database_proxy.obj is None


def test_memory_database_works(db_path):  # db_path only for its close_database() at the end
    db = open_database(":memory:")
    assert schema_version(db) == latest_version()
    _make_user()
    assert User.select().count() == 1


def test_migrations_ship_as_a_package():
    """setuptools' package discovery (pyproject include patterns) must pick up the migrations."""
    pyproject = tomllib.loads((Path(store_db.__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(fnmatch("ipynbsrv_tui.store.migrations", pattern) for pattern in patterns)
    assert (store_db.MIGRATIONS_DIR / "__init__.py").is_file()
    assert sorted(p.name for p in store_db.MIGRATIONS_DIR.glob("[0-9]*.py"))[:2] == [
        "0001_initial.py",
        "0002_user_synced_and_lookup_indexes.py",
    ]


def test_row_ids_are_never_reused(db):
    """A deleted container's id must not name a new one (issue 9 item 1): SQLite AUTOINCREMENT."""
    owner = _make_user()
    first = _make_container(owner, None, port=20001, name="a")
    second = _make_container(owner, None, port=20002, name="b")
    second.delete_instance()
    first.delete_instance()
    third = _make_container(owner, None, port=20003, name="c")
    assert third.id > second.id
    for table in ("user", "group", "image", "build", "container", "snapshot", "share", "auditevent"):
        (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        assert "AUTOINCREMENT" in sql, table


def test_upgrade_to_version_3_keeps_rows_ids_and_references(db_path):
    db = open_database(db_path, migrate=False)
    upgrade(db, to_version=2)
    db.execute_sql(
        "INSERT INTO user (id, username, uid, gid, display_name, email, home, is_admin, source, active,"
        " created) VALUES (7, 'bob', 2002, 2002, 'Bob', '', '', 0, 'local', 1, '2024-01-01 00:00:00')"
    )
    db.execute_sql(
        "INSERT INTO container (id, name, owner_id, image_ref, docker_id, description, host_port,"
        " public_ports, token, base_url, state, memory, created) VALUES (11, 'nb', 7, 'x', 'abc', '',"
        " 20001, '{}', 't', '/u/', 'exited', '', '2024-01-01 00:00:00')"
    )
    db.execute_sql(
        "INSERT INTO container (id, name, owner_id, image_ref, docker_id, description, host_port,"
        " public_ports, token, base_url, state, memory, created, clone_of_id) VALUES (12, 'nb2', 7, 'x',"
        " 'def', '', 20002, '{}', 't', '/u/', 'exited', '', '2024-01-01 00:00:00', 11)"
    )
    db.execute_sql("INSERT INTO snapshot (container_id, name, image_ref, description, created)"
                   " VALUES (12, 's', 'x', '', '2024-01-01 00:00:00')")
    db.execute_sql("DELETE FROM container WHERE id = 12")  # (cascades to the snapshot)
    close_database()
    db = open_database(db_path)
    assert schema_version(db) == latest_version()
    row = Container.get_by_id(11)
    assert (row.owner.username, row.docker_id, row.key) == ("bob", "abc", "")
    made = _make_container(row.owner, None, port=20003, name="new")
    assert made.key == ""  # the service gives every row it makes a key; the column's default is empty
    made.delete_instance()
    assert _make_container(row.owner, None, port=20004, name="newer").id > made.id
    assert db.execute_sql("PRAGMA foreign_key_check").fetchall() == []
    assert "container_owner_id_name" in {i.name for i in db.get_indexes("container")}
    row.owner.delete_instance(recursive=True)
    assert Container.select().count() == 0


def test_opening_an_up_to_date_database_does_not_load_the_migration_runner(db_path):
    """The everyday start reads the history table with plain SQL (DESIGN §12: the runner costs
    start-up time); a database with pending migrations still gets them."""
    import subprocess
    import sys

    open_database(db_path, migrate=True)
    close_database()
    probe = (
        "import sys\n"
        "from ipynbsrv_tui.store import open_database, schema_version\n"
        f"db = open_database({str(db_path)!r})\n"
        "print(schema_version(db), 'playhouse.migrations' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == [str(latest_version()), "False"], result.stderr

    db = open_database(db_path)
    db.execute_sql(f'DELETE FROM "{store_db.HISTORY_TABLE}" WHERE name LIKE \'0006%\'')
    db.execute_sql('ALTER TABLE container DROP COLUMN started')
    close_database()
    assert schema_version(open_database(db_path)) == latest_version()  # the pending one ran


def test_a_new_database_and_its_wal_and_shm_are_private_and_check_config_warns_about_readable_ones(
    tmp_path, capsys
):
    """Issue 20.7: the file holds every token and password hash; the admin's folder may be 0755."""
    from ipynbsrv_tui import cli

    folder = tmp_path / "lib"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    path = folder / "ipynbsrv.db"
    old = __import__("os").umask(0o022)
    try:
        open_database(path)
        User.create(username="alice", uid=2001, gid=2000)
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files)
        assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600, 0o600, 0o600]
    finally:
        __import__("os").umask(old)
        close_database()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{path}"\n[data]\nroot = "{tmp_path / "data"}"\n')
    assert cli.main(["--config", str(config), "check-config"]) == 0
    warned = capsys.readouterr().err
    assert f"the database folder {folder} can be listed by others (mode 755)" in warned
    assert "database file" not in warned
    path.chmod(0o644)
    (tmp_path / "data" / "archive").mkdir(parents=True, mode=0o755)
    (tmp_path / "data" / "archive").chmod(0o755)
    assert cli.main(["--config", str(config), "check-config"]) == 0
    warned = capsys.readouterr().err
    assert f"the database file {path} is readable by others (mode 644)" in warned
    assert f"the data folder {tmp_path / 'data' / 'archive'} can be read by others (mode 755)" in warned
