"""The Debian mirror this host's apt uses (deb822 `.sources` files and one-line `.list` files)."""

from __future__ import annotations

import re
from pathlib import Path

APT_DIR = Path("/etc/apt")
_ONE_LINE = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")
_SCHEMES = ("http://", "https://", "ftp://", "file:/")


def host_debian_mirror(apt_dir: str | Path = APT_DIR) -> str:
    """The first Debian archive URI in the host's apt sources ("" when there is none).

    Files are read in apt's order (sources.list, then sources.list.d/ by name). An entry for a
    main suite (e.g. `bookworm`) is preferred over one only for `-security` / `-updates`.
    """
    entries = _entries(Path(apt_dir))
    for uri, suites in entries:
        if any("-" not in suite and "/" not in suite for suite in suites):
            return uri
    return entries[0][0] if entries else ""


def _entries(apt_dir: Path) -> list[tuple[str, list[str]]]:
    files: list[Path] = []
    if (apt_dir / "sources.list").is_file():
        files.append(apt_dir / "sources.list")
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files.extend(sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources") and p.is_file()))
    entries: list[tuple[str, list[str]]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        entries.extend(_deb822(text) if path.suffix == ".sources" else _one_line(text))
    return [(uri.rstrip("/"), suites) for uri, suites in entries if uri.startswith(_SCHEMES)]


def _one_line(text: str) -> list[tuple[str, list[str]]]:
    entries = []
    for line in text.splitlines():
        found = _ONE_LINE.match(line.strip())
        if found:
            entries.append((found.group(1), [found.group(2)]))
    return entries


def _deb822(text: str) -> list[tuple[str, list[str]]]:
    entries: list[tuple[str, list[str]]] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            name, colon, value = line.partition(":")
            if colon:
                key = name.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").strip().lower() in ("no", "false", "0"):
            continue
        suites = fields.get("suites", "").split()
        entries.extend((uri, suites) for uri in fields.get("uris", "").split())
    return entries
