"""The log view base under the build log and the container log: styles by line kind, following,
the paused marker, End / f / scrolling back down resuming, bounded memory."""

from __future__ import annotations

import pytest
from rich.style import Style

from ipynbsrv_tui.domain import BuildEvent, BuildEventKind
from ipynbsrv_tui.tui.widgets.buildlog import BuildLogView
from ipynbsrv_tui.tui.widgets.logview import LogPanel

from .log_apps import BuildLogApp, LogApp

KINDS = [
    (BuildEventKind.STEP, "Step 2/3 : RUN apt-get install -y libpaper1"),
    (BuildEventKind.OUTPUT, "Setting up libpaper1:amd64 (1.1.29) ..."),
    (BuildEventKind.TOLERATED, "debconf: delaying package configuration, since apt-utils is not installed"),
    (BuildEventKind.STDERR, "W: an unsigned repository"),
    (BuildEventKind.ERROR, "The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
]


def text_style(strip) -> Style:
    """The style of the first segment that holds text."""
    return next(segment.style for segment in strip if segment.text.strip())


@pytest.mark.parametrize("theme", ["textual-dark", "ansi-dark"])
async def test_each_build_line_kind_is_painted_in_its_own_style(theme):
    app = BuildLogApp(theme)
    async with app.run_test(size=(100, 20)) as pilot:
        log = app.query_one(BuildLogView)
        log.append_events([BuildEvent(kind, text) for kind, text in KINDS])
        await pilot.pause()
        styles = {kind: text_style(log.view.render_line(row)) for row, (kind, _text) in enumerate(KINDS)}
        colors = app.current_theme
        plain = styles[BuildEventKind.OUTPUT]
        step = styles[BuildEventKind.STEP]
        tolerated = styles[BuildEventKind.TOLERATED]
        warning = styles[BuildEventKind.STDERR]
        error = styles[BuildEventKind.ERROR]
        assert not plain.bold and not plain.dim
        assert step.bold and step.color == plain.color  # step: bold, in the text colour
        assert tolerated.dim and not tolerated.bold
        assert warning.color != plain.color and not warning.bold
        assert error.bold and error.color not in (plain.color, warning.color)
        if theme == "textual-dark":  # truecolour theme: the theme's own warning and error colours
            assert near(warning.color, colors.warning) and near(error.color, colors.error)
        else:  # the terminal's palette: yellow and red
            assert warning.color.number in (3, 11) and error.color.number in (1, 9)  # ANSI yellow, red


async def test_build_log_follows_pauses_with_a_marker_and_resumes():
    app = BuildLogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(BuildLogView)
        view = log.view
        view.focus()
        for start in range(0, 3000, 300):  # like a 3,000-line build, in batches
            log.append_events(
                [BuildEvent(BuildEventKind.OUTPUT, f"line {i}") for i in range(start, start + 300)]
            )
            await pilot.pause()
        assert view.follow
        height = view.scrollable_content_region.height
        assert (
            view.scroll_y == view.max_scroll_y == view.line_count - height
        )  # at the very end, not short of it
        assert "line 2999" in _visible(view)

        await pilot.press("up")
        assert not view.follow
        log.append_events([BuildEvent(BuildEventKind.OUTPUT, f"later {i}") for i in range(5)])
        await pilot.pause()
        assert "later 4" not in _visible(view)
        marker = "".join(segment.text for segment in view.render_line(height - 1))
        assert "paused · 5 new lines · End or f follows" in marker

        await pilot.press("end")
        assert view.follow and view.scroll_y == view.max_scroll_y
        assert "later 4" in _visible(view) and "paused" not in _visible(view)

        await pilot.press("pageup", "pageup")
        assert not view.follow
        await pilot.press("pagedown", "pagedown", "pagedown")  # scrolling back to the end resumes
        assert view.follow


async def test_container_log_opens_at_its_end_and_f_toggles():
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(LogPanel)
        panel.append([f"old line {i}" for i in range(500)])
        await pilot.pause()
        view = panel.view
        assert view.follow and view.scroll_y == view.max_scroll_y and "old line 499" in _visible(view)
        view.focus()
        await pilot.press("f")
        assert not view.follow and "paused (End or f follows)" in str(panel.status.render())
        await pilot.press("f")
        assert view.follow and "following" in str(panel.status.render())


async def test_vi_keys_scroll_every_log():
    """j/k a line, g the top, G the end and following again, as in less and k9s (issue 28, item 7)."""
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(LogPanel)
        panel.append([f"line {i}" for i in range(500)])
        await pilot.pause()
        view = panel.view
        view.focus()
        bottom = view.scroll_y
        await pilot.press("k")
        assert not view.follow and view.scroll_y == bottom - 1
        await pilot.press("g")
        assert view.scroll_y == 0 and "line 0" in _visible(view)
        await pilot.press("j", "j")
        assert view.scroll_y == 2
        await pilot.press("G")
        assert view.follow and view.scroll_y == view.max_scroll_y and "line 499" in _visible(view)


def near(color, hex_color: str) -> bool:
    """Within a few steps per channel (Textual blends theme colours slightly)."""
    red, green, blue = (int(hex_color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return all(abs(a - b) <= 4 for a, b in zip(color.triplet, (red, green, blue), strict=True))


def _visible(view) -> str:
    height = view.scrollable_content_region.height
    return "\n".join("".join(segment.text for segment in view.render_line(y)) for y in range(height))
