"""DESIGN §5: one engine contract. Both engines and the unit tests' fake are `Engine`s (mypy checks
their signatures: engine/connect.py returns either engine as one, fake_engine.py the fake); the
swarm engine holds engines and inherits none; the service reaches them through the protocol only."""

from __future__ import annotations

import ast
from pathlib import Path

import docker

from ipynbsrv_tui.engine.docker_engine import DockerEngine
from ipynbsrv_tui.engine.protocol import Engine
from ipynbsrv_tui.engine.swarm import SwarmEngine
from tests.unit.fake_engine import RecordingEngine

SERVICE = Path(__file__).resolve().parents[2] / "ipynbsrv_tui" / "service"


def test_both_engines_and_the_fake_implement_the_protocol():
    client = docker.DockerClient(base_url="unix:///nonexistent.sock", version="1.41")
    single = DockerEngine(client)
    swarm = SwarmEngine(single)
    for engine, mode in ((single, "docker"), (swarm, "swarm"), (RecordingEngine(), "docker")):
        assert isinstance(engine, Engine) and engine.mode == mode


def test_the_swarm_engine_is_composed_not_derived():
    assert DockerEngine not in SwarmEngine.__mro__
    assert (
        SwarmEngine(DockerEngine(docker.DockerClient(base_url="unix:///x.sock", version="1.41"))).manager.mode
        == "docker"
    )


def test_no_service_module_names_docker_py_or_an_engine_client():
    """Beside the import contract: no attribute path through an engine's docker-py client either."""
    for path in SERVICE.glob("*.py"):
        tree = ast.parse(path.read_text())
        clients = [node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr == "client"
                   and isinstance(node.value, ast.Attribute) and node.value.attr == "engine"]
        assert clients == [], f"{path.name}: engine.client at lines {clients}"
