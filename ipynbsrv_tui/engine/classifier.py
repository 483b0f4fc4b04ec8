"""Classification of the classic builder's JSON chunks into BuildEvents (DESIGN §5).

Success or failure is decided by the protocol only: an `error`/`errorDetail` chunk, or a
stream that ends without an `aux.ID`, is a failure. Log text never decides it. A multi-stage
build reports an `aux.ID` at the end of every stage: the result is the last one, known only when
the stream has ended, so the RESULT event comes from `finish()`.
"""

from __future__ import annotations

import re
from typing import Any

from ..domain import BuildEvent, BuildEventKind
from .text import Line, LineAssembler, plain_line

# The engine wraps every write of a RUN step's stderr in bright red (moby NewStderrWriter).
STDERR_START = "\x1b[91m"
STDERR_END = "\x1b[0m"

# The "interactive dialog" noise of Debian package installs without a terminal.
TOLERATED = re.compile(
    r"^(?:debconf: (?:unable to initialize frontend: \w+"
    r"|\(.*\)"
    r"|falling back to frontend: \w+"
    r"|delaying package configuration, since apt-utils is not installed)"
    r"|dpkg-preconfigure: unable to re-open stdin.*)$"
)
# The Teletype frontend's prompts of the LDAP client packages (nslcd, libnss-ldapd), answered by
# preseeding: they arrive on stdout, without the engine's stderr marker.
DEBCONF_PROMPT = re.compile(
    r"^(?:LDAP server URI|LDAP server search base|Name services to configure):(?:\s.*)?$"
)
# Warnings that tools print on stdout (or that arrive without the marker): counted as warnings.
CONTENT_WARNING = re.compile(r"^(?:Use of uninitialized value\b|invoke-rc\.d: WARNING\b)")
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_EXIT_CODE = re.compile(r"returned a non-zero code: (\d+)")

STREAM_ENDED = (
    "The build ended without an image id: the engine closed the stream before reporting a result. "
    "Check that the Docker Engine is still running, then build again."
)


class BuildLogClassifier:
    """Turns build chunks (`client.api.build(decode=True)`) into classified, plain-text BuildEvents.

    Feed every chunk in order, then call `finish()` once. The counters and the outcome
    (`image_id`, `error`, `exit_code`, `succeeded`) are readable at any time.
    """

    def __init__(self) -> None:
        self._lines = LineAssembler()
        self.image_id: str | None = None
        self.stage_images: list[str] = []
        self.error: str | None = None
        self.exit_code: int | None = None
        self.step: int | None = None
        self.total_steps: int | None = None
        self.instruction: str | None = None
        self.lines = 0
        self.tolerated = 0
        self.warnings = 0
        self._finished = False

    @property
    def succeeded(self) -> bool:
        return self.image_id is not None and self.error is None

    def feed(self, chunk: dict[str, Any]) -> list[BuildEvent]:
        """Classify one decoded chunk; returns the events it completes (possibly none)."""
        events: list[BuildEvent] = []
        stream = chunk.get("stream")
        if isinstance(stream, str):
            events.extend(self._text(stream))
        status = chunk.get("status")
        if isinstance(status, str) and not chunk.get("progressDetail"):
            ident = chunk.get("id")
            events.extend(self._text(f"{ident}: {status}\n" if ident else f"{status}\n"))
        if "error" in chunk or "errorDetail" in chunk:
            events.extend(self._flush())
            events.append(self._error(chunk))
        aux = chunk.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
            self.image_id = aux["ID"]
            self.stage_images.append(aux["ID"])
        return events

    def finish(self) -> list[BuildEvent]:
        """The stream ended by itself: flush the last unfinished line and report the result (the
        last stage's image); a stream without a result or an error becomes a failure."""
        if self._finished:
            return []
        self._finished = True
        events = self._flush()
        if self.image_id is None and self.error is None:
            self.error = STREAM_ENDED
            events.append(self._error_event(STREAM_ENDED))
        elif self.succeeded:
            events.append(BuildEvent(BuildEventKind.RESULT, self.image_id or "", image_id=self.image_id))
        return events

    def fail(self, message: str) -> list[BuildEvent]:
        """Record a failure that did not come from the stream (the connection broke, the request failed)."""
        events = self._flush()
        if self.error is None:
            self.error = message
            events.append(self._error_event(message))
        return events

    # ------------------------------------------------------------------ internals

    def _text(self, text: str) -> list[BuildEvent]:
        marked = text.startswith(STDERR_START) and text.endswith(STDERR_END)
        if marked:
            text = text[len(STDERR_START) : -len(STDERR_END)]
        return [event for line in self._lines.feed(text, marked) if (event := self._line(line))]

    def _flush(self) -> list[BuildEvent]:
        return [event for line in self._lines.flush() if (event := self._line(line))]

    def _line(self, line: Line) -> BuildEvent | None:
        text = plain_line(line.text)
        if not text:
            return None
        self.lines += 1
        step = _STEP.match(text)
        if step:
            self.step, self.total_steps = int(step.group(1)), int(step.group(2))
            self.instruction = step.group(3)
            return BuildEvent(BuildEventKind.STEP, text, step=self.step, total_steps=self.total_steps)
        if TOLERATED.match(text) or DEBCONF_PROMPT.match(text):
            self.tolerated += 1
            return BuildEvent(BuildEventKind.TOLERATED, text, step=self.step, total_steps=self.total_steps)
        if line.marked or CONTENT_WARNING.match(text):
            self.warnings += 1
            return BuildEvent(BuildEventKind.STDERR, text, step=self.step, total_steps=self.total_steps)
        return BuildEvent(BuildEventKind.OUTPUT, text, step=self.step, total_steps=self.total_steps)

    def _error(self, chunk: dict[str, Any]) -> BuildEvent:
        raw = chunk.get("errorDetail")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
        message = plain_line(str(detail.get("message") or chunk.get("error") or "The build failed."))
        code = detail.get("code")
        if not isinstance(code, int) or isinstance(code, bool) or code == 0:
            found = _EXIT_CODE.search(message)
            code = int(found.group(1)) if found else None
        if self.error is None:
            self.error = message
            self.exit_code = code
        return self._error_event(message, code)

    def _error_event(self, message: str, code: int | None = None) -> BuildEvent:
        return BuildEvent(
            BuildEventKind.ERROR, message, step=self.step, total_steps=self.total_steps, exit_code=code
        )
