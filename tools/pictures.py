"""`make pictures`: the web login picture, drawn by headless chromium from the broker's own page.

The console pictures need no step here: the site takes them straight from the UI tests' SVG
snapshots (tools/docs_reference.py). The host diagram, docs/images/host.svg, is drawn by hand.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ipynbsrv_tui.web.pages import login_page

OUT = Path(__file__).resolve().parent.parent / "docs" / "images" / "web-login.png"


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("pictures: chromium is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        html = Path(folder) / "login.html"
        html.write_bytes(login_page("example", "/user/alice/nb/", username="alice"))
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={folder}/profile", "--window-size=800,520",
             f"--screenshot={OUT}", html.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    print(f"pictures: wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
