"""Container logs as plain text lines."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator

from .streams import STREAM_ERRORS, ClosableStream
from .text import LineAssembler, plain_line


def plain_lines(data: bytes) -> list[str]:
    """A block of log output as plain lines (ANSI stripped, `\\r` folded, invalid UTF-8 replaced)."""
    assembler = LineAssembler()
    lines = assembler.feed(data.decode("utf-8", errors="replace")) + assembler.flush()
    return [plain_line(line.text) for line in lines]


class LogFollower(ClosableStream):
    """Iterable of a container's log lines (plain text) until the container ends or `close()` is called.

    `close()` may be called from any thread; it ends the iteration promptly. One consumer only.
    """

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream
        super().__init__()
        self._iterator = self._lines()

    def close(self) -> None:
        """Stop following (closes the connection to the engine)."""
        self._closed.set()
        close = getattr(self._stream, "close", None)
        if close is not None:
            try:
                close()
            except STREAM_ERRORS:
                return

    def _lines(self) -> Iterator[str]:
        assembler = LineAssembler()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        chunks = iter(self._stream)
        while not self.closed:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except STREAM_ERRORS:
                break
            for line in assembler.feed(decoder.decode(chunk)):
                yield plain_line(line.text)
        if not self.closed:
            tail = assembler.feed(decoder.decode(b"", final=True)) + assembler.flush()
            yield from (plain_line(line.text) for line in tail)
