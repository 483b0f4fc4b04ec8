"""Numbered schema migrations, applied in order by `store.db.upgrade()`.

Each `NNNN_name.py` defines `up(migrator, db)` (and `down` where it can be undone). A migration
never imports `store.models`: the tables it creates are frozen inline, so later changes to the
models cannot change what an old migration did. Add a new file for every schema change, and
make `store/models.py` agree with the result (tests/unit/test_store.py checks that they do).
"""
