"""A Debian base image without a registry: debootstrap from the host's mirror, then `docker import`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import validation
from ..domain import BootstrapError
from .docker_engine import DockerEngine
from .errors import engine_call
from .mirror import host_debian_mirror

_SUITE = re.compile(r"^[a-z][a-z0-9-]*$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
# Left out of the image: downloaded packages and index files (an image runs `apt-get update` first).
_CLEAN = ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*", "var/log/*.log")
_EXCLUDE = ("./proc/*", "./sys/*", "./dev/*")
_CHANGES = ('CMD ["/bin/bash"]', "ENV LANG=C.UTF-8")


def bootstrap_base(
    engine: DockerEngine,
    suite: str = "bookworm",
    tag: str = "debian:bookworm-slim",
    mirror: str = "",
    progress: Callable[[str], None] = print,
    variant: str = "minbase",
    include: Sequence[str] = (),
) -> str:
    """Make image `tag` from `debootstrap --variant=<variant> <suite>`; returns the image id.

    `mirror` "" means the host's configured Debian mirror. Needs root and debootstrap.
    Every line of progress goes to `progress`.
    """
    validation.image_reference(tag)
    debootstrap = _check_requirements(suite, variant, include)
    mirror = mirror or host_debian_mirror()
    if not mirror:
        raise BootstrapError(
            "No Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/. "
            "Give one with --mirror URL (or `mirror` in the [build] section of config.toml)."
        )
    workdir = Path(tempfile.mkdtemp(prefix="ipynbsrv-bootstrap-"))
    rootfs = workdir / "rootfs"
    try:
        command = [debootstrap, f"--variant={variant}"]
        if include:
            command.append("--include=" + ",".join(include))
        command += [suite, str(rootfs), mirror]
        progress(f"Running {' '.join(command)}")
        _run_debootstrap(command, suite, mirror, progress)
        _clean(rootfs)
        progress(f"Importing the root file system into the Docker Engine as {tag} …")
        image_id = _import(engine, rootfs, tag, suite)
        progress(f"Imported {tag} ({image_id})")
        return image_id
    finally:
        _remove_tree(workdir, progress)


def _check_requirements(suite: str, variant: str, include: Sequence[str]) -> str:
    if not _SUITE.match(suite):
        raise BootstrapError(f"{suite!r} is not a Debian suite name: expected e.g. bookworm or bullseye.")
    if variant not in ("minbase", "buildd", "fakechroot"):
        raise BootstrapError(
            f"{variant!r} is not a debootstrap variant: expected minbase, buildd or fakechroot."
        )
    bad = [name for name in include if not _PACKAGE.match(name)]
    if bad:
        raise BootstrapError(f"Not Debian package names: {', '.join(bad)}.")
    if os.geteuid() != 0:
        raise BootstrapError(
            "Making a base image needs root (debootstrap creates device nodes and files owned by "
            "other users). Run it again as root, e.g. with sudo."
        )
    found = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise BootstrapError(
            "debootstrap is not installed. Install it (apt-get install debootstrap), then try again."
        )
    return found


def _run_debootstrap(command: list[str], suite: str, mirror: str, progress: Callable[[str], None]) -> None:
    last: deque[str] = deque(maxlen=5)
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"},
        )
    except OSError as exc:
        raise BootstrapError(f"Cannot run debootstrap: {exc.strerror}.") from exc
    try:
        for raw in process.stdout or ():
            line = raw.rstrip()
            if line:
                last.append(line)
                progress(line)
        code = process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait()
    if code != 0:
        errors = [line for line in last if line.startswith("E:")] or list(last)
        reason = errors[-1] if errors else "no output"
        raise BootstrapError(
            f"debootstrap failed (exit code {code}): {reason}. "
            f"Check that {mirror} serves the suite {suite} and is reachable from this host."
        )


def _clean(rootfs: Path) -> None:
    for pattern in _CLEAN:
        for path in rootfs.glob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink()


def _import(engine: DockerEngine, rootfs: Path, tag: str, suite: str) -> str:
    repository, name = validation.split_reference(tag)
    excludes = [f"--exclude={pattern}" for pattern in _EXCLUDE]
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--numeric-owner", *excludes, "-c", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    changes = [*_CHANGES, f'LABEL ipynbsrv.bootstrap="{suite}"']
    try:
        with engine_call("import the base image", tag, engine.url):
            answer = engine.client.api.import_image_from_stream(
                tar.stdout, repository=repository, tag=name, changes=changes
            )
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        _, tar_errors = tar.communicate()
    if tar.returncode != 0:
        detail = tar_errors.decode("utf-8", errors="replace").strip().splitlines()
        raise BootstrapError(
            "Packing the root file system failed: "
            f"{detail[-1] if detail else 'tar exited with ' + str(tar.returncode)}."
        )
    return _image_id(answer, tag)


def _image_id(answer: str | bytes, tag: str) -> str:
    """The image id from the import answer (JSON lines; the last status is `sha256:…`)."""
    text = answer.decode("utf-8", errors="replace") if isinstance(answer, bytes) else str(answer)
    image_id = ""
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        if item.get("error") or item.get("errorDetail"):
            raise BootstrapError(
                f"The Docker Engine could not import {tag}: {item.get('error') or item.get('errorDetail')}."
            )
        status = str(item.get("status") or "")
        if status.startswith("sha256:"):
            image_id = status
    if not image_id:
        raise BootstrapError(
            f"The Docker Engine did not report an image id for {tag}. Check `docker images`."
        )
    return image_id


def _mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def _remove_tree(workdir: Path, progress: Callable[[str], None]) -> None:
    """Delete the work folder, after unmounting anything debootstrap left mounted inside it."""
    for point in _mounts_below(workdir):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if _mounts_below(workdir):
        progress(
            f"Left {workdir} in place: file systems are still mounted inside it; unmount them, then delete "
            "it."
        )
        return
    shutil.rmtree(workdir, ignore_errors=True)
