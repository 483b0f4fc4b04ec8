"""Generated parts of the documentation site, and the MkDocs hook that puts them in (DESIGN §18).

`mkdocs.yml` loads this file as a hook. A page holding one of the markers below gets the text made
from the real source when the site is built, so the references cannot drift:

- `<!-- config-reference -->`: every key of the repository's `config.toml` with its default and
  the comment above it;
- `<!-- cli-reference -->`: every command's `--help`, from the program's own argument parser;
- `<!-- changelog -->`: `CHANGELOG.md`;
- `<!-- security-tests -->`: the code of every test the security model names. On the security
  page each `` `tests/….py::test_name` `` becomes a link to it; a named test that does not exist
  fails the build.

The console pictures under `images/` are the SVG snapshots the UI tests make and compare
(`tests/tui/__snapshots__`), added to the site as they are, so they show the console as tested.

`tests/unit/test_docs.py` imports the same functions.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_TOML = ROOT / "config.toml"
CHANGELOG = ROOT / "CHANGELOG.md"
HELP_COLUMNS = "100"
SNAPSHOTS = ROOT / "tests" / "tui" / "__snapshots__"

_SCREENS = {  # picture name -> the snapshot test that draws it
    "containers": "test_snapshots_shell/test_containers_screen",
    "notebooks": "test_snapshots_shell/test_notebooks_screen",
    "details": "test_snapshots_shell/test_details_info",
    "images": "test_snapshots_images_users/test_images_screen",
    "users": "test_snapshots_images_users/test_users_screen",
    "build": "test_snapshots_images_users/test_build_panel",
    "register": "test_snapshots_images_users/test_register_form",
}
PICTURES: dict[str, Path] = {
    f"images/{name}-{size}.svg": SNAPSHOTS / f"{test}[{size}].svg"
    for name, test in _SCREENS.items()
    for size in ("80x24", "120x40")
} | {
    "images/help-80x24.svg": SNAPSHOTS / "test_snapshots_shell/test_help_screen.svg",
    "images/logs-80x24.svg": SNAPSHOTS / "test_snapshots_shell/test_details_logs.svg",
    "images/new-notebook-80x24.svg": SNAPSHOTS
    / "test_snapshots_shell/test_new_notebook_form_with_errors.svg",
}

_SECTION = re.compile(r"^\[([A-Za-z0-9_.]+)\]\s*$")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*=\s*(.*)$")


@dataclass(frozen=True)
class ConfigKey:
    """One key of config.toml: its section ("" for the top level), name, default and comment."""

    section: str
    name: str
    default: str
    comment: str

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


def config_keys(path: Path = CONFIG_TOML) -> list[ConfigKey]:
    """The keys of `path` in file order, each with the comment lines right above it."""
    keys: list[ConfigKey] = []
    section = ""
    comment: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line:
            comment = []
        elif line.startswith("#"):
            comment.append(line.lstrip("#").strip())
        elif match := _SECTION.match(line):
            section, comment = match.group(1), []
        elif match := _KEY.match(line):
            value = match.group(2)
            while value.count("[") > value.count("]") and index < len(lines):  # a multi-line array
                value += " " + lines[index].strip()
                index += 1
            keys.append(ConfigKey(section, match.group(1), value.strip(), " ".join(comment)))
            comment = []
    return keys


def config_reference(path: Path = CONFIG_TOML) -> str:
    """Markdown: one table per section of `path`, one row per key."""
    out: list[str] = []
    section: str | None = None
    for key in config_keys(path):
        if key.section != section:
            section = key.section
            title = f"`[{section}]`" if section else "Top level"
            out += ["", f"### {title} {{ #config-{section or 'top-level'} }}", "",
                    "| key | default | meaning |", "|---|---|---|"]
        meaning = key.comment.replace("|", "\\|") or "—"
        default = key.default.replace("|", "\\|")
        out.append(f"| `{key.name}` | `{default}` | {meaning} |")
    return "\n".join(out).strip() + "\n"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_commands(parser: argparse.ArgumentParser | None = None) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command path ("" for the program itself, then "images", "images build" …) with its parser."""
    if parser is None:
        from ipynbsrv_tui.cli import build_parser

        parser = build_parser()
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(path: str, node: argparse.ArgumentParser) -> None:
        found.append((path, node))
        for name, child in _subcommands(node).items():
            walk(f"{path} {name}".strip(), child)

    walk("", parser)
    return found


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown: each command's heading and its `--help`, at a fixed width."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        out: list[str] = []
        for path, node in cli_commands(parser):
            depth = "###" if " " not in path else "####"
            title = f"ipynbsrv-tui {path}".strip()
            out += [f"{depth} `{title}`", "", "```text", node.format_help().rstrip(), "```", ""]
        return "\n".join(out)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


SECURITY_PAGE = ROOT / "docs" / "security.md"
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


@dataclass(frozen=True)
class TestReference:
    """A test named on a page: a file under tests/, and a test function in it or the whole file."""

    path: str
    function: str | None

    @property
    def label(self) -> str:
        return f"{self.path}::{self.function}" if self.function else self.path

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")

    def source(self) -> str:
        """The test's code (or the file's docstring and test names); ValueError when it does not exist."""
        file = ROOT / self.path
        if not file.is_file():
            raise ValueError(f"{self.label}: no such test file")
        text = file.read_text(encoding="utf-8")
        tree = ast.parse(text)
        if self.function is None:
            names = [
                node.name
                for node in tree.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
            ]
            if not names:
                raise ValueError(f"{self.label}: no tests in it")
            return (ast.get_docstring(tree) or "") + "\n\n" + "\n".join(f"def {name}(…)" for name in names)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == self.function:
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return "\n".join(text.splitlines()[start - 1:node.end_lineno])
        raise ValueError(f"{self.label}: no such test")


def test_references(markdown: str) -> list[TestReference]:
    """The tests named on a page, in order, each once."""
    found: dict[str, TestReference] = {}
    for match in TEST_REFERENCE.finditer(markdown):
        reference = TestReference(match.group(1), match.group(2))
        found.setdefault(reference.label, reference)
    return list(found.values())


def link_tests(markdown: str, page: str = "security-tests.md") -> str:
    """Each `` `tests/….py::name` `` as a link to its code on `page`."""
    def link(match: re.Match[str]) -> str:
        reference = TestReference(match.group(1), match.group(2))
        return f"[`{reference.label}`]({page}#{reference.anchor})"

    return TEST_REFERENCE.sub(link, markdown)


def security_tests() -> str:
    """Markdown: the code of every test the security model names, in the order it names them."""
    out: list[str] = []
    for reference in test_references(SECURITY_PAGE.read_text(encoding="utf-8")):
        out += [f"## `{reference.label}` {{ #{reference.anchor} }}", "", "```python",
                reference.source(), "```", ""]
    return "\n".join(out)


def changelog() -> str:
    """CHANGELOG.md, for the site's changelog page."""
    return CHANGELOG.read_text(encoding="utf-8")


MARKERS = {
    "<!-- config-reference -->": config_reference,
    "<!-- cli-reference -->": cli_reference,
    "<!-- changelog -->": changelog,
    "<!-- security-tests -->": security_tests,
}


def on_page_markdown(markdown: str, **_: object) -> str:
    """MkDocs hook: replace each marker on a page with its generated text."""
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    page = _.get("page")
    if page is not None and getattr(page.file, "src_uri", "") == "security.md":
        markdown = link_tests(markdown)
    return markdown


def on_files(files, config):  # type: ignore[no-untyped-def]
    """MkDocs hook: add the console pictures, straight from the UI tests' snapshots."""
    from mkdocs.structure.files import File

    for uri, source in PICTURES.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files
