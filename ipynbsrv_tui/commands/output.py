"""How scripting commands print: aligned plain-text tables, JSON, passwords, one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import getpass
import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ..domain import ValidationError
from ..logsafe import escape_controls

# What json.dumps(ensure_ascii=False) leaves raw: DEL, the C1 controls, the Unicode line separators.
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029]")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """Dataclasses, enums and datetimes (as ISO 8601 UTC) as indented JSON on stdout; every control
    character inside a string is a JSON escape, so stored text never reaches the terminal raw."""
    for chunk in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(_plain(value)):
        sys.stdout.write(_RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", chunk))
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Left-aligned columns separated by two spaces; control characters in cells (newlines
    included) are shown escaped (`\\x1b`), so one cell is one line and no terminal escape runs."""
    cells = [[str(h) for h in headers]] + [
        ["" if c is None else escape_controls(str(c)) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def say(text: str = "", *, file: TextIO | None = None, flush: bool = False) -> None:
    """Print one line of text that may hold stored or typed text: its control characters are shown
    escaped (`logsafe.escape_controls`). Every line the scripting commands print goes through here,
    `print_table` or `print_json`."""
    out = sys.stdout if file is None else file
    out.write(escape_controls(text) + "\n")
    if flush:
        out.flush()


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def read_password(password_file: str | None, *, confirm: bool = True) -> str:
    """From `--password-file` (`-` = the first line of stdin), else asked twice on the terminal."""
    if password_file:
        try:
            text = sys.stdin.readline() if password_file == "-" else Path(password_file).read_text()
        except OSError as exc:
            raise ValidationError(f"Cannot read the password file {password_file}: {exc.strerror}.") from None
        password = text.splitlines()[0] if text.strip() else ""
        if not password:
            raise ValidationError(
                f"The password file {password_file} is empty: put the password on its first line."
            )
        return password
    if not sys.stdin.isatty():
        raise ValidationError("No password given: use --password-file FILE (or - to read it from stdin).")
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Password again: ") != password:
        raise ValidationError("The two passwords differ: run the command again.")
    return password


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make `parser` report a bad command line as one line on stderr (exit 2), without the usage block."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: {message} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]
    return parser
