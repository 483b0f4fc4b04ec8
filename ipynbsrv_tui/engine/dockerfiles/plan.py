"""Build plans: the build args and tags of an image folder's build, and the missing base images
(built from other image folders) that must be built before it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ... import validation
from ...config import BuildConfig
from ...domain import ImageMissing, ValidationError
from .folders import BASE_ARG, ImageFolder, load_folder

DEFAULT_PREFIX = "ipynbsrv"


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
        raise ValidationError(
            f"Image folders derive from each other in a loop: {' -> '.join((*chain, name))}."
        )
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
    return (
        f"{name} is built FROM {base}, which is not on the Docker Engine and cannot be pulled here. {hint}."
    )
