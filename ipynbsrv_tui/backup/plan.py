"""What an installation backs up and with which restic: paths, tags, the password file's checks."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

from ..config import BackupConfig
from ..validation import parse_schedule
from .restic import Restic

LATE_AFTER = timedelta(hours=26)
CHECK_EVERY = timedelta(days=7)
TAG = "ipynbsrv"


def installation_tags(instance_id: str) -> tuple[str, str]:
    """The tags of this installation's snapshots: every snapshot carries both."""
    return TAG, f"ipynbsrv-{instance_id}"


def password_file_problem(path: str) -> str | None:
    """Why `path` cannot serve as the repository's password file (None: it can).

    It must be a regular file owned by root (or by the user running us, when that is not root),
    readable by its owner only, and not empty.
    """
    if not path:
        return "is not set"
    try:
        info = os.stat(path)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_uid not in (0, os.geteuid()):
        return f"is owned by uid {info.st_uid}: it must be owned by root"
    if info.st_mode & 0o077:
        return (f"has mode {stat.S_IMODE(info.st_mode):04o}: others can read it; "
                f"run chmod 600 {path}")
    if info.st_size == 0:
        return "is empty: put the repository password on its first line"
    return None


def restic_for(config: BackupConfig, data_root: Path) -> Restic:
    """The restic of this installation; its cache lives beside the data, root-only."""
    return Restic(config.repository, config.password_file, cache_dir=data_root / ".backup" / "cache",
                  ssh_command=config.ssh_command)


def next_run(schedule: str, after: datetime) -> datetime:
    """The first scheduled time strictly after `after` (a local, aware datetime)."""
    kind, value = parse_schedule(schedule)
    if kind == "every":
        return after + timedelta(seconds=value)
    at = after.replace(hour=value // 60, minute=value % 60, second=0, microsecond=0)
    return at if at > after else at + timedelta(days=1)
