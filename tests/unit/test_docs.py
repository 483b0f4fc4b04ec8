"""The documentation site (DESIGN §18): its references cover the real configuration and command
line, the security model names tests that exist, every `--help` ends with a page that exists, and
the README stays a doorway."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from ipynbsrv_tui.cli import build_parser
from ipynbsrv_tui.commands.docs_links import page_for
from ipynbsrv_tui.config import SECTIONS, Config

ROOT = Path(__file__).resolve().parents[2]


def _load_reference():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "tools" / "docs_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


reference = _load_reference()


def real_config_keys() -> list[str]:
    """Every key the program reads, from the Config dataclasses themselves; secrets (repr=False, such as
    the inline bind password tests use) are not to be put in the file, so they are not documented."""
    top = [f.name for f in dataclasses.fields(Config) if f.name not in SECTIONS and f.name != "source"]
    return top + [f"{section}.{f.name}" for section, cls in SECTIONS.items()
                  for f in dataclasses.fields(cls) if f.repr]


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command path of the real parser, walked independently of the generator."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += commands(child, f"{path} {name}".strip())
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as `make docs` builds it (strict), into a temporary folder."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    folder = tmp_path_factory.mktemp("site")
    build(load_config(str(ROOT / "mkdocs.yml"), site_dir=str(folder)))
    return folder


def test_every_configuration_key_is_in_the_generated_reference(site):
    documented = {key.dotted for key in reference.config_keys()}
    missing = [key for key in real_config_keys() if key not in documented]
    assert not missing, f"keys the program reads but config.toml does not document: {missing}"
    assert "<!-- config-reference -->" in (ROOT / "docs/admins/configuration.md").read_text()
    page = (site / "admins" / "configuration.html").read_text()
    for key in real_config_keys():
        section, _, name = key.rpartition(".")
        start = page.index(f'id="config-{section or "top-level"}"')
        following = page.find("<h3", start + 1)
        assert f"<code>{name}</code>" in page[start:following if following > 0 else None], key


def test_every_command_is_in_the_generated_cli_reference(site):
    assert "<!-- cli-reference -->" in (ROOT / "docs/admins/cli.md").read_text()
    page = (site / "admins" / "cli.html").read_text()
    for path, _ in commands(build_parser()):
        anchor = "ipynbsrv-tui-" + path.replace(" ", "-") if path else "ipynbsrv-tui"
        assert f'id="{anchor}"' in page, f"`ipynbsrv-tui {path}` has no entry in the CLI reference"


def test_every_help_ends_with_a_page_of_the_site_that_exists(site):
    for path, parser in commands(build_parser()):
        last = parser.format_help().rstrip().splitlines()[-1]
        assert last.startswith("Documentation: ") and last.endswith("/" + page_for(path)), (path, last)
        page, _, anchor = page_for(path).partition("#")
        html = site / page
        assert html.is_file(), f"`ipynbsrv-tui {path} --help` names {page}, which the site lacks"
        if anchor:
            assert f'id="{anchor}"' in html.read_text(), f"{page} has no #{anchor}"


def test_every_test_the_security_model_names_exists_and_is_linked(site):
    names = reference.test_references((ROOT / "docs/security.md").read_text())
    assert len(names) >= 30
    for name in names:
        assert name.source().strip(), name.label
    linked = (site / "security.html").read_text()
    proofs = (site / "security-tests.html").read_text()
    for name in names:
        assert f'security-tests.html#{name.anchor}"' in linked, name.label
        assert f'id="{name.anchor}"' in proofs, name.label


def test_a_test_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="no such test"):
        reference.TestReference("tests/unit/test_docs.py", "test_that_was_never_written").source()
    with pytest.raises(ValueError, match="no such test file"):
        reference.TestReference("tests/unit/test_nothing_here.py", None).source()


def test_the_console_pictures_are_the_ui_tests_snapshots(site):
    for uri, snapshot in reference.PICTURES.items():
        assert snapshot.is_file(), f"{uri}: {snapshot} is not made by the UI tests"
        assert (site / uri).read_bytes() == snapshot.read_bytes()
    for picture in ("images/host.svg", "images/web-login.png"):
        assert (site / picture).stat().st_size > 1000


def test_the_readme_is_a_doorway_whose_links_exist():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "make run" in readme and "make test" in readme
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link.replace("%5B", "[").replace("%5D", "]") for link in links if "://" not in link]
    assert len(local) > 10
    for link in local:
        assert (ROOT / link).exists(), f"README links {link}, which does not exist"
