"""`ipynbsrv-tui images build FOLDER`: build an image folder with its missing bases, printing the
live, classified build log (the BuildEvent stream the TUI shows) on the terminal.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import TextIO

from .. import validation
from ..domain import BuildEvent, BuildEventKind, BuildStatus, BuildSummary
from ..engine.text import plain_line
from .output import one_line_errors, say
from .session import open_session

_BOLD, _DIM, _YELLOW, _RED, _GREEN, _RESET = (
    "\x1b[1m",
    "\x1b[2m",
    "\x1b[33m",
    "\x1b[1;31m",
    "\x1b[32m",
    "\x1b[0m",
)


def add_build(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `images build`."""
    parser = one_line_errors(
        subcommands.add_parser(
            "build",
            help="build an image folder of [build] dockerfiles (and its missing base first), "
            "showing the live log",
            description=(
                "Build dockerfiles/FOLDER as <[build] image_prefix>/FOLDER:latest. A base image that the "
                "Dockerfile derives from (ARG BASE_IMAGE=ipynbsrv/base-ldap:…) is built first when it is "
                "missing. Python wheels are downloaded on this host into FOLDER/wheels/ (network: the "
                "package index, from this host only); the build container needs only the Debian mirror."
            ),
        )
    )
    parser.add_argument("folder", help="image folder under [build] dockerfiles, e.g. ipython3-notebook")
    parser.add_argument(
        "--tag", metavar="REF", help="image reference to build (default: <image_prefix>/FOLDER:latest)"
    )
    parser.add_argument(
        "--build-arg", action="append", default=[], metavar="KEY=VALUE", dest="build_args",
        help="build argument, e.g. BASE_IMAGE=debian:bookworm-slim (repeatable; overrides [build] defaults)",
    )
    parser.add_argument("--no-cache", action="store_true", help="do not use the engine's layer cache")
    parser.set_defaults(handler=cmd_build)


def cmd_build(args: argparse.Namespace) -> int:
    """Build through the session (authorization, build history, audit), printing the live events."""
    started = time.monotonic()
    buildargs = validation.build_args("\n".join(args.build_args))
    session = open_session(args)
    printer = BuildPrinter(sys.stdout)
    handle = session.build_image(args.folder, tag=args.tag, build_args=buildargs, nocache=args.no_cache)
    try:
        for event in handle:
            printer.event(event)
    except KeyboardInterrupt:
        handle.cancel()
        raise
    summary = handle.summary
    tag = args.tag or f"{args.folder.rstrip('/').rsplit('/', 1)[-1]}"
    if summary is not None:  # the whole command's time: planning, bases, wheel downloads, the build
        summary = dataclasses.replace(summary, seconds=time.monotonic() - started)
    printer.summary(tag, summary)
    if summary is None or summary.status is not BuildStatus.SUCCEEDED:
        say(f"ipynbsrv-tui: {failure_line(tag, summary)}", file=sys.stderr, flush=True)
        return 1
    return 0


def failure_line(tag: str, summary: BuildSummary | None) -> str:
    """One line saying why a build failed."""
    if summary is None:
        return f"the build of {tag} ended without a result"
    where = f" (exit code {summary.exit_code})" if summary.exit_code is not None else ""
    reason = (summary.error or "the engine gave no reason").strip().splitlines()[0]
    return f"the build of {tag} {summary.status.value}{where}: {reason}"


class BuildPrinter:
    """Prints build events as lines: steps bold, tolerated noise dimmed, stderr as warnings, errors red.

    Styles only when the output is a terminal and NO_COLOR is not set; every text is printed as
    plain text (escape and control characters removed).
    """

    def __init__(self, out: TextIO, color: bool | None = None) -> None:
        self.out = out
        if color is None:
            color = bool(getattr(out, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")
        self.color = color

    def _write(self, text: str, style: str = "") -> None:
        text = plain_line(text)
        self.out.write(f"{style}{text}{_RESET}\n" if style and self.color else f"{text}\n")
        self.out.flush()

    def event(self, event: BuildEvent) -> None:
        kind = event.kind
        if kind is BuildEventKind.STEP:
            self._write(event.text, _BOLD)
        elif kind is BuildEventKind.TOLERATED:
            self._write(f"  (tolerated) {event.text}", _DIM)
        elif kind is BuildEventKind.STDERR:
            self._write(f"  warning: {event.text}", _YELLOW)
        elif kind is BuildEventKind.ERROR:
            self._write(f"error: {event.text}", _RED)
        elif kind is BuildEventKind.RESULT:
            self._write(f"  -> {event.text}", _DIM)
        else:
            self._write(f"  {event.text}")

    def summary(self, tag: str, summary: BuildSummary | None) -> None:
        if summary is None:
            return
        counts = f"{summary.lines} lines, {summary.tolerated} tolerated, {summary.warnings} warnings"
        if summary.status is BuildStatus.SUCCEEDED:
            self._write(f"Built {tag} ({summary.image_id}) in {summary.seconds:.1f} s: {counts}.", _GREEN)
        else:
            self._write(
                f"The build of {tag} {summary.status.value} after {summary.seconds:.1f} s: {counts}.", _RED
            )
