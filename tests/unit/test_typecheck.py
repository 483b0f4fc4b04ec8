"""The type checker follows the console's calls (DESIGN §13): a screen reads `self.app` as the
console (tui/console.py), so a misspelt or wrongly typed `self.app.session.<call>` fails `make
typecheck`, and `run_call`'s `then` must take what the call returns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MYPY = Path(sys.executable).with_name("mypy")

PROBE = '''\
from textual.screen import Screen

from ipynbsrv_tui.domain import ImageView
from ipynbsrv_tui.tui.background import Background


class Probe(Background, Screen):
    def reload(self) -> None:
        self.app.session.list_imagez()
        self.run_call(self.app.session.list_images, then=self.shown)
        self.run_call(self.app.session.list_images, then=self.wrong)

    def shown(self, images: list[ImageView]) -> None: ...

    def wrong(self, count: int) -> None: ...
'''


@pytest.mark.slow  # one mypy run over the package (seconds with its cache)
def test_a_misspelt_session_call_and_a_wrong_answer_handler_fail_the_type_check(tmp_path):
    probe = tmp_path / "probe_screen.py"
    probe.write_text(PROBE)
    result = subprocess.run([str(MYPY), "--check-untyped-defs", str(probe)], cwd=ROOT,
                            capture_output=True, text=True)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert any('"ServiceSession" has no attribute "list_imagez"' in line for line in errors), result.stdout
    assert any("probe_screen.py:11:" in line and '"R" of "run_call"' in line
               for line in errors), result.stdout
    assert len(errors) == 2, result.stdout
