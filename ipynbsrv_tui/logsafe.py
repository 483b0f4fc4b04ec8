"""Log lines that untrusted text cannot forge (DESIGN §8): control characters are escaped.

A user name typed at the web login, a group name on the command line, any text a user chose ends
up in log messages. A newline in it would start what reads as a record of its own, and a terminal
escape would rewrite the admin's screen; so every record is one line with such characters written
as `\\xNN`. A traceback keeps its lines, each indented, so that only real records start a line.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from logging import _SysExcInfoType

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with every control character (C0 with newlines and tabs, DEL, C1, the Unicode line
    separators) written as `\\xNN` / `\\uNNNN`: the project's one escaper, for log records and for
    every text the command line prints."""
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


class SafeFormatter(logging.Formatter):
    """A logging.Formatter whose records are one line each, whatever their arguments hold."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: _SysExcInfoType) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("    " + escape_controls(line) for line in text.splitlines())


def install(level: str | int, stream: TextIO, fmt: str, datefmt: str | None = None) -> None:
    """The broker's logging: one handler on `stream` with the safe formatter. (The command line and
    the TUI log nothing themselves: the package's logger has a NullHandler; what a user's command
    makes the broker log is written by the broker, through this.)"""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter(fmt, datefmt))
    logging.basicConfig(level=level, handlers=[handler])
