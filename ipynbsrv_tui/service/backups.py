"""Backups and self-service restore (DESIGN §17, §8).

Admins create the repository, run and watch backups. Everybody browses and restores from the
snapshots, through the paths their notebooks show: `/home/<me>/…` and `/data/shares/<share>/…`
for the shares they may use *now*. Any other path, snapshot or name gets the same answer as one
that does not exist. Restores land in `restored/<snapshot time>/` of the home or share, never
over anything.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..backup.placement import Owner, make_owned, place
from ..backup.plan import (
    CHECK_EVERY,
    LATE_AFTER,
    installation_tags,
    next_run,
    password_file_problem,
    restic_for,
)
from ..backup.restic import Node, Restic, Snapshot
from ..domain import (
    Actor,
    BackupEntry,
    BackupError,
    BackupReport,
    BackupRestore,
    BackupSnapshot,
    BackupStatus,
    Conflict,
    Health,
    NotFound,
    ShareView,
    ValidationError,
)
from ..store.models import Setting, User
from . import authz
from .base import Component, Ports
from .notifications import Notifications

HOME_PREFIX = "/home"
SHARES_PREFIX = "/data/shares"
PATH_MAX = 4096
_SNAPSHOT_ID = re.compile(r"[0-9a-f]{4,64}")
_run_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Root:
    """A home or share the actor may see: the path their notebooks show, the host folder, who owns
    restores."""

    visible: str
    host: Path
    owner: Owner


class ShareList(Protocol):
    """What backups ask of the shares: the ones the actor may use (what a restore may reach)."""

    def list_shares(self, actor: Actor, query: str = "") -> list[ShareView]: ...


class Backups(Component):
    """Use cases of backups: init, run, status (admins); snapshots, files, restore (everyone)."""

    def __init__(self, ports: Ports, *, notifications: Notifications, shares: ShareList) -> None:
        super().__init__(ports)
        self.notifications = notifications
        self.shares = shares

    # ------------------------------------------------------------------ admins

    def backup_init(self, actor: Actor) -> str:
        """Create the restic repository of [backup] repository (admins)."""
        self._backup_admin(actor, "backup.init")
        self.restic().init()
        self.audit(actor, "backup.init", self.config.backup.repository)
        return self.config.backup.repository

    def backup_run(self, actor: Actor) -> BackupReport:
        """One backup now: homes, shares, public folders and a copy of the database; then retention,
        and `restic check` when the last one is a week old (admins; the broker's schedule runs it too)."""
        self._backup_admin(actor, "backup.run")
        if not _run_lock.acquire(blocking=False):
            raise Conflict("A backup is running already; see `ipynbsrv-tui backup status`.")
        try:
            return self._backup_run_locked(actor)
        finally:
            _run_lock.release()

    def backup_status(self, actor: Actor) -> BackupStatus:
        """Whether backups run, succeed and are on time (admins)."""
        self._backup_admin(actor, "backup.status")
        return self._backup_status()

    def backup_due(self, now: datetime | None = None) -> bool:
        """Whether the schedule says a run is due (the broker asks every minute)."""
        status = self._backup_status(now)
        return status.enabled and status.next_run is not None and status.next_run <= (now or _now())

    def backup_watch(self, actor: Actor, now: datetime | None = None) -> BackupStatus:
        """Tell admins once when backups become late (no success for 26 hours); the broker calls this every
        minute."""
        status = self._backup_status(now)
        late_noted = _setting("backup.late_noted")
        if status.late and not late_noted:
            last = status.last_success.isoformat(timespec="minutes") if status.last_success else "never"
            self._notify_admins(
                f"Backups are late: no successful backup for over 26 hours (last success: {last}). "
                f"{status.last_error}".strip()
            )
            _set("backup.late_noted", _now().isoformat())
        elif not status.late and late_noted:
            _set("backup.late_noted", "")
        return status

    def backup_problem(self) -> str:
        """One line for the admin header when backups failed or are late; "" when all is well."""
        status = self._backup_status()
        if not status.enabled:
            return ""
        if status.last_error:
            return f"backup failed: {status.last_error}"
        if status.late:
            return "backup late: no success for 26 h"
        return ""

    # ------------------------------------------------------------------ everyone

    def backup_snapshots(self, actor: Actor) -> list[BackupSnapshot]:
        """This installation's snapshots, newest first: when, and an id (nothing about their content)."""
        restic = self.restic()
        return [BackupSnapshot(s.id, s.short_id, s.time) for s in reversed(self._snapshots(restic))]

    def backup_files(self, actor: Actor, snapshot: str = "latest", path: str = "") -> list[BackupEntry]:
        """What was at `path` (a folder: what it held) in a snapshot; no path: the homes and shares the
        actor may use now, as far as the snapshot has them."""
        restic = self.restic()
        chosen = self._snapshot(actor, restic, snapshot)
        if not path:
            roots = self._roots(actor)
            found = {n.path: n for n in restic.ls(chosen.id, *[self._repo_path(r.host) for r in roots])}
            return [_entry(r.visible, found[self._repo_path(r.host)], r.visible)
                    for r in roots if self._repo_path(r.host) in found]
        root, rest = self._resolve(actor, path)
        host = self._repo_path(root.host / rest if rest else root.host)
        nodes = restic.ls(chosen.id, host)
        top = next((n for n in nodes if n.path == host), None)
        if top is None:
            raise self._nothing_at(actor, path)
        visible = root.visible + ("/" + rest if rest else "")
        if top.type != "dir":
            return [_entry(visible, top, visible)]
        return sorted((_entry(visible + "/" + n.name, n, visible) for n in nodes if n.path != host),
                      key=lambda e: (e.kind != "dir", e.name))

    def backup_restore(self, actor: Actor, path: str, snapshot: str = "latest") -> BackupRestore:
        """Restore a file or folder into `restored/<snapshot time>/` of its home or share, never over
        anything."""
        restic = self.restic()
        chosen = self._snapshot(actor, restic, snapshot)
        root, rest = self._resolve(actor, path)
        if not rest and not actor.is_admin:
            raise ValidationError(
                f"Give a file or folder inside {root.visible}, e.g. {root.visible}/notebook.ipynb "
                "(a whole home or share is restored by an admin)."
            )
        host = self._repo_path(root.host / rest if rest else root.host)
        staging = self._staging_folder()
        try:
            restic.restore(chosen.id, staging / "restic", host)
            restored = staging / "restic" / host.lstrip("/")
            if not os.path.lexists(restored):
                raise self._nothing_at(actor, path)
            out = staging / "out"
            if rest:
                (out / rest).parent.mkdir(parents=True)
                os.rename(restored, out / rest)
            else:  # a whole home or share (admins): its content becomes restored/<snapshot time>/
                os.rename(restored, out)
            files, dropped = make_owned(out, root.owner)
            name = place(out, root.host, chosen.time.strftime("%Y-%m-%d_%H%M%S"), root.owner,
                         0o770 if root.owner.setgid else 0o700)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        inside = f"/{rest}" if rest else ""
        target = f"{root.visible}/restored/{name}{inside}"
        self.audit(actor, "backup.restore", root.visible + inside, detail=f"snapshot={chosen.short_id}")
        return BackupRestore(
            root.visible + inside, chosen.short_id, chosen.time, target, files, tuple(dropped)
        )

    # ------------------------------------------------------------------ helpers

    def _backup_admin(self, actor: Actor, action: str) -> None:
        if not authz.can_manage_backups(actor):
            raise self.refuse(actor, action, "", "Only admins run and set up backups.")

    def restic(self) -> Restic:
        backup = self.config.backup
        if not backup.repository:
            raise Conflict("Backups are not set up on this installation: ask an admin "
                           "(they set [backup] in config.toml).")
        problem = password_file_problem(backup.password_file)
        if problem is not None:
            raise BackupError(f"The backup password file {backup.password_file!r} {problem}: ask an admin.")
        return restic_for(backup, self.data.root.absolute())

    def _snapshots(self, restic: Restic) -> list[Snapshot]:
        return restic.snapshots(installation_tags(self.instance_id))

    def _snapshot(self, actor: Actor, restic: Restic, wanted: str) -> Snapshot:
        """The snapshot named by a (short) id or "latest", among this installation's only."""
        text = wanted.strip().lower() if isinstance(wanted, str) else ""
        snapshots = self._snapshots(restic) if text == "latest" or _SNAPSHOT_ID.fullmatch(text) else []
        if text == "latest" and snapshots:
            return snapshots[-1]
        matches = [s for s in snapshots if s.id.startswith(text)] if text != "latest" else []
        if len(matches) == 1:
            return matches[0]
        self.audit(actor, "backup.snapshot", str(wanted)[:64], "refused", "no such snapshot")
        if text == "latest":
            raise NotFound("There is no backup yet.")
        raise NotFound(f"No backup snapshot {str(wanted)[:64]!r}: see `ipynbsrv-tui backup list`.")

    def _roots(self, actor: Actor) -> list[_Root]:
        """The actor's home and the shares they may use now (admins: every home and share)."""
        roots: list[_Root] = []
        users = User.select().order_by(User.username)
        if not actor.is_admin:
            users = users.where(User.username == actor.username)
        for user in users:
            if not authz.can_restore_home(actor, user.username):
                continue
            roots.append(_Root(f"{HOME_PREFIX}/{user.username}", self.data.home_of(user.username),
                               Owner(user.uid, user.gid)))
        me = User.get_or_none(User.username == actor.username)
        for share in self.shares.list_shares(actor):
            owner = me or User.get_or_none(
                User.username == share.owner
            )  # an admin's restore: the share owner's
            uid = owner.uid if owner is not None else actor.uid
            roots.append(_Root(f"{SHARES_PREFIX}/{share.name}", self.data.share_of(share.name),
                               Owner(uid, share.gid, setgid=True)))
        return roots

    def _resolve(self, actor: Actor, path: str) -> tuple[_Root, str]:
        """(the home or share holding `path`, the path inside it); NotFound for anything not theirs.

        `path` is as the notebooks show it (`/home/alice/x`, `/data/shares/lab/x`), or `~/x` or
        relative to the actor's home."""
        if (
            not isinstance(path, str)
            or len(path) > PATH_MAX
            or any(ord(c) < 32 or ord(c) == 127 for c in path)
        ):
            raise ValidationError(
                f"A path is text of at most {PATH_MAX} characters without control characters."
            )
        text = path.strip()
        if text == "~" or text.startswith("~/"):
            text = f"{HOME_PREFIX}/{actor.username}/{text[2:]}"
        elif not text.startswith("/"):
            text = f"{HOME_PREFIX}/{actor.username}/{text}"
        parts = [p for p in PurePosixPath(text).parts[1:] if p != "."]
        if ".." in parts:
            raise ValidationError(f"{path!r}: give the path without '..'.")
        wanted = "/" + "/".join(parts)
        for root in self._roots(actor):
            if wanted == root.visible or wanted.startswith(root.visible + "/"):
                return root, wanted[len(root.visible) + 1:]
        raise self._nothing_at(actor, path)

    def _nothing_at(self, actor: Actor, path: str) -> NotFound:
        self.audit(actor, "backup.files", str(path)[:256], "refused", "nothing visible there")
        return NotFound(f"Nothing at {str(path)[:256]!r} in the backups you can see.")

    def _repo_path(self, host: Path) -> str:
        return str(host.absolute())

    def _staging_folder(self) -> Path:
        base = self.data.root.absolute() / ".backup"
        base.mkdir(mode=0o700, exist_ok=True)
        os.chmod(base, 0o700)
        staging = base / f"restore-{uuid.uuid4().hex}"
        staging.mkdir(mode=0o700)
        return staging

    def _database_copy(self) -> Path:
        """A consistent copy of the database by SQLite's online backup API (never the live file)."""
        folder = self.data.root.absolute() / ".backup" / "database"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder.parent, 0o700)
        target = folder / "ipynbsrv.db"
        partial = folder / "ipynbsrv.db.partial"
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(str(self.config.database.resolved_path), timeout=30)
        try:
            copy = sqlite3.connect(str(partial))
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()
        os.chmod(partial, 0o600)
        os.replace(partial, target)
        return target

    def _backup_run_locked(self, actor: Actor) -> BackupReport:
        restic = self.restic()
        started = time.monotonic()
        _set("backup.last_run", _now().isoformat())
        try:
            self.data.ensure_layout()
            paths = [str(self.data.homes.absolute()), str(self.data.shares.absolute()),
                     str(self.data.public.absolute()), str(self._database_copy())]
            summary = restic.backup(paths, installation_tags(self.instance_id), self.host)
            backup = self.config.backup
            forgotten, checked = 0, False
            last_check = _time_setting("backup.last_check")
            if last_check is None or _now() - last_check >= CHECK_EVERY:
                # Weekly, the retention with the prune in one restic process, then the check. A
                # forget frees nothing before a prune, so a daily one only shortens the snapshot list,
                # at the cost of a second restic process (about half a bare incremental backup).
                forgotten = restic.forget(installation_tags(self.instance_id), backup.keep_daily,
                                          backup.keep_weekly, backup.keep_monthly, prune=True)
                restic.check()
                _set("backup.last_check", _now().isoformat())
                checked = True
        except BackupError as exc:
            self._backup_failed(actor, str(exc))
            raise
        _set("backup.last_success", _now().isoformat())
        _set("backup.last_error", "")
        self.audit(actor, "backup.run", summary.snapshot_id, detail=f"new={summary.files_new} "
                   f"changed={summary.files_changed} added={summary.data_added}")
        return BackupReport(summary.snapshot_id, summary.files_new, summary.files_changed, summary.data_added,
                            round(time.monotonic() - started, 3), forgotten, checked)

    def _backup_failed(self, actor: Actor, message: str) -> None:
        """Record the failure for the header and tell admins (once per distinct message)."""
        previous = _setting("backup.last_error")
        _set("backup.last_error", message)
        self.audit(actor, "backup.run", "", "failed", message)
        if message != previous:
            self._notify_admins(f"Backup failed: {message}")

    def _notify_admins(self, message: str) -> None:
        admins = list(User.select().where((User.is_admin == True) & (User.active == True)))  # noqa: E712
        self.notifications.deliver(None, [], message[:1000], "misc", "backup", exclude=(), extra=admins)

    def _backup_status(self, now: datetime | None = None) -> BackupStatus:
        backup = self.config.backup
        if not backup.enabled:
            return BackupStatus(False, backup.repository, backup.schedule)
        now = now or _now()
        since = _time_setting("backup.enabled_since")
        if since is None:
            since = now
            _set("backup.enabled_since", now.isoformat())
        last_run = _time_setting("backup.last_run")
        last_success = _time_setting("backup.last_success")
        late = now - (last_success or since) > LATE_AFTER
        scheduled = next_run(backup.schedule, (last_run or since).astimezone())
        return BackupStatus(
            True,
            backup.repository,
            backup.schedule,
            _run_lock.locked(),
            last_run,
            last_success,
            _time_setting("backup.last_check"),
            _setting("backup.last_error"),
            late,
            scheduled,
        )

    def health_for(self, actor: Actor, health: Health) -> Health:
        """The header's health, with the backup problem for admins."""
        if not actor.is_admin or not self.config.backup.enabled:
            return health
        return replace(health, backup_problem=self.backup_problem())


def _entry(visible: str, node: Node, parent: str) -> BackupEntry:
    kind = node.type if node.type in ("file", "dir", "symlink") else "other"
    return BackupEntry(visible, node.name, kind, node.size, node.mtime)


def _now() -> datetime:
    return datetime.now(UTC)


def _setting(key: str) -> str:
    row = Setting.get_or_none(Setting.key == key)
    return str(row.value) if row is not None else ""


def _time_setting(key: str) -> datetime | None:
    value = _setting(key)
    return datetime.fromisoformat(value) if value else None


def _set(key: str, value: str) -> None:
    Setting.insert(key=key, value=value).on_conflict_replace().execute()
