"""The host side of a user's data: homes/, public/, shares/ and archive/ under config.data.root."""

from __future__ import annotations

import os
import shutil
import tarfile
import time
from pathlib import Path

from ..domain import IpynbsrvError


class HostData:
    """Creates, archives and removes the folders that are bind-mounted into notebook containers."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def homes(self) -> Path:
        return self.root / "homes"

    @property
    def shares(self) -> Path:
        return self.root / "shares"

    @property
    def public(self) -> Path:
        return self.root / "public"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def kept(self) -> Path:
        """Folders kept after their share, group or user was deleted: out of every namespace."""
        return self.archive / "kept"

    def readable_by_others(self) -> list[str]:
        """Warnings for the data folders whose mode lets others read what they should not: the
        archive (every deleted user's and share's files) and homes/ (its users' names)."""
        found = []
        for folder, mask, fix in ((self.archive, 0o077, "700"), (self.homes, 0o044, "711")):
            try:
                mode = folder.stat().st_mode
            except OSError:
                continue
            if mode & mask:
                found.append(f"the data folder {folder} can be read by others (mode {mode & 0o777:o}): "
                             f"run chmod {fix} {folder}")
        return found

    def home_of(self, username: str) -> Path:
        return self.homes / username

    def public_of(self, username: str) -> Path:
        return self.public / username

    def ensure_layout(self) -> None:
        """The four top folders; a clear error when data.root cannot be created."""
        try:
            for folder, mode in (
                (self.homes, 0o711),
                (self.shares, 0o755),
                (self.public, 0o755),
                (self.archive, 0o700),
            ):
                folder.mkdir(parents=True, exist_ok=True)
                os.chmod(folder, mode)
        except PermissionError as exc:
            raise IpynbsrvError(
                f"Cannot create the data folders under {self.root}: {exc.strerror}. "
                "Set [data] root in config.toml to a folder you can write, or run as the service account."
            ) from None

    def ensure_user(self, username: str, uid: int, gid: int) -> Path:
        """`homes/<user>` (0700, uid:gid) and `public/<user>` (0755, uid:gid); returns the home."""
        self.ensure_layout()
        home = self.home_of(username)
        public = self.public_of(username)
        for folder, mode in ((home, 0o700), (public, 0o755)):
            folder.mkdir(exist_ok=True)
            os.chmod(folder, mode)
            _chown(folder, uid, gid)
        return home

    def ensure_share(self, name: str, gid: int) -> Path:
        """`shares/<name>`, setgid 2770, group-owned by the share's group."""
        self.ensure_layout()
        folder = self.share_of(name)
        folder.mkdir(exist_ok=True)
        _chown(folder, 0 if os.geteuid() == 0 else -1, gid)
        os.chmod(folder, 0o2770)
        set_group_writable_default(folder)
        return folder

    def share_of(self, name: str) -> Path:
        return self.shares / name

    def move_aside(self, folder: Path, label: str) -> Path:
        """Take `folder` out of its namespace at once: renamed to `archive/kept/<label>-<time>`, its top
        made root's and 0700, so that nobody reaches it by its old path or its new one (a running
        container's bind mount keeps the inode, and with it only what it had already)."""
        self.ensure_layout()
        self.kept.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.kept, 0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.kept / f"{label}-{stamp}"
        serial = 1
        while target.exists():
            serial += 1
            target = self.kept / f"{label}-{stamp}-{serial}"
        os.rename(folder, target)
        _chown(target, 0, 0)
        os.chmod(target, 0o700)
        return target

    def kept_folders(self) -> list[Path]:
        """The folders under archive/kept, by name."""
        if not self.kept.is_dir():
            return []
        return sorted(path for path in self.kept.iterdir() if path.is_dir() and not path.is_symlink())

    def archive_folder(self, label: str, folder: Path, arcname: str) -> Path:
        """A `.tar.gz` of one folder under archive/, its members under `arcname`."""
        self.ensure_layout()
        target = self.archive / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
        with tarfile.open(target, "w:gz") as tar:
            tar.add(folder, arcname=arcname)
        os.chmod(target, 0o600)
        return target

    def remove_tree(self, folder: Path, attempts: int = 5) -> bool:
        """Delete a folder already moved aside; a process still writing into it (through an open
        file or a running container's mount) can add entries while it goes, so try again a few
        times. True when it is gone."""
        for _ in range(attempts):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                return True
            time.sleep(0.05)
        return not folder.exists()

    def archive_paths(self, label: str, paths: list[Path]) -> Path:
        """A `.tar.gz` of the existing `paths` under archive/, named after `label` and the time."""
        self.ensure_layout()
        target = self.archive / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
        with tarfile.open(target, "w:gz") as tar:
            for path in paths:
                if path.exists():
                    tar.add(path, arcname=str(path.relative_to(self.root)))
        os.chmod(target, 0o600)
        return target

    def remove_user_data(self, username: str) -> list[Path]:
        """Delete the user's home and public folders; returns what was removed."""
        removed = []
        for folder in (self.home_of(username), self.public_of(username)):
            if folder.exists():
                shutil.rmtree(folder)
                removed.append(folder)
        return removed


# POSIX ACL xattr (linux/posix_acl_xattr.h): version 2, then (tag u16, perm u16, id u32) entries.
_ACL_VERSION = 2
_ACL_UNDEFINED_ID = 0xFFFFFFFF
_DEFAULT_ACL = ((0x01, 7), (0x04, 7), (0x20, 0))  # user::rwx group::rwx other::---


def set_group_writable_default(folder: Path) -> bool:
    """Give `folder` the default ACL user::rwx,group::rwx,other::--- so files made inside it are
    group-writable whatever the creating process's umask (a `docker exec`, sshd, the notebook).
    Returns False where the file system has no ACLs (then the containers' umask 002 still applies)."""
    import struct

    value = struct.pack("<I", _ACL_VERSION) + b"".join(
        struct.pack("<HHI", tag, perm, _ACL_UNDEFINED_ID) for tag, perm in _DEFAULT_ACL
    )
    try:
        os.setxattr(folder, "system.posix_acl_default", value)
    except OSError:
        return False
    return True


def _chown(path: Path, uid: int, gid: int) -> None:
    """chown when we are allowed to (root); a non-root embedded run keeps its own ownership."""
    if os.geteuid() != 0:
        return
    os.chown(path, uid, gid)
