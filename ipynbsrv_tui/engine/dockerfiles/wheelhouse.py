"""The host-side wheelhouse: `pip download` into an image folder's build context, reusing the
files already there, so the build container needs no Python package index."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...domain import WheelhouseError
from .folders import REQUIREMENTS, ImageFolder, WheelSet

if TYPE_CHECKING:  # packaging loads when a wheelhouse is checked, not at start-up
    from packaging.version import Version

_ARCHIVE = (".whl", ".tar.gz", ".zip", ".tar.bz2")
_PIP_FILE = re.compile(r"^(?:Saved|File was already downloaded) (?P<path>\S+)\s*$")
_PIP_TIMEOUT = 1800
STAMP = ".ipynbsrv-wheels"


@dataclass
class WheelhouseReport:
    """What `prepare_wheelhouse` did for one wheel set."""

    label: str
    files: int = 0
    downloaded: int = 0
    reused: int = 0
    removed: int = 0
    offline: bool = False
    seconds: float = 0.0
    output: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        how = (
            "all reused, no network"
            if self.offline
            else f"{self.downloaded} downloaded, {self.reused} reused"
        )
        removed = f", {self.removed} stale removed" if self.removed else ""
        return f"{self.label}: {self.files} files ({how}{removed}) in {self.seconds:.1f} s"


def prepare_wheelhouse(
    folder: ImageFolder,
    progress: Callable[[str], None] = print,
    pip: Sequence[str] | None = None,
    arch: str | None = None,
) -> list[WheelhouseReport]:
    """Fill `<folder>/wheels/…` with `pip download` on the host, one wheel set after the other.

    Files already there are reused: an offline attempt (`--no-index --find-links <target>`) runs
    first and needs no network when nothing is missing. `requirements.txt` (the requirement lines)
    is written next to the files for the Dockerfile's `pip install --no-index -r`. Files no longer
    part of the set are removed so the build context stays small. Raises WheelhouseError with pip's
    last lines when a download fails.
    """
    command = list(pip or (sys.executable, "-m", "pip"))
    machine = arch or platform.machine()
    reports = []
    for wheel_set in folder.wheel_sets:
        reports.append(_prepare_set(folder, wheel_set, command, machine, progress))
    return reports


def _prepare_set(
    folder: ImageFolder, wheel_set: WheelSet, pip: list[str], arch: str, progress: Callable[[str], None]
) -> WheelhouseReport:
    started = time.monotonic()
    target = wheel_set.target
    report = WheelhouseReport(label=f"{folder.name}/{wheel_set.label}")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WheelhouseError(
            f"Cannot create {target}: {exc.strerror}. Check the permissions of {folder.path}."
        ) from None
    requirements = target / REQUIREMENTS
    _write_if_changed(requirements, "\n".join(wheel_set.requirements) + "\n")
    before = {p.name for p in target.iterdir() if p.name.endswith(_ARCHIVE)}
    stamp = target / STAMP
    fingerprint = _fingerprint(wheel_set, arch)
    if _complete(wheel_set, before, stamp, fingerprint):
        report.files = report.reused = len(before)
        report.offline = True
        report.seconds = time.monotonic() - started
        progress(report.summary())
        return report
    stamp.unlink(missing_ok=True)
    base = [*pip, "download", "--disable-pip-version-check", "--progress-bar", "off", "-d", str(target)]
    base += [*wheel_set.download_options(arch), "-r", str(requirements)]
    offline = _run_pip([*base, "--no-index", "--find-links", str(target)])
    if offline.returncode == 0:
        result, report.offline = offline, True
    else:
        progress(
            f"{report.label}: downloading with pip ({len(wheel_set.requirements)} requirements from "
            f"{wheel_set.source.name})"
        )
        result = _run_pip(base)
        if result.returncode != 0:
            tail = [line for line in result.output if line.strip() and "is ignored" not in line][-12:]
            raise WheelhouseError(
                f"pip download for {folder.name}/{wheel_set.source.name} failed (exit {result.returncode}). "
                "The host needs access to a Python package index (the build container does not). "
                "pip said: " + " | ".join(tail)
            )
    used = _files_used(result.output, target)
    report.output = result.output
    if used:
        for stale in sorted(before - used):
            (target / stale).unlink(missing_ok=True)
            report.removed += 1
    after = {p.name for p in target.iterdir() if p.name.endswith(_ARCHIVE)}
    report.files = len(after)
    report.reused = len(before & after)
    report.downloaded = len(after - before)
    report.seconds = time.monotonic() - started
    stamp.write_text(fingerprint)
    progress(report.summary())
    return report


def _fingerprint(wheel_set: WheelSet, arch: str) -> str:
    """What the files of a set depend on: its options (for this machine) and requirements."""
    return "\n".join([*wheel_set.download_options(arch), *wheel_set.requirements]) + "\n"


def _complete(wheel_set: WheelSet, files: set[str], stamp: Path, fingerprint: str) -> bool:
    """True when a fully pinned set was downloaded before with the same options and every pin has its file.

    Then pip need not run at all (its offline check still prepares the metadata of every source
    archive, which takes seconds).
    """
    if not stamp.is_file() or stamp.read_text() != fingerprint:
        return False
    present = _archives(files)
    pins = [_pin(requirement) for requirement in wheel_set.requirements]
    return all(pin is not None and pin in present for pin in pins)


def _archives(files: set[str]) -> set[tuple[str, Version]]:
    """(normalised project name, version) of each wheel or source archive among `files`."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    present: set[tuple[str, Version]] = set()
    for name in files:
        try:
            if name.endswith(".whl"):
                project, version, _, _ = parse_wheel_filename(name)
            else:  # packaging knows .tar.gz and .zip; a .tar.bz2 sdist is named the same way
                project, version = parse_sdist_filename(name.removesuffix(".tar.bz2") + ".tar.gz"
                                                        if name.endswith(".tar.bz2") else name)
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        present.add((project, version))
    return present


def _pin(requirement: str) -> tuple[str, Version] | None:
    """(normalised name, version) of a requirement pinned with `==` to one version, else None."""
    from packaging import version as versions
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return None
    specifiers = list(parsed.specifier)
    if parsed.url or parsed.marker or len(specifiers) != 1 or specifiers[0].operator != "==":
        return None
    try:
        return canonicalize_name(parsed.name), versions.Version(specifiers[0].version)
    except versions.InvalidVersion:  # a wildcard such as ==1.*
        return None


@dataclass(frozen=True)
class _PipResult:
    returncode: int
    output: list[str]


def _run_pip(command: list[str]) -> _PipResult:
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=_PIP_TIMEOUT
        )
    except FileNotFoundError:
        raise WheelhouseError(
            f"{command[0]} is not there: the host needs Python with pip to prepare wheels."
        ) from None
    except subprocess.TimeoutExpired:
        raise WheelhouseError(
            f"pip download did not finish within {_PIP_TIMEOUT // 60} minutes; check the host's access to "
            "the package index, then build again (files already downloaded are kept)."
        ) from None
    output = (done.stdout + done.stderr).splitlines()
    if done.returncode != 0 and any("No module named pip" in line for line in output):
        raise WheelhouseError(
            f"{command[0]} has no pip: install it (e.g. apt-get install python3-pip) to prepare wheels."
        )
    return _PipResult(done.returncode, output)


def _files_used(output: list[str], target: Path) -> set[str]:
    used = set()
    for line in output:
        found = _PIP_FILE.match(line.strip())
        if found:
            path = Path(found.group("path"))
            if (target / path.name).is_file():
                used.add(path.name)
    return used


def _write_if_changed(path: Path, text: str) -> None:
    """Write only on a change, so an unchanged wheelhouse keeps the build's layer cache."""
    if path.is_file() and path.read_text() == text:
        return
    path.write_text(text)


def check_wheelhouse(folder: ImageFolder) -> None:
    """With `[build] wheelhouse = false`: make sure the wheel folders exist (filled by hand)."""
    for wheel_set in folder.wheel_sets:
        if not (wheel_set.target / REQUIREMENTS).is_file():
            raise WheelhouseError(
                f"{wheel_set.target} has no {REQUIREMENTS} and [build] wheelhouse is false: fill it by hand "
                f"(pip download with the lines of {wheel_set.source.name}) or set wheelhouse = true."
            )
