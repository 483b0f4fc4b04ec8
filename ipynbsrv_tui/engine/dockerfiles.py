"""The dockerfiles/ folder (DESIGN §6): image folders, what their Dockerfiles declare, build plans
and the host-side wheelhouse.

- `discover(root)` / `load_folder(root, name)` read every `<root>/<name>/Dockerfile`: its ARG
  defaults, the labels of its final stage (the `ipynbsrv.*` registration defaults) and its wheel
  sets (`wheels.txt` → `wheels/`, `wheels-<set>.txt` → `wheels/<set>/`).
- `plan_build(...)` decides the build args and tags, and which base image folder must be built
  first because the image it derives from (`ARG BASE_IMAGE=<prefix>/<folder>:<tag>`) is missing.
- `prepare_wheelhouse(folder)` runs `pip download` on the host into the build context, reusing the
  files already there, so the build container needs no Python package index.
"""

from __future__ import annotations

import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import validation
from ..config import BuildConfig
from ..domain import ImageDefaults, ImageMissing, NotFound, ValidationError, WheelhouseError

BASE_ARG = "BASE_IMAGE"
DEFAULT_PREFIX = "ipynbsrv"
WHEELS_DIR = "wheels"
REQUIREMENTS = "requirements.txt"
_WHEEL_FILE = re.compile(r"^wheels(?:-(?P<set>[A-Za-z0-9][A-Za-z0-9_.-]*))?\.txt$")
_FOLDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_ARCHIVE = (".whl", ".tar.gz", ".zip", ".tar.bz2")
_PIP_FILE = re.compile(r"^(?:Saved|File was already downloaded) (?P<path>\S+)\s*$")
_PIP_TIMEOUT = 1800
STAMP = ".ipynbsrv-wheels"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.!+_-]+)$")
_ARCHIVE_NAME = re.compile(r"^(?P<name>[A-Za-z0-9._]+?)-(?P<version>[A-Za-z0-9.!+_]+?)(?:-[^-]+-[^-]+-[^-]+\.whl|\.tar\.gz|\.zip|\.tar\.bz2)$")


# --------------------------------------------------------------------------- Dockerfile


@dataclass(frozen=True)
class DockerfileInfo:
    """What a Dockerfile declares: ARG defaults, the final stage's LABELs and the FROM images."""

    args: dict[str, str | None]
    labels: dict[str, str]
    froms: tuple[str, ...]

    def arg(self, name: str) -> str | None:
        """The default of ARG `name` ("" when declared without a default, None when not declared)."""
        if name not in self.args:
            return None
        return self.args[name] or ""


def parse_dockerfile(text: str) -> DockerfileInfo:
    """Read ARG defaults (first declaration with a default wins), LABELs and FROMs of a Dockerfile."""
    args: dict[str, str | None] = {}
    labels: dict[str, str] = {}
    froms: list[str] = []
    for instruction, rest in _instructions(text):
        if instruction == "ARG":
            for word in _words(rest):
                name, sep, value = word.partition("=")
                if args.get(name) is None:
                    args[name] = value if sep else None
        elif instruction == "FROM":
            words = [w for w in _words(rest) if not w.startswith("--")]
            if words:
                froms.append(words[0])
            labels = {}  # only the final stage's labels reach the image
        elif instruction == "LABEL":
            labels.update(_label_pairs(rest))
    return DockerfileInfo(args=args, labels=labels, froms=tuple(froms))


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) per logical line: comments dropped, `\\` continuations joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            instruction, _, rest = line.partition(" ")
            result.append((instruction.upper(), rest.strip()))
    if pending.strip():
        instruction, _, rest = pending.strip().partition(" ")
        result.append((instruction.upper(), rest.strip()))
    return result


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _label_pairs(text: str) -> dict[str, str]:
    words = _words(text)
    if len(words) == 2 and "=" not in words[0]:  # legacy form: LABEL key value
        return {words[0]: words[1]}
    return {key: value for key, sep, value in (w.partition("=") for w in words) if sep}


# --------------------------------------------------------------------------- wheel sets


@dataclass(frozen=True)
class WheelSet:
    """One `wheels*.txt` of an image folder: `pip download` options, requirements, target folder."""

    name: str  # "" for wheels.txt, else the <set> of wheels-<set>.txt
    source: Path
    options: tuple[str, ...]
    requirements: tuple[str, ...]

    @property
    def target(self) -> Path:
        """The folder of the build context that receives the files (wheels/ or wheels/<set>/)."""
        wheels = self.source.parent / WHEELS_DIR
        return wheels / self.name if self.name else wheels

    @property
    def label(self) -> str:
        return f"{WHEELS_DIR}/{self.name}" if self.name else WHEELS_DIR

    def download_options(self, arch: str) -> list[str]:
        """The options with `{arch}` replaced by the machine name (x86_64, aarch64 …)."""
        return [option.replace("{arch}", arch) for option in self.options]


def read_wheel_set(path: Path) -> WheelSet:
    """Parse a wheels file: lines starting with `-` are pip options, others requirements, `#` comments."""
    found = _WHEEL_FILE.match(path.name)
    if not found:
        raise ValidationError(f"{path} is not a wheels file: name it wheels.txt or wheels-<set>.txt.")
    options: list[str] = []
    requirements: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.extend(_words(line))
        elif any(ch.isspace() for ch in line.split(";", 1)[0].strip()):
            raise ValidationError(f"{path}, line {number}: {line!r} is not one requirement (one per line).")
        else:
            requirements.append(line)
    if not requirements:
        raise ValidationError(f"{path} lists no requirement: add one package per line, e.g. notebook==7.4.5.")
    return WheelSet(found.group("set") or "", path, tuple(options), tuple(requirements))


# --------------------------------------------------------------------------- image folders


@dataclass(frozen=True)
class ImageFolder:
    """One image folder under dockerfiles/: its name, path, Dockerfile and wheel sets."""

    name: str
    path: Path
    dockerfile: DockerfileInfo
    wheel_sets: tuple[WheelSet, ...] = ()

    @property
    def labels(self) -> dict[str, str]:
        return self.dockerfile.labels

    @property
    def base_default(self) -> str | None:
        """The default of `ARG BASE_IMAGE`, None when the Dockerfile has none."""
        return self.dockerfile.arg(BASE_ARG) or None

    @property
    def registrable(self) -> bool:
        return self.labels.get("ipynbsrv.registrable", "true").strip().lower() != "false"

    def defaults(self, ref: str) -> ImageDefaults:
        """Registration defaults from the final stage's ipynbsrv.* labels (as the image will carry)."""
        return defaults_from_labels(ref, self.name, self.labels)


def defaults_from_labels(ref: str, name: str, labels: Mapping[str, str], docker_id: str = "") -> ImageDefaults:
    """Registration defaults (DESIGN §6) from ipynbsrv.* labels; unreadable values fall back to the defaults."""
    try:
        port = validation.port(labels.get("ipynbsrv.notebook-port", "8888"), what="ipynbsrv.notebook-port")
    except ValidationError:
        port = 8888
    try:
        public = validation.port_list(labels.get("ipynbsrv.public-ports", ""))
    except ValidationError:
        public = ()
    return ImageDefaults(
        ref=ref,
        name=name,
        description=labels.get("ipynbsrv.description", ""),
        command=labels.get("ipynbsrv.command", ""),
        notebook_port=port,
        public_ports=public,
        registrable=labels.get("ipynbsrv.registrable", "true").strip().lower() != "false",
        docker_id=docker_id,
    )


def load_folder(root: str | Path, name: str) -> ImageFolder:
    """The image folder `<root>/<name>` (NotFound, naming the folders there, when it has no Dockerfile)."""
    root = Path(root)
    path = root / name
    if not _FOLDER_NAME.match(name) or not (path / "Dockerfile").is_file():
        known = ", ".join(f.name for f in discover(root)) or "none"
        raise NotFound(f"No image folder {name!r} with a Dockerfile in {root}/ (there: {known}).")
    try:
        text = (path / "Dockerfile").read_text()
    except OSError as exc:
        raise NotFound(f"Cannot read {path / 'Dockerfile'}: {exc.strerror}.") from None
    sets = tuple(read_wheel_set(p) for p in sorted(path.iterdir()) if p.is_file() and _WHEEL_FILE.match(p.name))
    return ImageFolder(name=name, path=path.resolve(), dockerfile=parse_dockerfile(text), wheel_sets=sets)


def discover(root: str | Path) -> list[ImageFolder]:
    """Every image folder under `root` (a sub-folder with a Dockerfile), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if _FOLDER_NAME.match(p.name) and (p / "Dockerfile").is_file())
    return [load_folder(root, name) for name in names]


# --------------------------------------------------------------------------- build plans


@dataclass(frozen=True)
class BuildStep:
    """One image build of a plan: the folder, the tag it gets, its build args, and why it is built."""

    folder: ImageFolder
    tag: str
    buildargs: dict[str, str]
    reason: str
    nocache: bool = False

    @property
    def labels(self) -> dict[str, str]:
        """Labels the build adds: the source folder (never ipynbsrv.managed: containers inherit labels)."""
        return {"ipynbsrv.folder": self.folder.name}


@dataclass(frozen=True)
class BuildPlan:
    """Builds in order: missing base images first, the requested image last."""

    steps: tuple[BuildStep, ...]

    @property
    def target(self) -> BuildStep:
        return self.steps[-1]


def managed_folder(ref: str, root: str | Path, prefix: str) -> tuple[str, str] | None:
    """(folder, tag) when `ref` is `<prefix>/<folder>:<tag>` (or `ipynbsrv/…`) of a folder under root."""
    try:
        name, tag = validation.split_reference(ref)
    except ValidationError:
        return None
    repo, _, folder = name.rpartition("/")
    if repo not in {prefix, DEFAULT_PREFIX} or not (Path(root) / folder / "Dockerfile").is_file():
        return None
    return folder, tag


def plan_build(
    name: str,
    config: BuildConfig,
    image_exists: Callable[[str], bool],
    tag: str | None = None,
    buildargs: Mapping[str, str] | None = None,
    nocache: bool = False,
    root: str | Path | None = None,
) -> BuildPlan:
    """Plan the build of image folder `name` as `tag` (default `<image_prefix>/<name>:latest`).

    BASE_IMAGE is the `--build-arg` when given; else, when the Dockerfile's default names an image
    folder (`ipynbsrv/base-ldap:latest`), that image under the configured prefix; else the
    configured `[build] base_image` (the Debian base of base-ldap). A missing base built from an
    image folder is planned first, as `<prefix>/<folder>:<tag>`, with BASE_IMAGE taken from the
    requesting Dockerfile's `ARG <FOLDER>_BASE_IMAGE` when it declares one (e.g.
    BASE_LDAP_BASE_IMAGE=debian:bullseye-slim). Any other missing base raises ImageMissing with
    the command that makes it.
    """
    root = Path(root if root is not None else config.dockerfiles)
    overrides = validation.build_args(dict(buildargs or {}))
    target_tag = validation.image_reference(tag or f"{config.image_prefix}/{name}:latest")
    steps: list[BuildStep] = []
    _plan(root, name, target_tag, overrides, "requested", config, image_exists, nocache, steps, ())
    return BuildPlan(tuple(steps))


def _plan(
    root: Path,
    name: str,
    tag: str,
    overrides: dict[str, str],
    reason: str,
    config: BuildConfig,
    image_exists: Callable[[str], bool],
    nocache: bool,
    steps: list[BuildStep],
    chain: tuple[str, ...],
) -> None:
    if name in chain:
        raise ValidationError(f"Image folders derive from each other in a loop: {' -> '.join((*chain, name))}.")
    folder = load_folder(root, name)
    args = dict(overrides)
    base = folder.base_default
    if BASE_ARG in args:
        base = args[BASE_ARG]
    elif BASE_ARG in folder.dockerfile.args:
        managed = managed_folder(base, root, config.image_prefix) if base else None
        base = f"{config.image_prefix}/{managed[0]}:{managed[1]}" if managed else config.base_image
        args[BASE_ARG] = base
    if base:
        _plan_base(root, folder, base, args, config, image_exists, nocache, steps, (*chain, name))
    steps.append(BuildStep(folder=folder, tag=tag, buildargs=args, reason=reason, nocache=nocache))


def _plan_base(
    root: Path,
    folder: ImageFolder,
    base: str,
    args: dict[str, str],
    config: BuildConfig,
    image_exists: Callable[[str], bool],
    nocache: bool,
    steps: list[BuildStep],
    chain: tuple[str, ...],
) -> None:
    if any(step.tag == base for step in steps) or image_exists(base):
        return
    managed = managed_folder(base, root, config.image_prefix)
    if managed is None:
        raise ImageMissing(_missing_base_message(folder.name, base))
    base_name = managed[0]
    base_args: dict[str, str] = {}
    parent = args.get(_parent_arg(base_name)) or folder.dockerfile.arg(_parent_arg(base_name))
    if parent:
        base_args[BASE_ARG] = parent
    reason = f"base of {folder.name}: {base} is missing"
    _plan(root, base_name, base, base_args, reason, config, image_exists, nocache, steps, chain)


def _parent_arg(folder_name: str) -> str:
    """The ARG through which an image folder names its base's BASE_IMAGE: base-ldap → BASE_LDAP_BASE_IMAGE."""
    return re.sub(r"[^A-Za-z0-9]", "_", folder_name).upper() + "_" + BASE_ARG


def _missing_base_message(name: str, base: str) -> str:
    hint = "Build or import it first"
    debian = re.match(r"^(?:docker\.io/)?(?:library/)?debian:(?P<suite>[a-z]+)(?:-slim)?$", base)
    if debian:
        hint = (
            f"Make it from this host's Debian mirror with "
            f"`ipynbsrv-tui images bootstrap-base --suite {debian.group('suite')} --tag {base}`"
        )
    return f"{name} is built FROM {base}, which is not on the Docker Engine and cannot be pulled here. {hint}."


# --------------------------------------------------------------------------- wheelhouse


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
        how = "all reused, no network" if self.offline else f"{self.downloaded} downloaded, {self.reused} reused"
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
        raise WheelhouseError(f"Cannot create {target}: {exc.strerror}. Check the permissions of {folder.path}.") from None
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
        progress(f"{report.label}: downloading with pip ({len(wheel_set.requirements)} requirements from {wheel_set.source.name})")
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
    present = set()
    for name in files:
        found = _ARCHIVE_NAME.match(name)
        if found:
            present.add((_normalize(found.group("name")), found.group("version")))
    for requirement in wheel_set.requirements:
        pin = _PIN.match(requirement)
        if pin is None or (_normalize(pin.group("name")), pin.group("version")) not in present:
            return False
    return True


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


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
        raise WheelhouseError(f"{command[0]} is not there: the host needs Python with pip to prepare wheels.") from None
    except subprocess.TimeoutExpired:
        raise WheelhouseError(
            f"pip download did not finish within {_PIP_TIMEOUT // 60} minutes; check the host's access to the "
            "package index, then build again (files already downloaded are kept)."
        ) from None
    output = (done.stdout + done.stderr).splitlines()
    if done.returncode != 0 and any("No module named pip" in line for line in output):
        raise WheelhouseError(f"{command[0]} has no pip: install it (e.g. apt-get install python3-pip) to prepare wheels.")
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
