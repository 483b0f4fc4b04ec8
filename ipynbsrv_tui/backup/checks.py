"""`check-config` for [backup]: the password file is root's alone and the repository opens with it."""

from __future__ import annotations

from ..config import Config, key_location
from ..domain import BackupError
from .plan import password_file_problem
from .restic import Restic


def check_backup(config: Config) -> list[tuple[str, str]]:
    """(level, message) pairs: "error" when backups as configured cannot run."""
    backup = config.backup
    problem = password_file_problem(backup.password_file)
    if problem is not None:
        return [
            (
                "error",
                f"{key_location(config, 'backup', 'password_file')} {backup.password_file!r} {problem}.",
            )
        ]
    try:
        Restic(backup.repository, backup.password_file, ssh_command=backup.ssh_command).opens()
    except BackupError as exc:
        return [("error", f"{key_location(config, 'backup', 'repository')}: {exc}")]
    return []
