"""Bad input at the command line gives one clear line, never a traceback (issue 9 item 10)."""

from __future__ import annotations

import subprocess
import sys

from ipynbsrv_tui.store.db import close_database, open_database
from ipynbsrv_tui.store.models import User


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ipynbsrv_tui.cli", *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_a_config_that_is_not_utf8_is_one_located_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[data]\nroot = "/srv/caf\xe9"\n')
    result = _cli("--config", str(path), "check-config")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and f"{path}:2: not UTF-8" in result.stderr


def test_negative_broker_numbers_are_config_errors_not_a_silent_broker(tmp_path):
    for key in ("max_message_bytes", "reconcile_interval"):
        path = tmp_path / f"{key}.toml"
        path.write_text(f"[broker]\n{key} = -1\n")
        result = _cli("--config", str(path), "check-config")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"{path}:2: broker.{key} = -1" in result.stderr


def test_json_into_a_reader_that_leaves_is_no_traceback(tmp_path):
    database = tmp_path / "state" / "ipynbsrv.db"
    open_database(database)
    User.insert_many(
        [
            {"username": f"user{n:04d}", "uid": 10_000 + n, "gid": 10_000, "display_name": "x" * 100}
            for n in range(800)
        ]
    ).execute()
    close_database()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{database}"\n[data]\nroot = "{tmp_path / "data"}"\n')
    command = f"{sys.executable} -m ipynbsrv_tui.cli --config {config} users list --json | head -n 2"
    result = subprocess.run(["bash", "-c", command + "; echo \"status=${PIPESTATUS[0]}\" >&2"],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[0] == "["
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert "status=141" in result.stderr


def test_a_locked_database_is_one_line_from_the_command_line(tmp_path):
    """Item 7: another process holds the write lock past busy_timeout: one clear line, exit 2, no
    traceback."""
    import sqlite3

    database = tmp_path / "state" / "ipynbsrv.db"
    open_database(database)
    close_database()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{database}"\n[data]\nroot = "{tmp_path / "data"}"\n')
    holder = sqlite3.connect(database, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = _cli("--config", str(config), "users", "create", "dave", "--password-file", "-",
                      input="long enough password\n")
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "database is busy" in result.stderr
    open_database(database)
    try:
        assert not User.select().where(User.username == "dave").exists()  # nothing half-done
    finally:
        close_database()
