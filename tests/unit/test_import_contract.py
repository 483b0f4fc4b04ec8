"""DESIGN §3: nothing below tui/ imports textual; layers import one way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ipynbsrv_tui"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_textual_only_under_tui():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "tui" not in path.relative_to(PACKAGE).parts[:1]
        and any(name == "textual" or name.startswith("textual.") for name in _imports(path))
    ]
    assert offenders == [], f"textual imported outside ipynbsrv_tui/tui/: {offenders}"


def test_lower_layers_do_not_import_upper_layers():
    forbidden = {
        "store": ("service", "broker", "tui", "engine", "directory"),
        "engine": ("service", "broker", "tui", "store", "directory"),
        "directory": ("service", "broker", "tui", "engine"),
        "service": ("broker", "tui"),
    }
    offenders = []
    for layer, upper in forbidden.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            source = path.read_text()
            for name in upper:
                if f"from ..{name}" in source or f"from ipynbsrv_tui.{name}" in source:
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []
