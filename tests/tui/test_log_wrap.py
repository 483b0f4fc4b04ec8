"""`w` wraps long lines in both logs (issue 28, item 7): an item takes ceil(cells / width) rows,
following, search jumps and a resize count rows, and `w` again brings one row per line back."""

from __future__ import annotations

import time

from ipynbsrv_tui.domain import BuildEvent, BuildEventKind
from ipynbsrv_tui.tui.widgets.buildlog import BuildLogView
from ipynbsrv_tui.tui.widgets.logview import LogPanel

from .log_apps import BuildLogApp, LogApp

LONG = "".join(f"{i:03d}-" for i in range(50))  # 200 distinct cells: every part of it is findable


def rows(view) -> list[str]:
    height = view.scrollable_content_region.height
    return ["".join(segment.text for segment in view.render_line(y)) for y in range(height)]


async def test_w_wraps_a_long_line_into_rows_with_all_its_text_and_w_again_unwraps():
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(LogPanel)
        view = panel.view
        panel.append(["first", LONG, "last"])
        await pilot.pause()
        view.focus()
        assert LONG not in "".join(rows(view))  # one row per line: cut at the view's width

        await pilot.press("w")
        await pilot.pause()
        width = view.scrollable_content_region.width
        expected = -(-len(LONG) // width)
        assert expected > 1
        assert view.wrap and view.row_count == 2 + expected and view.virtual_size.width == width
        shown = rows(view)
        assert shown[0].rstrip() == "first"
        assert "".join(shown[1:1 + expected]).rstrip() == LONG  # every cell of it, in order
        assert shown[1 + expected].rstrip() == "last"
        assert "wrap (w unwraps)" in str(panel.status.render())
        assert app.screen.active_bindings["w"].binding.description == "Wrap"  # in the footer and help

        await pilot.press("w")
        await pilot.pause()
        assert not view.wrap and view.row_count == 3
        shown = rows(view)
        assert [row.rstrip() for row in shown[:3]] == ["first", LONG[:len(shown[1])].rstrip(), "last"]
        assert "wrap" not in str(panel.status.render())


async def test_following_stays_at_the_end_with_wrapping_on_while_lines_arrive():
    app = BuildLogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(BuildLogView)
        view = log.view
        view.focus()
        log.start()
        await pilot.press("w")
        for batch in range(10):
            log.append_events([BuildEvent(BuildEventKind.OUTPUT, f"{batch}/{i} {LONG}") for i in range(30)])
            await pilot.pause()
            assert view.follow and view.scroll_y == view.max_scroll_y
            assert view.max_scroll_y == view.row_count - view.scrollable_content_region.height
            shown = rows(view)
            assert shown[-1].rstrip().endswith(LONG[-10:])  # the last row is the last line's end
            assert any(row.startswith(f"{batch}/29 ") for row in shown)
        assert "wrap (w unwraps)" in str(log.summary_line.render())

        await pilot.press("k")  # paused: the marker on the last row, the rows still counted right
        log.append_events([BuildEvent(BuildEventKind.OUTPUT, "after")])
        await pilot.pause()
        assert "paused · 1 new line" in rows(view)[-1]
        await pilot.press("G")
        assert view.follow and rows(view)[-1].rstrip() == "after"


async def test_search_with_wrapping_on_lands_on_the_matched_line():
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(LogPanel)
        view = panel.view
        panel.append([f"line {i} {LONG}" for i in range(300)])
        await pilot.pause()
        view.focus()
        await pilot.press("w")
        view.search("line 42 ")
        await pilot.pause()
        assert view.current_match == 42
        first_row = view.row_of(42)
        assert first_row > 42 * 2  # rows, not lines: each line takes several
        assert view.scroll_y <= first_row < view.scroll_y + view.scrollable_content_region.height
        assert any(row.startswith("line 42 ") for row in rows(view))
        await pilot.press("n")  # wraps around to the next (and only) match: still there
        assert any(row.startswith("line 42 ") for row in rows(view))


async def test_a_resize_wraps_the_lines_again_for_the_new_width():
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(LogPanel)
        view = panel.view
        panel.append([LONG, "end"])
        await pilot.pause()
        view.focus()
        await pilot.press("w")
        await pilot.pause()
        before = view.row_count
        await pilot.resize_terminal(50, 20)
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert width < 50
        assert view.row_count == -(-len(LONG) // width) + 1 > before
        shown = rows(view)
        assert all(len(row) == width for row in shown)
        assert "".join(shown[:view.row_count - 1]).rstrip() == LONG
        assert view.follow and shown[view.row_count - 1].rstrip() == "end"


async def test_appending_100_000_lines_with_wrap_on_stays_cheap_and_bounded():
    """DESIGN §12: no batch blocks the UI for 50 ms while a 100,000-line build log streams."""
    app = BuildLogApp()  # keeps 1,000 lines: the row counts stay bounded while lines drop
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(BuildLogView)
        view = log.view
        view.focus()
        await pilot.press("w")
        batches = [[("output", f"{n} {LONG[:n % 300]}") for n in range(start, start + 1000)]
                   for start in range(0, 100_000, 1000)]
        worst = 0.0
        for batch in batches:
            began = time.perf_counter()
            view.append(batch)
            view.render_line(0)
            worst = max(worst, time.perf_counter() - began)
        await pilot.pause()
        assert worst < 0.05, f"{worst * 1000:.1f} ms for a 1,000-line batch"
        assert view.line_count == 1000 and view.total_lines == 100_000
        assert len(view._ends) <= 2 * 4096 + 1001  # compacted: bounded however long the build
        width = view.scrollable_content_region.width
        assert view.row_count == sum(max(1, -(-len(text) // width)) for _kind, text in view._items)
        assert view.follow and view.scroll_y == view.max_scroll_y
        assert rows(view)[-1].rstrip().startswith(str(99_999)) or "99999" in "".join(rows(view)[-5:])
