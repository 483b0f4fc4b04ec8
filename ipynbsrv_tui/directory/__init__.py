"""The user directory (DESIGN §7): one interface, `Directory`, with two implementations.

- `LdapDirectory` (directory.backend = "ldap"): an LDAP server through ldap3.
- `LocalDirectory` (directory.backend = "local", the embedded default): the SQLite store.

`open_directory(config)` picks one; `sync_users(directory)` mirrors it into the store.
"""

from __future__ import annotations

from ..config import Config
from ..domain import SyncReport
from .base import Directory
from .sync import SyncStatus, cached_users, sync_status, sync_users

__all__ = [
    "Directory",
    "SyncReport",
    "SyncStatus",
    "cached_users",
    "open_directory",
    "sync_status",
    "sync_users",
]


def open_directory(config: Config) -> Directory:
    """The directory `config.directory.backend` names; no connection is made yet.

    The local directory uses the store: open it first with
    `store.db.open_database(config.database.resolved_path)`.
    """
    if config.directory.backend == "ldap":
        from .ldap import LdapDirectory

        return LdapDirectory(config)
    from .local import LocalDirectory

    return LocalDirectory(config)
