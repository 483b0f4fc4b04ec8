"""The Docker adapter (DESIGN §5): builds as event streams, container lifecycle, events, base images.

Every public call raises domain errors (ipynbsrv_tui.domain), never docker.errors.*.
The names below load on first use, so importing a light module of this package (dockerfiles,
text) does not pay for the Docker SDK at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names below are, for the type checker
    from .bootstrap import bootstrap_base as bootstrap_base
    from .builds import BuildStream as BuildStream
    from .classifier import BuildLogClassifier as BuildLogClassifier
    from .docker_engine import MANAGED_LABEL as MANAGED_LABEL
    from .docker_engine import Engine as Engine
    from .events import EventStream as EventStream
    from .logs import LogFollower as LogFollower
    from .mirror import host_debian_mirror as host_debian_mirror
    from .text import strip_ansi as strip_ansi

_EXPORTS = {
    "MANAGED_LABEL": ".docker_engine",
    "Engine": ".docker_engine",
    "SwarmEngine": ".swarm",
    "BuildLogClassifier": ".classifier",
    "BuildStream": ".builds",
    "EventStream": ".events",
    "LogFollower": ".logs",
    "bootstrap_base": ".bootstrap",
    "host_debian_mirror": ".mirror",
    "strip_ansi": ".text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
