"""The port users reach this host's sshd on, for the `ssh -L` line (`[notebooks] ssh_port`)."""

from __future__ import annotations

import glob
import shlex
from pathlib import Path

SSHD_CONFIG = Path("/etc/ssh/sshd_config")
DEFAULT = 22


def login_ssh_port(configured: int, sshd_config: Path = SSHD_CONFIG) -> int:
    """`configured` when set; with 0, the first `Port` of this host's sshd configuration, as sshd
    reads it (Include files where they stand, the first value wins); 22 when it names none."""
    if configured:
        return configured
    return _first_port(sshd_config, depth=0) or DEFAULT


def _first_port(path: Path, depth: int) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if len(words) < 2:
            continue
        keyword = words[0].lower()
        if keyword == "match":
            return None  # what follows applies to some connections only
        if keyword == "port" and words[1].isdigit() and 0 < int(words[1]) < 65536:
            return int(words[1])
        if keyword == "include" and depth < 8:
            for pattern in words[1:]:
                pattern = pattern if pattern.startswith("/") else str(Path("/etc/ssh") / pattern)
                for included in sorted(glob.glob(pattern)):
                    if (port := _first_port(Path(included), depth + 1)) is not None:
                        return port
    return None


def ssh_port_option(configured: int) -> str:
    """` -p N` for an ssh command line, or "" for the default port."""
    port = login_ssh_port(configured)
    return "" if port == DEFAULT else f" -p {port}"
