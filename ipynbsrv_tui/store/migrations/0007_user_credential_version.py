"""Schema version 7: `user.credential_version`, moved on every password change, disable and enable.

A web session is bound to the account's row, uid and this version (DESIGN §16): when any of them
changes, the session ends, so a password change or a disable ends every session of the account at
once, and a new account of the same name starts with none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import IntegerField

if TYPE_CHECKING:
    from peewee import Database
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(migrator.add_column("user", "credential_version", IntegerField(default=0)))


def down(migrator: SchemaMigrator, db: Database) -> None:
    migrator.migrate(migrator.drop_column("user", "credential_version"))
