"""Image folders under dockerfiles/ (DESIGN §6): each one's Dockerfile, registration defaults and
wheel sets (`wheels.txt` → `wheels/`, `wheels-<set>.txt` → `wheels/<set>/`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ... import validation
from ...domain import ImageDefaults, NotFound, ValidationError
from .dockerfile import DockerfileInfo, parse_dockerfile, shell_words

BASE_ARG = "BASE_IMAGE"
WHEELS_DIR = "wheels"
REQUIREMENTS = "requirements.txt"
_WHEEL_FILE = re.compile(r"^wheels(?:-(?P<set>[A-Za-z0-9][A-Za-z0-9_.-]*))?\.txt$")
_FOLDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


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
            options.extend(shell_words(line))
        elif any(ch.isspace() for ch in line.split(";", 1)[0].strip()):
            raise ValidationError(f"{path}, line {number}: {line!r} is not one requirement (one per line).")
        else:
            requirements.append(line)
    if not requirements:
        raise ValidationError(f"{path} lists no requirement: add one package per line, e.g. notebook==7.4.5.")
    return WheelSet(found.group("set") or "", path, tuple(options), tuple(requirements))


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


def defaults_from_labels(
    ref: str, name: str, labels: Mapping[str, str], docker_id: str = ""
) -> ImageDefaults:
    """Registration defaults (DESIGN §6) from ipynbsrv.* labels; unreadable values fall back to the
    defaults."""
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
    sets = tuple(
        read_wheel_set(p) for p in sorted(path.iterdir()) if p.is_file() and _WHEEL_FILE.match(p.name)
    )
    return ImageFolder(name=name, path=path.resolve(), dockerfile=parse_dockerfile(text), wheel_sets=sets)


def discover(root: str | Path) -> list[ImageFolder]:
    """Every image folder under `root` (a sub-folder with a Dockerfile), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    names = sorted(
        p.name for p in root.iterdir() if _FOLDER_NAME.match(p.name) and (p / "Dockerfile").is_file()
    )
    return [load_folder(root, name) for name in names]
