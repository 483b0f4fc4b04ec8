"""The engines (DESIGN §5, §15): one contract, `Engine` (protocol.py), and its two implementations,
`DockerEngine` (one host) and `SwarmEngine` (services on a swarm); `connect` picks by configuration.

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
    from .connect import connect as connect
    from .docker_engine import MANAGED_LABEL as MANAGED_LABEL
    from .docker_engine import DockerEngine as DockerEngine
    from .events import EventStream as EventStream
    from .logs import LogFollower as LogFollower
    from .mirror import host_debian_mirror as host_debian_mirror
    from .protocol import Engine as Engine
    from .swarm import SwarmEngine as SwarmEngine
    from .text import strip_ansi as strip_ansi

_EXPORTS = {
    "MANAGED_LABEL": ".docker_engine",
    "DockerEngine": ".docker_engine",
    "Engine": ".protocol",
    "connect": ".connect",
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
