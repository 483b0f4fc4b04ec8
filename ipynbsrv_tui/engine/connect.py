"""The engine of a configuration: one Docker Engine, or a Swarm manager (`[engine] mode`)."""

from __future__ import annotations

from ..config import Config
from .protocol import Engine


def connect(config: Config) -> Engine:
    """Connect to the engine `config` names (EngineUnavailable, with a hint, when it does not answer).

    The Docker SDK loads here, on the first engine call, not at start-up.
    """
    if config.engine.mode == "swarm":
        from .swarm import SwarmEngine

        return SwarmEngine.from_config(config)
    from .docker_engine import DockerEngine

    return DockerEngine.connect(config.docker.url, timeout=config.docker.timeout)
