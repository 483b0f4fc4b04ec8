"""The store: SQLite via peewee, the truth about what was asked for (DESIGN §4).

The audit helper lives in `store.audit` (`from ipynbsrv_tui.store.audit import audit`); it is not
re-exported here, so that `store.audit` stays the module.
"""

from ipynbsrv_tui.store.db import close_database, latest_version, open_database, schema_version, upgrade

__all__ = ["close_database", "latest_version", "open_database", "schema_version", "upgrade"]
