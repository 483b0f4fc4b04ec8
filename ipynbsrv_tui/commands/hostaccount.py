"""`users create --host-account`: the host login account that goes with a directory user.

The broker knows a caller only by uid, so a local-directory user logs in through a host account
with the same uid. This makes it in the same step: the account (same name, the directory's uid,
a home under /home, bash), its membership of the host group `[directory] users_group` (created
when missing; its host gid need not equal the directory's gid), and the same password. It never
changes an existing account: a taken name or uid is refused before anything is made.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess

from ..domain import ValidationError


def check_can_create(username: str) -> None:
    """Refuse early (before the directory user exists) when the host account cannot be made."""
    if os.geteuid() != 0:
        raise ValidationError("--host-account creates a login account on this host: run it as root (sudo).")
    for tool in ("useradd", "groupadd", "chpasswd"):
        if shutil.which(tool) is None:
            raise ValidationError(f"--host-account needs {tool} (apt-get install passwd); it is not on PATH.")
    try:
        existing = pwd.getpwnam(username)
    except KeyError:
        return
    raise ValidationError(
        f"The host already has an account {username!r} (uid {existing.pw_uid}); --host-account never "
        "changes an existing account. Create the user without --host-account and give that account the "
        "directory's uid, or pick another name."
    )


def uid_taken_by(uid: int) -> str | None:
    """The host account that already uses `uid`, if any."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def create(username: str, uid: int, group: str, password: str, display_name: str = "") -> str:
    """Make the host account `username` with `uid` in host group `group` and set its password.

    Returns a one-line description of what was made. Raises ValidationError, leaving nothing
    behind, when a step fails.
    """
    owner = uid_taken_by(uid)
    if owner is not None:
        raise ValidationError(
            f"Uid {uid} is already used by the host account {owner!r}; refusing to reuse it."
        )
    made_group = False
    try:
        grp.getgrnam(group)
    except KeyError:
        _run(["groupadd", group], f"create the host group {group!r}")
        made_group = True
    command = ["useradd", "--uid", str(uid), "--gid", group, "--create-home", "--shell", "/bin/bash"]
    if display_name:
        command += ["--comment", display_name.replace(":", " ")]
    try:
        _run([*command, username], f"create the host account {username!r}")
        try:
            _run(["chpasswd"], f"set the password of {username!r}", stdin=f"{username}:{password}\n")
        except ValidationError:
            subprocess.run(["userdel", "--remove", username], capture_output=True, check=False)
            raise
    except ValidationError:
        if made_group:
            subprocess.run(["groupdel", group], capture_output=True, check=False)
        raise
    gid = grp.getgrnam(group).gr_gid
    return f"host account {username} (uid {uid}, group {group} gid {gid}, home /home/{username})"


def _run(command: list[str], what: str, stdin: str | None = None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise ValidationError(f"Could not {what}: {reason[-1] if reason else f'exit {result.returncode}'}.")
