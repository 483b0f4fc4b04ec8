"""The dockerfiles/ folder (DESIGN §6): image folders, what their Dockerfiles declare, build plans
and the host-side wheelhouse.

- `discover(root)` / `load_folder(root, name)` read every `<root>/<name>/Dockerfile`: its ARG
  defaults, the labels of its final stage (the `ipynbsrv.*` registration defaults) and its wheel
  sets (`wheels.txt` → `wheels/`, `wheels-<set>.txt` → `wheels/<set>/`).
- `plan_build(...)` decides the build args and tags, and which base image folder must be built
  first because the image it derives from (`ARG BASE_IMAGE=<prefix>/<folder>:<tag>`) is missing.
- `prepare_wheelhouse(folder)` runs `pip download` on the host into the build context, reusing the
  files already there, so the build container needs no Python package index.

Each job has its module: `dockerfile` (parsing), `folders` (image folders and wheel sets),
`plan` (build plans) and `wheelhouse` (pip download on the host); the names below are theirs.
"""

from __future__ import annotations

from .dockerfile import DockerfileInfo, parse_dockerfile
from .folders import (
    BASE_ARG,
    REQUIREMENTS,
    WHEELS_DIR,
    ImageFolder,
    WheelSet,
    defaults_from_labels,
    discover,
    load_folder,
    read_wheel_set,
)
from .plan import DEFAULT_PREFIX, BuildPlan, BuildStep, managed_folder, plan_build
from .wheelhouse import STAMP, WheelhouseReport, check_wheelhouse, prepare_wheelhouse

__all__ = [
    "BASE_ARG",
    "DEFAULT_PREFIX",
    "REQUIREMENTS",
    "STAMP",
    "WHEELS_DIR",
    "BuildPlan",
    "BuildStep",
    "DockerfileInfo",
    "ImageFolder",
    "WheelSet",
    "WheelhouseReport",
    "check_wheelhouse",
    "defaults_from_labels",
    "discover",
    "load_folder",
    "managed_folder",
    "parse_dockerfile",
    "plan_build",
    "prepare_wheelhouse",
    "read_wheel_set",
]
