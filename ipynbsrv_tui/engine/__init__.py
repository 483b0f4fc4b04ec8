"""The Docker adapter (DESIGN §5): builds as event streams, container lifecycle, events, base images.

Every public call raises domain errors (ipynbsrv_tui.domain), never docker.errors.*.
"""

from .bootstrap import bootstrap_base
from .builds import BuildStream
from .classifier import BuildLogClassifier
from .docker_engine import MANAGED_LABEL, Engine
from .events import EventStream
from .logs import LogFollower
from .mirror import host_debian_mirror
from .text import strip_ansi

__all__ = [
    "MANAGED_LABEL",
    "BuildLogClassifier",
    "BuildStream",
    "Engine",
    "EventStream",
    "LogFollower",
    "bootstrap_base",
    "host_debian_mirror",
    "strip_ansi",
]
