"""Putting restored files in place without trusting the folder they land in (DESIGN §17).

restic restores into a fresh root-only staging folder. From there the tree is made the
restoring user's (links changed as links, never through them; device files and fifos dropped,
set-id bits cleared) and moved in one rename into `<root>/restored/<name>`, where `<root>` is a
home or a share opened without following links. The rename never replaces anything: the user
owns `restored/` and may have put anything there, a link to /etc included.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..domain import Conflict

_RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True, slots=True)
class Owner:
    """Who restored files belong to: uid, gid, and whether folders get setgid (a share's)."""

    uid: int
    gid: int
    setgid: bool = False


def rename_noreplace(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str) -> None:
    """renameat2(RENAME_NOREPLACE): FileExistsError when `dst` exists in any form."""
    if _libc.renameat2(src_dir_fd, os.fsencode(src), dst_dir_fd, os.fsencode(dst), _RENAME_NOREPLACE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), dst)


def make_owned(top: Path, owner: Owner) -> tuple[int, list[str]]:
    """Give everything under `top` (itself included) to `owner`; drop what is not a file, folder
    or link. Returns (regular files kept, relative paths dropped)."""
    files = 0
    dropped: list[str] = []
    for folder, dirs, names, dir_fd in os.fwalk(top, follow_symlinks=False):
        _own(".", owner, dir_fd, is_dir=True)
        for name in [*names, *dirs]:
            info = os.lstat(name, dir_fd=dir_fd)
            if stat.S_ISLNK(info.st_mode):
                os.chown(name, owner.uid, owner.gid, dir_fd=dir_fd, follow_symlinks=False)
            elif stat.S_ISREG(info.st_mode):
                _own(name, owner, dir_fd, is_dir=False)
                files += 1
            elif not stat.S_ISDIR(info.st_mode):
                os.unlink(name, dir_fd=dir_fd)
                dropped.append(str(Path(folder, name).relative_to(top)))
    return files, dropped


def _own(name: str, owner: Owner, dir_fd: int, is_dir: bool) -> None:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if is_dir else 0), dir_fd=dir_fd)
    try:
        os.fchown(fd, owner.uid, owner.gid)
        mode = stat.S_IMODE(os.fstat(fd).st_mode) & 0o777 | 0o700 * is_dir
        if is_dir and owner.setgid:
            mode |= 0o2070
        os.fchmod(fd, mode)  # set-id bits are not restored: a file owned by root once is the user's now
    finally:
        os.close(fd)


def place(staged: Path, root: Path, name: str, owner: Owner, folder_mode: int = 0o700) -> str:
    """Move `staged` to `<root>/restored/<name>` (or `<name>-2`, `-3`, … when taken); returns the
    name used. `root` is opened without following links; `restored` is made when missing and
    refused when it is not a folder."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            os.mkdir("restored", folder_mode, dir_fd=root_fd)
            created = True
        except FileExistsError:
            created = False
        try:
            restored_fd = os.open("restored", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Conflict(
                    f"{root.name}/restored is not a folder: rename it, then restore again."
                ) from None
            raise
        try:
            if created:
                os.fchown(restored_fd, owner.uid, owner.gid)
                os.fchmod(restored_fd, folder_mode | (0o2000 if owner.setgid else 0))
            parent_fd = os.open(staged.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for attempt in range(1, 1000):
                    chosen = name if attempt == 1 else f"{name}-{attempt}"
                    try:
                        rename_noreplace(parent_fd, staged.name, restored_fd, chosen)
                        return chosen
                    except OSError as exc:
                        if exc.errno != errno.EEXIST:
                            raise
            finally:
                os.close(parent_fd)
        finally:
            os.close(restored_fd)
    finally:
        os.close(root_fd)
    raise Conflict(f"{root.name}/restored holds 999 restores of this snapshot already: clear some out.")
