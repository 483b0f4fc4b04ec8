"""restic (Debian's package) as a child process: its JSON read, its failures as BackupError.

Every call runs `restic` with a small environment of its own (repository, password file, cache
folder) and never through a shell. The caller decides the thread: the broker runs backups in a
thread of their own, so a run never holds up a request.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..domain import BackupError

DEFAULT_TIMEOUT = 3600.0
# Lines restic writes to stderr that are progress or advice, not the reason a command failed.
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
_NOISE = re.compile(r"^(Is there a repository at the following location\?|repository [0-9a-f]+ opened|"
                    r"created restic repository|Please note|the repository\.|irrecoverably|\s*$)")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One restic snapshot (the fields we use)."""

    id: str
    short_id: str
    time: datetime
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    hostname: str


@dataclass(frozen=True, slots=True)
class Node:
    """One entry of `restic ls`: an absolute path in the snapshot and what it is."""

    path: str
    name: str
    type: str
    size: int
    mtime: datetime | None
    mode: int


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """restic backup's summary line."""

    snapshot_id: str
    files_new: int
    files_changed: int
    data_added: int
    seconds: float


def parse_time(text: str) -> datetime:
    """restic's RFC 3339 times carry nanoseconds; Python reads microseconds."""
    text = text.replace("Z", "+00:00")
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)", text)
    if match is None:
        return datetime.fromisoformat(text)
    fraction = (match.group(2) or "")[:7]
    return datetime.fromisoformat(match.group(1) + fraction + match.group(3))


def escape_pattern(path: str) -> str:
    """A path as a restic include/exclude pattern that matches only itself (no wildcards)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


class Restic:
    """One restic repository: init, backup, snapshots, ls, restore, forget, prune, check."""

    def __init__(self, repository: str, password_file: str, cache_dir: Path | None = None,
                 binary: str = "restic", ssh_command: str = "") -> None:
        self.repository = repository
        self.password_file = password_file
        self.cache_dir = cache_dir
        self.binary = binary
        self.ssh_command = ssh_command

    # ------------------------------------------------------------------ commands

    def init(self) -> None:
        """Create the repository; BackupError when one is there already or it cannot be made."""
        self.run(["init"])

    def opens(self) -> None:
        """Prove the repository exists and the password opens it (BackupError saying why not)."""
        self.run(["cat", "config"])

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        """Snapshots carrying every tag in `tags`, oldest first."""
        args = ["snapshots", "--json"]
        if tags:
            args += ["--tag", ",".join(tags)]
        out = self.run(args)
        rows = json.loads(out or "[]") or []
        return sorted((_snapshot(row) for row in rows), key=lambda s: s.time)

    def backup(self, paths: Iterable[str], tags: Sequence[str], host: str,
               timeout: float = DEFAULT_TIMEOUT) -> BackupSummary:
        """One snapshot of `paths`; restic's summary."""
        args = ["backup", "--json", "--host", host]
        for tag in tags:
            args += ["--tag", tag]
        args += ["--", *paths]
        out = self.run(args, timeout=timeout, background=True)
        for line in reversed(out.splitlines()):
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(message, dict) and message.get("message_type") == "summary":
                return BackupSummary(
                    str(message.get("snapshot_id", "")), int(message.get("files_new", 0)),
                    int(message.get("files_changed", 0)), int(message.get("data_added", 0)),
                    float(message.get("total_duration", 0.0)))
        raise BackupError("restic backup ended without a summary: " + _reason(out, "no output"))

    def forget(self, tags: Sequence[str], keep_daily: int, keep_weekly: int, keep_monthly: int,
               prune: bool = False, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Apply the retention to the snapshots carrying `tags`; how many were forgotten. The data
        they alone held stays until a prune: `prune=True` does it in the same restic process."""
        args = ["forget", "--json", "--tag", ",".join(tags), "--group-by", "tags",
                "--keep-daily", str(keep_daily), "--keep-weekly", str(keep_weekly),
                "--keep-monthly", str(keep_monthly), *(["--prune"] if prune else [])]
        out = self.run(args, timeout=timeout, background=True)
        forgotten = 0
        for line in out.splitlines():
            try:  # the prune's own lines (with --prune) are text
                groups = json.loads(line) if line.startswith("[{") else None
            except json.JSONDecodeError:
                continue
            for group in groups if isinstance(groups, list) else ():
                forgotten += len(group.get("remove") or []) if isinstance(group, dict) else 0
        return forgotten

    def check(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """`restic check`: the repository's structure is sound (BackupError with restic's findings)."""
        self.run(["check"], timeout=timeout, background=True)

    def ls(self, snapshot_id: str, *folders: str) -> list[Node]:
        """Each of `folders` itself and what is directly inside it in the snapshot (none: not there)."""
        out = self.run(["ls", "--json", snapshot_id, "--", *folders])
        nodes = []
        for line in out.splitlines():
            row = json.loads(line) if line.startswith("{") else None
            if not isinstance(row, dict) or row.get("struct_type") != "node":
                continue
            mtime = row.get("mtime")
            nodes.append(Node(str(row.get("path", "")), str(row.get("name", "")), str(row.get("type", "")),
                              int(row.get("size", 0) or 0), parse_time(mtime) if mtime else None,
                              int(row.get("mode", 0) or 0)))
        return nodes

    def restore(self, snapshot_id: str, target: Path, *paths: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Restore `paths` (and what is below them) of a snapshot under `target`, each at its full path."""
        includes = [arg for path in paths for arg in ("--include", escape_pattern(path))]
        self.run(["restore", snapshot_id, "--target", str(target), *includes], timeout=timeout)

    # ------------------------------------------------------------------ running

    def environment(self) -> dict[str, str]:
        """What restic sees: the repository and password file, a cache, and no password of ours in argv."""
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ", "SSH_AUTH_SOCK", "TMPDIR")
               if key in os.environ}
        env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env["RESTIC_REPOSITORY"] = self.repository
        env["RESTIC_PASSWORD_FILE"] = self.password_file
        if self.cache_dir is not None:
            env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return env

    def run(self, args: list[str], timeout: float = 300.0, background: bool = False) -> str:
        """Run `restic ARGS`, return its stdout; BackupError with restic's reason when it fails.

        `background` runs it at a lower CPU and I/O priority (a backup must not slow the broker's answers).
        """
        if not self.repository:
            raise BackupError("No backup repository is configured: set [backup] repository in config.toml.")
        binary = shutil.which(self.binary)
        if binary is None:
            raise BackupError(f"{self.binary} is not installed: apt-get install restic.")
        command = [binary, "--quiet", *(["--no-cache"] if self.cache_dir is None else []),
                   *(["-o", f"sftp.command={self.ssh_command}"] if self.ssh_command else []), *args]
        if background:
            command = _lower_priority() + command
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=self.environment(), start_new_session=True)
        except OSError as exc:
            raise BackupError(f"Cannot start restic: {exc.strerror}.") from None
        with _running_lock:
            _running.add(process)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise BackupError(f"restic {args[0]} took longer than {timeout:.0f} s and was stopped.") from None
        finally:
            with _running_lock:
                _running.discard(process)
        text = out.decode("utf-8", "replace")
        if process.returncode != 0:
            raise BackupError(_message(args[0], self.repository, err.decode("utf-8", "replace"), text))
        return text



def stop_all() -> None:
    """End every restic this process runs (the broker is stopping); restic removes its lock on SIGTERM."""
    with _running_lock:
        processes = list(_running)
    for process in processes:
        if process.poll() is None:
            process.terminate()


def _lower_priority() -> list[str]:
    prefix: list[str] = []
    if shutil.which("nice"):
        prefix += ["nice", "-n", "10"]
    if shutil.which("ionice"):
        prefix += ["ionice", "-c", "3"]
    return prefix


def _snapshot(row: dict[str, Any]) -> Snapshot:
    return Snapshot(str(row["id"]), str(row.get("short_id") or row["id"][:8]), parse_time(str(row["time"])),
                    tuple(row.get("paths") or ()), tuple(row.get("tags") or ()), str(row.get("hostname", "")))


def _reason(stderr: str, fallback: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if not _NOISE.match(line)]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    chosen = fatal[-1] if fatal else (lines[-1] if lines else fallback)
    return chosen.removeprefix("Fatal:").strip()[:500]


def _message(command: str, repository: str, stderr: str, stdout: str) -> str:
    """One line: what failed, restic's own reason, and what to do when we know it."""
    reason = _reason(stderr or stdout, f"restic {command} failed without a message")
    lowered = reason.lower()
    if "wrong password" in lowered:
        advice = "Check [backup] password_file: it must hold the password the repository was created with."
    elif "unable to open config file" in lowered or "does not exist" in lowered and command != "init":
        advice = "Create the repository with `ipynbsrv-tui backup init`, or check [backup] repository."
    elif "already locked" in lowered or "unable to create lock" in lowered:
        advice = "Another restic is working on the repository; try again when it is done."
    elif "already initialized" in lowered or "config file already exists" in lowered:
        advice = "The repository exists already: nothing to create."
    else:
        advice = ""
    return f"restic {command} on {repository}: {reason}." + (f" {advice}" if advice else "")
