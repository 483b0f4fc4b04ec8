"""DESIGN §3: the import contract declared in pyproject.toml ([tool.importlinter]) holds.

`lint-imports` checks it (layers one way, textual only under tui/, a light client, no import cycle);
this test runs it so that the suite fails too, and pins the contracts so none is dropped silently.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_declared_contracts_are_the_layers_textual_and_the_light_client():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_package"] == "ipynbsrv_tui"
    contracts = {c["id"]: c for c in config["contracts"]}
    assert contracts.keys() == {"layers", "textual", "client", "engine", "acyclic"}
    layers = contracts["layers"]["layers"]
    order = [next(i for i, layer in enumerate(layers) if f"ipynbsrv_tui.{name}" in layer.split())
             for name in ("tui", "service", "store", "domain")]
    assert order == sorted(order)  # tui above service above store above domain
    assert contracts["textual"]["forbidden_modules"] == ["textual"]
    assert "ipynbsrv_tui.tui" not in contracts["textual"]["source_modules"]
    engine = contracts["engine"]  # the service reaches engines through engine/protocol.py only (DESIGN §5)
    assert engine["source_modules"] == ["ipynbsrv_tui.service"]
    assert {"docker", "ipynbsrv_tui.engine.docker_engine", "ipynbsrv_tui.engine.swarm"} <= set(
        engine["forbidden_modules"]
    )
    assert contracts["acyclic"]["type"] == "acyclic_siblings"
    assert contracts["acyclic"]["ancestors"] == ["ipynbsrv_tui"]
    broker, web = (next(i for i, layer in enumerate(layers) if f"ipynbsrv_tui.{name}" in layer.split())
                   for name in ("broker", "web"))
    assert broker < web  # the broker starts the web gateway; the gateway never imports the broker


def test_the_code_keeps_the_import_contract():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_the_cycle_contract_sees_an_import_inside_a_function(tmp_path):
    """A cycle hidden in a function body (the kind broker/server.py and web/gateway.py had) breaks it."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "server.py").write_text("from . import gateway\n")
    (package / "gateway.py").write_text("def start():\n    from . import server\n    return server\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = cyclic\n\n[importlinter:contract:acyclic]\n"
        "name = no cycles\ntype = acyclic_siblings\nancestors = cyclic\n"
    )
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout
