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

    def home_of(self, username: str) -> Path:
        return self.homes / username

    def public_of(self, username: str) -> Path:
        return self.public / username

    def ensure_layout(self) -> None:
        """The four top folders; a clear error when data.root cannot be created."""
        try:
            for folder, mode in ((self.homes, 0o711), (self.shares, 0o755), (self.public, 0o755), (self.archive, 0o700)):
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

    def remove_share(self, name: str) -> Path | None:
        """Delete a share's folder; returns it when there was one."""
        folder = self.share_of(name)
        if not folder.exists():
            return None
        shutil.rmtree(folder)
        return folder

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
