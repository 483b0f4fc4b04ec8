"""What keeps a streaming log within the UI's 50 ms budget (DESIGN §12): lines cut by slicing,
kept lines the garbage collector does not track, no full-screen layout per batch, and a pump
whose reader waits when the screen falls behind."""

from __future__ import annotations

import gc
import threading
import time

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from ipynbsrv_tui.domain import BuildEvent, BuildEventKind, BuildSummary
from ipynbsrv_tui.tui.buildpump import LARGEST_BATCH, QUEUED_EVENTS, BuildEvents, BuildPump
from ipynbsrv_tui.tui.widgets.virtuallog import fit

from .log_apps import BuildLogApp

RED = Style(color="red")
PAD = Style(bgcolor="black")


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    return [(segment.text, segment.style) for segment in strip]


def test_fit_cuts_and_pads_like_textuals_crop_extend():
    line = Strip([Segment("0123456789", RED)], 10)
    for start, width in ((0, 4), (0, 10), (0, 15), (3, 4), (8, 6), (12, 5)):
        fitted = fit(line, start, width, PAD)
        assert fitted.cell_length == width
        assert "".join(t for t, _ in cells(fitted)) == "".join(
            t for t, _ in cells(line.crop_extend(start, start + width, PAD)))
    assert cells(fit(line, 8, 6, PAD)) == [("89", RED), ("    ", PAD)]


def test_fit_leaves_wide_characters_and_many_segments_to_textual():
    wide = Strip([Segment("日本語のログ", RED)], 12)
    assert cells(fit(wide, 1, 6, PAD)) == cells(wide.crop_extend(1, 7, PAD))
    two = Strip([Segment("ab", RED), Segment("cd", PAD)], 4)
    assert cells(fit(two, 1, 5, PAD)) == cells(two.crop_extend(1, 6, PAD))


async def test_kept_build_lines_are_not_tracked_by_the_garbage_collector():
    app = BuildLogApp()
    async with app.run_test(size=(100, 20)) as pilot:
        log = app.query_one("BuildLogView")
        log.append_events([BuildEvent(kind, f"line {i}") for i, kind in enumerate(BuildEventKind)])
        await pilot.pause()
        gc.collect()
        assert log.view.line_count == len(BuildEventKind)
        assert not any(gc.is_tracked(log.view.item(i)) for i in range(log.view.line_count))


async def test_a_batch_relayouts_the_screen_only_when_the_summary_changes_length():
    app = BuildLogApp()
    async with app.run_test(size=(100, 20)) as pilot:
        log = app.query_one("BuildLogView")
        log.start()
        layouts: list[bool] = []
        update = log.summary_line.update

        def recording(content, *, layout=True):
            layouts.append(layout)
            return update(content, layout=layout)

        log.summary_line.update = recording
        log.append_events([BuildEvent(BuildEventKind.OUTPUT, f"a{i}") for i in range(100)])
        log.append_events([BuildEvent(BuildEventKind.OUTPUT, f"b{i}") for i in range(100)])  # 100 → 200 lines
        await pilot.pause()
        assert layouts == [True, False]


class EndlessBuild:
    """A build that yields as fast as it is taken and counts what was taken."""

    build_id = 7
    summary: BuildSummary | None = None

    def __init__(self) -> None:
        self.taken = 0
        self.stop = threading.Event()

    def __iter__(self):
        while not self.stop.is_set():
            self.taken += 1
            yield BuildEvent(BuildEventKind.OUTPUT, f"line {self.taken}")

    def cancel(self) -> None:
        self.stop.set()


def test_the_pump_stops_reading_while_the_screen_has_not_shown_the_last_batch():
    build = EndlessBuild()
    batches: list[BuildEvents] = []
    pump = BuildPump(
        lambda: build, lambda message: batches.append(message) if isinstance(message, BuildEvents) else None
    )
    pump.start()
    time.sleep(0.5)  # the screen never says delivered()
    taken = build.taken
    time.sleep(0.3)
    assert len(batches) == 1
    assert build.taken <= QUEUED_EVENTS + LARGEST_BATCH + 10, build.taken  # the reader waits: bounded
    assert build.taken - taken < 50  # and stays waiting
    assert batches[0].lines[0] == ("output", "line 1")  # made on the sender thread
    pump.cancel()
    deadline = time.monotonic() + 10
    while pump.running and time.monotonic() < deadline:
        pump.delivered()
        time.sleep(0.01)
    assert not pump.running
