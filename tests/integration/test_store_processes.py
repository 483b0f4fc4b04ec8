"""Two processes open a new database and write to it at once, without "database is locked"."""

from __future__ import annotations

import subprocess
import sys

from ipynbsrv_tui.store import close_database, latest_version, open_database, schema_version
from ipynbsrv_tui.store.models import AuditEvent

ROWS = 300

# Each transaction reads before it writes: with a deferred BEGIN, the lock upgrade would fail at
# once with "database is locked" whenever the other process committed in between.
WORKER = """
import sys
import time

from ipynbsrv_tui.store import open_database
from ipynbsrv_tui.store.audit import audit
from ipynbsrv_tui.store.models import AuditEvent

path, name, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("started", flush=True)
sys.stdin.readline()
db = open_database(path)
print("ready", flush=True)
sys.stdin.readline()
for number in range(rows):
    with db.atomic():
        AuditEvent.select().where(AuditEvent.actor == name).count()
        audit(name, "write", str(number))
    time.sleep(0.001)  # a pause between writes, as real work has: the other process gets a turn
print("done", flush=True)
"""


def _release(workers: list[subprocess.Popen], expect: str) -> None:
    """Wait until every worker printed `expect`, then let them all go on at once."""
    for worker in workers:
        line = worker.stdout.readline().strip()
        assert line == expect, f"worker said {line!r}: {worker.stderr.read() if not line else ''}"
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()


def test_two_processes_migrate_and_write_at_once(tmp_path):
    path = tmp_path / "shared" / "ipynbsrv.db"
    names = ["writer-a", "writer-b"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), name, str(ROWS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        _release(workers, "started")  # both create and migrate the new database together
        _release(workers, "ready")  # both write together
        results = [worker.communicate(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    for worker, (out, err) in zip(workers, results, strict=True):
        assert "database is locked" not in err
        assert worker.returncode == 0, err
        assert out.strip() == "done"

    db = open_database(path)
    try:
        assert schema_version(db) == latest_version()
        assert db.execute_sql("SELECT count(*) FROM schema_migration").fetchone() == (latest_version(),)
        ids = {}
        for name in names:
            rows = list(AuditEvent.select().where(AuditEvent.actor == name).order_by(AuditEvent.id))
            assert [row.target for row in rows] == [str(n) for n in range(ROWS)]
            ids[name] = [row.id for row in rows]
        first, second = ids.values()
        # The writes really overlapped in time: neither process wrote all its rows before the other.
        assert first[0] < second[-1] and second[0] < first[-1]
    finally:
        close_database()
