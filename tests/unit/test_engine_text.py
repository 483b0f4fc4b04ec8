"""Plain text from terminal output: the one ANSI stripper, `\\r` folding, and the log follower."""

from __future__ import annotations

import threading

from ipynbsrv_tui.engine.logs import LogFollower, plain_lines
from ipynbsrv_tui.engine.text import MAX_LINE, LineAssembler, fold_carriage_returns, plain_line, strip_ansi


def test_strip_ansi_removes_csi_osc_and_two_byte_escapes_only():
    assert (
        strip_ansi("\x1b[1;31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b(Bok [x]")
        == "red link ok [x]"
    )


def test_fold_carriage_returns_keeps_what_a_terminal_finally_shows():
    assert fold_carriage_returns("10%\r50%\r100%") == "100%"
    assert fold_carriage_returns("done\r\r") == "done"
    assert fold_carriage_returns("plain") == "plain"


def test_plain_line_drops_control_characters_and_trailing_blanks():
    assert plain_line("a\x07b\tc\x1b[0m  \r") == "ab\tc"


def test_line_assembler_marks_lines_with_marked_fragments():
    assembler = LineAssembler()
    assert assembler.feed("par") == []
    assert assembler.feed("tial\nerr", marked=True) == [("partial", True)]
    assert assembler.feed("or\n") == [("error", True)]
    assert assembler.feed("\n", marked=True) == [("", False)]
    assert assembler.flush() == []


def test_an_endless_line_without_newline_is_cut_so_memory_stays_bounded():
    assembler = LineAssembler()
    lines = []
    for _ in range(50):
        lines += assembler.feed("x" * 100_000)
    lines += assembler.flush()
    assert max(len(line.text) for line in lines) <= MAX_LINE
    assert sum(len(line.text) for line in lines) == 5_000_000


def test_plain_lines_of_a_log_block():
    assert plain_lines(b"\x1b[32mok\x1b[0m\r\nstep 1\rstep 2\n\nbad \xff byte") == [
        "ok",
        "step 2",
        "",
        "bad \ufffd byte",
    ]


class Chunks:
    """A fake follow stream: bytes cut at awkward places, then it blocks until closed."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.closed = threading.Event()

    def __iter__(self):
        yield from self.chunks
        self.closed.wait(10)

    def close(self):
        self.closed.set()


def test_log_follower_joins_split_lines_and_utf8_and_closes_promptly():
    text = "grüße\nzweite Zeile\n".encode()
    cut = text.index(b"\xbc")  # in the middle of the two bytes of "ü"
    stream = Chunks([text[:cut], text[cut:12], text[12:]])
    follower = LogFollower(stream)
    assert next(follower) == "grüße"
    assert next(follower) == "zweite Zeile"
    threading.Timer(0.1, follower.close).start()
    assert list(follower) == []
    assert follower.closed and stream.closed.is_set()
