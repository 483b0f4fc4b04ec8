"""Schema version 8: a count of rights changes (`setting` row `rights.epoch`), kept by triggers.

A session's rights follow from its user row (active, is_admin, username, uid) and its group
memberships (and those groups' names). Every writer (the console, the CLI, the directory sync,
in any process) changes them through these tables, so triggers count the changes for all of
them; the broker and the live sessions compare the count to notice a change within a poll
(DESIGN §8: a demoted admin's open console drops the admin views within a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator

TRIGGERS = {
    "rights_user_update": (
        'AFTER UPDATE OF is_admin, active, username, uid ON "user" WHEN OLD.is_admin IS NOT NEW.is_admin '
        "OR OLD.active IS NOT NEW.active OR OLD.username IS NOT NEW.username OR OLD.uid IS NOT NEW.uid"
    ),
    "rights_user_delete": 'AFTER DELETE ON "user"',
    "rights_member_insert": 'AFTER INSERT ON "groupmember"',
    "rights_member_delete": 'AFTER DELETE ON "groupmember"',
    "rights_group_rename": 'AFTER UPDATE OF name ON "group" WHEN OLD.name IS NOT NEW.name',
}
BUMP = "UPDATE setting SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rights.epoch'"


def up(migrator: SchemaMigrator, db: Database) -> None:
    db.execute_sql("INSERT OR IGNORE INTO setting (key, value) VALUES ('rights.epoch', '0')")
    for name, when in TRIGGERS.items():
        db.execute_sql(f"CREATE TRIGGER IF NOT EXISTS {name} {when} BEGIN {BUMP}; END")


def down(migrator: SchemaMigrator, db: Database) -> None:
    for name in TRIGGERS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
    db.execute_sql("DELETE FROM setting WHERE key = 'rights.epoch'")
