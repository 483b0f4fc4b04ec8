"""Where each command is documented: the last line of every `--help` (DESIGN §18).

The site is installed with the program (deploy/install.sh builds it into /opt/ipynbsrv/docs, next
to the venv), read from files so that it works without a network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

INSTALLED_SITE = Path("/opt/ipynbsrv/docs")

# A command's first word -> its page in the site (relative to the site's root). A command missing
# here is documented by its generated entry in the command line reference.
PAGES = {
    "": "index.html",
    "check-config": "admins/configuration.html",
    "images": "admins/images.html",
    "containers": "users/my-notebooks.html",
    "users": "admins/users-and-directories.html",
    "serve": "admins/deploy.html#4-start-the-broker",
    "reconcile": "admins/troubleshooting.html",
    "nodes": "admins/swarm.html",
    "groups": "users/working-together.html",
    "shares": "users/working-together.html",
    "notifications": "users/working-together.html",
    "backup": "users/getting-a-file-back.html",
    "kept": "admins/users-and-directories.html",
}


def site_root() -> Path:
    """The installed site: beside this installation's venv (`PREFIX/venv` → `PREFIX/docs`), else the
    default."""
    beside = Path(sys.prefix).parent / "docs"
    return beside if (beside / "index.html").is_file() else INSTALLED_SITE


def page_for(command: str) -> str:
    """The page (with its anchor) that documents `command`, e.g. "images build"."""
    first = command.split(" ", 1)[0]
    if first in PAGES:
        return PAGES[first]
    return "admins/cli.html#ipynbsrv-tui-" + command.replace(" ", "-")


def add_links(parser: argparse.ArgumentParser, root: Path | None = None) -> None:
    """End the help of `parser` and of every subcommand below it with its page."""
    root = site_root() if root is None else root

    def walk(command: str, node: argparse.ArgumentParser) -> None:
        node.epilog = f"Documentation: {root}/{page_for(command)}"
        for action in node._actions:  # argparse keeps subparsers only here
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(f"{command} {name}".strip(), child)

    walk("", parser)
