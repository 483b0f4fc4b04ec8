"""DESIGN §3: the import contract declared in pyproject.toml ([tool.importlinter]) holds.

`lint-imports` checks it (layers one way, textual only under tui/, a light client); this test
runs it so that the suite fails too, and pins the contracts so none is dropped silently.
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
    assert contracts.keys() == {"layers", "textual", "client", "engine"}
    layers = contracts["layers"]["layers"]
    order = [next(i for i, layer in enumerate(layers) if f"ipynbsrv_tui.{name}" in layer.split())
             for name in ("tui", "service", "store", "domain")]
    assert order == sorted(order)  # tui above service above store above domain
    assert contracts["textual"]["forbidden_modules"] == ["textual"]
    assert "ipynbsrv_tui.tui" not in contracts["textual"]["source_modules"]
    engine = contracts["engine"]  # the service reaches engines through engine/protocol.py only (DESIGN §5)
    assert engine["source_modules"] == ["ipynbsrv_tui.service"]
    assert {"docker", "ipynbsrv_tui.engine.docker_engine", "ipynbsrv_tui.engine.swarm"} <= set(engine["forbidden_modules"])


def test_the_code_keeps_the_import_contract():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout
