"""Tests that change the host carry the `host` marker, and `make test-fast` runs none of them.

A test changes the host when it (or a fixture of its module it asks for) creates an OS account,
mounts a file system or makes a network namespace. Found by reading the test sources, so a new
such test without the marker fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST_CALLS = (
    "add_os_account(",
    "create_accounts(",
    '"useradd"',
    '"groupadd"',
    '"mount"',
    "ip netns",
    "nsenter",
)


def _changes_host(source: str) -> bool:
    return any(call in source for call in HOST_CALLS)


def _marked_host(node: ast.AST) -> bool:
    return "mark.host" in " ".join(ast.unparse(d) for d in getattr(node, "decorator_list", []))


def _unmarked_host_tests(path: Path) -> list[str]:
    source = path.read_text()
    tree = ast.parse(source)
    module_marks = [ast.unparse(n.value) for n in tree.body if isinstance(n, ast.Assign)
                    and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)]
    if any("mark.host" in marks for marks in module_marks):
        return []
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    fixtures = {f.name: f for f in functions
                if "fixture" in " ".join(ast.unparse(d) for d in f.decorator_list)}
    host_fixtures = {name for name, f in fixtures.items()
                     if _changes_host(ast.get_source_segment(source, f) or "")}
    changed = True
    while changed:  # fixtures that ask for a host-changing fixture change the host too
        changed = False
        for name, f in fixtures.items():
            if name not in host_fixtures and {a.arg for a in f.args.args} & host_fixtures:
                host_fixtures.add(name)
                changed = True
    unmarked = []
    for f in functions:
        if not f.name.startswith("test_") or _marked_host(f):
            continue
        body = ast.get_source_segment(source, f) or ""
        if _changes_host(body) or {a.arg for a in f.args.args} & host_fixtures:
            unmarked.append(f"{path.relative_to(ROOT)}::{f.name}")
    return unmarked


def test_every_test_that_changes_the_host_is_marked_host():
    unmarked = [name for path in sorted((ROOT / "tests").rglob("test_*.py"))
                if path.name != "test_markers.py" for name in _unmarked_host_tests(path)]
    assert unmarked == [], "mark these @pytest.mark.host (they change the host): " + ", ".join(unmarked)


def test_the_finder_sees_an_unmarked_account_test(tmp_path):
    sample = tmp_path / "tests" / "test_sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "import pytest\n\n@pytest.fixture\ndef site():\n    support.add_os_account('x', 5000)\n\n"
        "def test_uses_site(site):\n    pass\n\n@pytest.mark.host\ndef test_marked(site):\n    pass\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _unmarked_host_tests(sample) == ["tests/test_sample.py::test_uses_site"]
    finally:
        ROOT = saved


def test_make_test_fast_leaves_out_host_tests():
    selection = re.search(r'^test-fast:.*\n\t.*-m "([^"]+)"', (ROOT / "Makefile").read_text(), re.M)
    assert selection is not None
    assert "not host" in selection.group(1)
