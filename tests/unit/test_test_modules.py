"""No test module imports another test module: what tests share lives in a conftest.py or in a
support module (tests/fixtures/, tests/integration/broker_support.py, tests/tui/fake_builds.py, …),
so running or changing one test file never depends on another's internals."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imported_test_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [
                f"{node.module or ''}.{alias.name}".lstrip(".") for alias in node.names
            ]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name.rsplit(".", 1)[-1].startswith("test_")]
    return found


def test_no_test_module_imports_another():
    imports = {str(path.relative_to(TESTS)): found for path in sorted(TESTS.rglob("test_*.py"))
               if (found := _imported_test_modules(path))}
    assert imports == {}


def test_the_check_sees_relative_and_absolute_imports(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("from .test_logs import BuildLogApp\nfrom tests.integration import test_broker\n"
                     "import tests.unit.test_classifier\nfrom .conftest import make_app\n")
    assert _imported_test_modules(probe) == ["test_logs", "tests.integration.test_broker",
                                             "tests.unit.test_classifier"]
