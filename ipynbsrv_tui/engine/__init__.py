"""The Docker adapter (DESIGN §5): builds as event streams, container lifecycle, events, base images.

Every public call raises domain errors (ipynbsrv_tui.domain), never docker.errors.*.
The names below load on first use, so importing a light module of this package (dockerfiles,
text) does not pay for the Docker SDK at start-up.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MANAGED_LABEL": ".docker_engine",
    "Engine": ".docker_engine",
    "BuildLogClassifier": ".classifier",
    "BuildStream": ".builds",
    "EventStream": ".events",
    "LogFollower": ".logs",
    "bootstrap_base": ".bootstrap",
    "host_debian_mirror": ".mirror",
    "strip_ansi": ".text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
