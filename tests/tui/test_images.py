"""The Images section: registering by keyboard, live builds, cancel, history, delete refused, markup."""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import BuildEvent, BuildEventKind, BuildStatus, BuildSummary
from ipynbsrv_tui.tui.screens.build import BuildFormScreen, BuildScreen, FolderPickerScreen
from ipynbsrv_tui.tui.screens.build_history import BuildHistoryScreen
from ipynbsrv_tui.tui.screens.images import ImagesScreen
from ipynbsrv_tui.tui.screens.register import RegisterImageScreen
from ipynbsrv_tui.tui.widgets.buildlog import BuildLogView
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen

from .fixtures_admin import HEALTH, AdminHarness, FixedAdminSession, notifications, screen_text, wait_for

SIZE = (80, 24)


def images_screen(app) -> ImagesScreen:
    screen = app.screen
    assert isinstance(screen, ImagesScreen), type(screen).__name__
    return screen


def field_error(app, input_id: str) -> str:
    field = app.screen.field(input_id)
    return str(field.query_one(".error").render())


def write_dockerfile(root, folder: str, text: str) -> None:
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / "Dockerfile").write_text(textwrap.dedent(text))


async def run_build(pilot, app, folder: str, tag: str) -> BuildScreen:
    """b → pick `folder` → type `tag` → Enter; returns the build panel."""
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(app.screen, FolderPickerScreen), what="the folder picker")
    options = app.screen.query_one("#folders")
    await wait_for(pilot, lambda: options.option_count > 0, what="the dockerfile folders")
    options.highlighted = options.get_option_index(folder)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, BuildFormScreen), what="the build form")
    await pilot.press("shift+tab", "ctrl+u", *tag, "enter")  # the form starts in Build args
    await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen), what="the build panel")
    return app.screen


# --------------------------------------------------------------------------- registering


@pytest.mark.docker
async def test_register_by_keyboard_with_validation_errors(engine_session, service_config, tiny_image):
    app = AdminHarness(engine_session, service_config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterImageScreen))
        form = app.screen
        await wait_for(pilot, lambda: tiny_image in form.refs, what="the engine's images")

        await pilot.press(*"tiny", "tab", *"Not A Ref")
        assert "is not a valid image reference" in field_error(app, "ref")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form, "an invalid form must not be saved"

        await pilot.press("ctrl+u", *tiny_image)
        await wait_for(pilot, lambda: form.query_one("#description", Input).value, what="label defaults")
        # The label holds markup-like text: it arrives verbatim and nothing crashes.
        assert form.query_one("#description", Input).value == "tiny test image [/bin/sh -c]"
        assert field_error(app, "ref") == ""

        await pilot.press("tab", "tab", "tab", "ctrl+u", *"70000")
        assert "out of range" in field_error(app, "notebook-port")
        await pilot.press("tab", "tab", "tab", "tab", *"2x")
        assert app.screen.focused.id == "memory"
        assert "Memory size '2x' is not valid" in field_error(app, "memory")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form
        assert app.screen.focused.id == "notebook-port", "saving focuses the first invalid field"

        assert "fix the marked fields first" in str(form.query_one("#form-status").render())
        await pilot.press("ctrl+u", *"8888")
        form.query_one("#memory", Input).focus()
        await pilot.press("ctrl+u", *"512m")
        assert str(form.query_one("#form-status").render()) == ""  # fixed: the note has gone
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), what="the form to close")
        screen = images_screen(app)
        await wait_for(pilot, lambda: "tiny" in screen.items, what="the new row")

    view = engine_session.list_images()[0]
    assert (view.name, view.ref, view.notebook_port, view.memory) == ("tiny", tiny_image, 8888, "512m")
    assert view.description == "tiny test image [/bin/sh -c]"


@pytest.mark.docker
async def test_edit_retire_and_unretire(engine_session, service_config, registered_tiny):
    app = AdminHarness(engine_session, service_config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and "tiny" in app.screen.items)
        screen = app.screen
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, RegisterImageScreen))
        assert app.screen.query_one("#name", Input).disabled
        app.screen.query_one("#description", Input).focus()
        await pilot.press("ctrl+u", *"edited [b]x[/b]", "enter")
        await wait_for(
            pilot,
            lambda: app.screen is screen and screen.items["tiny"].description == "edited [b]x[/b]",
            what="the edit to show",
        )

        await pilot.press("t")  # retiring asks; Cancel has the focus
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the retire question")
        assert "Retire image tiny" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.3)
        assert not screen.items["tiny"].retired and engine_session.usable_images() != []
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the retire question")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.items["tiny"].retired, what="retired")
        assert "(retired)" in screen_text(app)
        assert engine_session.usable_images() == []
        await pilot.press("t")  # unretiring needs no question
        await wait_for(pilot, lambda: not screen.items["tiny"].retired, what="unretired")
        assert not isinstance(app.screen, ConfirmScreen)


@pytest.mark.docker
async def test_delete_is_refused_while_a_container_uses_the_image(
    engine_session, service_config, registered_tiny, people, notebook_service, root_actor
):
    container = notebook_service.create_container(root_actor, "nb", "tiny", owner="alice", start=False)
    app = AdminHarness(engine_session, service_config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and "tiny" in app.screen.items)
        screen = app.screen
        assert screen.items["tiny"].containers == 1
        await pilot.press("d")  # refused before any question, saying how many, which and what to do
        await wait_for(
            pilot,
            lambda: any("1 container uses image 'tiny' (alice/nb)" in n for n in notifications(app)),
            what="the refusal",
        )
        refusal = next(n for n in notifications(app) if "alice/nb" in n)
        assert "Delete those containers first" in refusal and "retire the image" in refusal
        await pilot.pause(0.3)
        assert app.screen is screen, "no question after a refusal"
        assert "tiny" in screen.items

        notebook_service.delete_container(root_actor, container.id)
        await pilot.press("f5", "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "tiny" not in screen.items, what="the row to go")
    assert engine_session.list_images() == []


# --------------------------------------------------------------------------- builds


@pytest.mark.docker
@pytest.mark.slow
async def test_live_build_of_a_debconf_noisy_dockerfile(engine_session, service_config, base_image, test_tag,
                                                        docker_client):
    write_dockerfile(Path(service_config.build.dockerfiles), "noisy", f"""\
        FROM {base_image}
        LABEL ipynbsrv.description="noisy [/bin/sh -c]"
        RUN echo "[/bin/sh -c] [bold]not bold[/bold]" && apt-get update -qq && \\
            apt-get install -y --no-install-recommends libpaper1 > /dev/null
        """)
    app = AdminHarness(engine_session, service_config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        panel = await run_build(pilot, app, "noisy", test_tag)
        await wait_for(pilot, lambda: panel.summary is not None, timeout=180, what="the build to end")
        log = panel.log_view
        assert panel.summary.status is BuildStatus.SUCCEEDED, panel.summary
        assert log.tolerated > 0 and log.tolerated == panel.summary.tolerated
        assert "[/bin/sh -c] [bold]not bold[/bold]" in log.view.lines
        summary = log.summary_text().plain
        assert "Succeeded" in summary and f"{log.tolerated:,} tolerated" in summary
        assert panel.summary.image_id and summary.count("sha256:") == 1
        assert "Succeeded" in screen_text(app)

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildHistoryScreen) and app.screen.items,
                       what="the history")
        build = next(iter(app.screen.items.values()))
        assert (build.image_ref, build.status, build.tolerated) == (
            test_tag,
            BuildStatus.SUCCEEDED,
            log.tolerated,
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.summary is not None,
                       what="the reopened log")
        assert "[/bin/sh -c] [bold]not bold[/bold]" in app.screen.log_view.view.lines
    assert docker_client.images.get(test_tag).labels["ipynbsrv.description"] == "noisy [/bin/sh -c]"


@pytest.mark.docker
async def test_live_build_of_a_failing_dockerfile_shows_the_exit_code(
    engine_session, service_config, base_image, test_tag
):
    write_dockerfile(Path(service_config.build.dockerfiles), "failing", f"""\
        FROM {base_image}
        RUN echo about to fail >&2; exit 3
        """)
    app = AdminHarness(engine_session, service_config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        panel = await run_build(pilot, app, "failing", test_tag)
        await wait_for(pilot, lambda: panel.summary is not None, timeout=120, what="the build to end")
        assert panel.summary.status is BuildStatus.FAILED
        assert panel.summary.exit_code == 3
        assert panel.log_view.warnings == 1  # "about to fail" on stderr
        assert "Failed (exit code 3)" in screen_text(app)
        assert "returned a non-zero code: 3" in panel.log_view.summary_text().plain
        assert any("returned a non-zero code: 3" in line for line in panel.log_view.view.lines)
        # The panel is on screen: its bar says why, and a short toast does not cover the bar (issue 28, item
        # 11).
        await wait_for(pilot, lambda: any("bar under the log" in n for n in notifications(app)),
                       what="the failure notification")
        assert [n.timeout for n in app._notifications if "bar under the log" in n.message] == [3]


@pytest.mark.docker
async def test_cancel_a_running_build_after_confirming(engine_session, service_config, base_image, test_tag,
                                                      docker_client):
    write_dockerfile(Path(service_config.build.dockerfiles), "slow", f"""\
        FROM {base_image}
        RUN echo started-sleeping && sleep 120
        """)
    app = AdminHarness(engine_session, service_config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        panel = await run_build(pilot, app, "slow", test_tag)
        await wait_for(pilot, lambda: "started-sleeping" in panel.log_view.view.lines, timeout=60,
                       what="the RUN step to start")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # no: the build goes on
        await wait_for(pilot, lambda: app.screen is panel)
        assert panel.running
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: panel.summary is not None, timeout=30, what="the build to stop")
        assert panel.summary.status is BuildStatus.CANCELLED
        assert "Cancelled" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), what="back to the images")
    builds = engine_session.list_builds()
    assert builds[0].status is BuildStatus.CANCELLED

    def sleeping() -> list:
        # The low-level list: no inspect per container, which fails when another test's container goes.
        return [c for c in docker_client.api.containers() if "sleep 120" in (c.get("Command") or "")]

    deadline = time.monotonic() + 20  # the engine notices the closed build connection, then stops the step
    while sleeping() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert sleeping() == [], "cancelling must stop the build's RUN container"


async def test_build_form_checks_tag_and_build_args(local_session, service_config):
    app = AdminHarness(local_session, service_config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        results = []
        await app.push_screen(BuildFormScreen("ipython3-notebook"), results.append)
        await pilot.pause()
        form = app.screen
        assert form.query_one("#tag", Input).value == "ipynbsrv/ipython3-notebook:latest"
        await pilot.press("shift+tab", "ctrl+u", *"Bad Tag", "enter")
        assert app.screen is form and results == []
        await pilot.press("ctrl+u", *"t/x:1", "tab", *"A=b c", "enter", *"oops", "ctrl+s")
        await pilot.pause()
        assert app.screen is form and results == []
        assert "has no '='" in str(form.query_one("#build-args").parent.parent.query_one(".error").render())
        assert form.focused.id == "build-args"
        await pilot.press("ctrl+u", "backspace", "ctrl+s")
        await wait_for(pilot, lambda: results, what="the form to close")
    request = results[0]
    assert (request.tag, request.build_args, request.nocache) == ("t/x:1", {"A": "b c"}, False)


# --------------------------------------------------------------------------- fixed data


async def test_build_form_keeps_the_tag_remembers_args_and_shows_the_plan():
    app = AdminHarness(FixedAdminSession(), Config(), health=HEALTH)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        results = []
        await app.push_screen(BuildFormScreen("ipython3-notebook"), results.append)
        form = app.screen
        area = form.query_one("#build-args")
        await wait_for(pilot, lambda: area.text, what="the last build's args")
        assert area.text == "BASE_IMAGE=ipynbsrv/base-ldap:bookworm"  # remembered for this folder
        plan = form.query_one("#plan")
        await wait_for(pilot, lambda: "will be built from" in str(plan.render()), what="the plan")
        assert "missing" not in str(plan.render())  # BASE_IMAGE given: no base to build first
        assert form.focused.id == "build-args"  # bordered and labelled; the tag follows the folder
        await pilot.press("shift+tab", "x")  # typing in Tag does not replace the prefilled tag
        assert form.query_one("#tag", Input).value == "ipynbsrv/ipython3-notebook:latestx"
        await pilot.press("backspace")
        area.load_text("")
        await wait_for(
            pilot,
            lambda: "base-ldap:latest is missing and will be built first" in str(plan.render()),
            what="the plan with the base first",
        )
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: results, what="the form to close")
    assert results[0].tag == "ipynbsrv/ipython3-notebook:latest" and results[0].build_args == {}



async def test_build_form_starts_in_build_args_filled_with_the_base_a_build_would_use():
    """Issue 28, item 9: a folder never built here shows BASE_IMAGE from [build] base_image (through
    the service's build_defaults) in the focused, bordered Build args box; typing goes there."""
    app = AdminHarness(FixedAdminSession(), Config(), health=HEALTH)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        results = []
        await app.push_screen(BuildFormScreen("base-ldap"), results.append)
        form = app.screen
        area = form.query_one("#build-args")
        await wait_for(pilot, lambda: area.text, what="the default build args")
        assert area.text == "BASE_IMAGE=debian:bookworm-slim"
        assert form.focused is area and area.styles.border_top[0] not in ("", "none", "hidden")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: results, what="the form to close")
    assert results[0].build_args == {"BASE_IMAGE": "debian:bookworm-slim"}
    assert results[0].tag == "ipynbsrv/base-ldap:latest"


async def test_build_form_with_two_errors_and_a_two_line_plan_fits_24_rows():
    """Issue 28, item 11: at 80x24 the build form with the tag's error, a build-args error and a
    two-line plan keeps its buttons and its help line on screen: an error replaces its field's hint."""
    app = AdminHarness(FixedAdminSession(), Config(), health=HEALTH)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        await app.push_screen(BuildFormScreen("ipython3-notebook"))
        form = app.screen
        area = form.query_one("#build-args")
        await wait_for(pilot, lambda: area.text, what="the default build args")
        area.load_text("A=b")  # no BASE_IMAGE: the base is built first, a plan of two entries
        plan = form.query_one("#plan")
        await wait_for(pilot, lambda: "missing" in str(plan.render()), what="the two-line plan")
        await pilot.press("shift+tab", "ctrl+u", *"Bad Tag", "tab", "end", "enter", *"oops", "ctrl+s")
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert "is not a valid image reference" in shown and "has no '='" in shown
        assert "is missing and will be built" in shown
        assert "one KEY=VALUE per line" not in shown  # the args error stands in for its hint
        box = form.query_one("Vertical")
        for widget in (form.query_one("#cancel"), form.query_one("#start"), form.query_one(".help")):
            assert widget.region.bottom <= box.region.bottom - 1 <= 24, (widget, widget.region, box.region)
        assert "Enter in Tag or Ctrl+S build" in shown


async def test_a_long_plan_scrolls_and_the_build_forms_buttons_stay_at_80x24():
    """A plan longer than the room left (here eight entries, with the two errors) scrolls in its
    own box: the buttons and the help line stay inside the form, on a 24-row screen."""
    app = AdminHarness(FixedAdminSession(), Config(), health=HEALTH)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen))
        await app.push_screen(BuildFormScreen("ipython3-notebook"))
        form = app.screen
        await wait_for(pilot, lambda: form.query_one("#build-args").text, what="the default build args")
        await pilot.press("shift+tab", "ctrl+u", *"Bad Tag", "tab", "end", "enter", *"oops", "ctrl+s")
        form._show_plan([f"base-{n} is missing and will be built first" for n in range(8)])
        await pilot.pause(0.3)
        box = form.query_one("Vertical")
        for widget in (form.query_one("#cancel"), form.query_one("#start"), form.query_one(".help")):
            assert widget.region.bottom <= box.region.bottom - 1 <= 24, (widget, widget.region, box.region)
        plan_box = form.query_one("#plan-box")
        assert 1 <= plan_box.region.height < 8 and plan_box.max_scroll_y > 0


async def test_history_reopens_a_stored_log_and_markup_stays_text():
    app = AdminHarness(FixedAdminSession(), Config(), health=HEALTH)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and app.screen.items)
        shown = screen_text(app)
        assert "[/bin/sh -c]" in shown  # a name that looks like markup is shown as typed
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildHistoryScreen) and app.screen.items)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.summary is not None)
        log = app.screen.log_view
        assert log.tolerated == 7 and log.warnings == 1 and log.exit_code == 3
        shown = screen_text(app)
        assert "Setting up libpaper1:amd64 (1.1.29) ... [bold]not bold[/bold]" in shown
        assert "Failed (exit code 3)" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildHistoryScreen))


async def test_slash_searches_the_build_log_and_n_shift_n_move_between_matches():
    """Issue 28, item 7: `/` search with n / N in the build log, as in a container's log."""
    app = AdminHarness(FixedAdminSession(), Config(), health=HEALTH)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and app.screen.items)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildHistoryScreen) and app.screen.items)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.summary is not None)
        screen = app.screen
        lines = screen.log_view.view
        steps = [i for i, line in enumerate(lines.lines) if line.startswith("Step ")]
        assert len(steps) == 3
        await pilot.press("slash", *"step", "enter")  # jumps to the last match
        assert app.screen is screen and lines.current_match == steps[-1] and not lines.follow
        assert "search 'step': line" in str(screen.log_view.summary_text())
        await pilot.press("N")
        assert lines.current_match == steps[1]
        await pilot.press("N", "N")  # wraps around
        assert lines.current_match == steps[-1]
        await pilot.press("n")
        assert lines.current_match == steps[0]
        await pilot.press("slash", *"x", "escape")  # Escape closes the search box, not the screen
        assert app.screen is screen and lines.search_term == "step" and lines.has_focus
        await pilot.press("slash", "ctrl+u", *"no such text", "enter")
        assert lines.current_match is None and "no match" in str(screen.log_view.summary_text())


async def test_filter_narrows_the_images():
    app = AdminHarness(FixedAdminSession(), Config(), health=HEALTH)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen) and app.screen.items)
        table = app.screen.table
        assert table.row_count == 3
        await pilot.press("slash", *"legacy")
        assert list(table.keys) == ["ipython2"]
        await pilot.press("enter")
        assert app.screen.focused is table
        await pilot.press("slash", "escape")
        assert table.row_count == 3


async def test_build_log_is_bounded_and_counts():
    class LogApp(App):
        def compose(self):
            yield BuildLogView(max_lines=1000)

    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(BuildLogView)
        log.start()
        kinds = (BuildEventKind.OUTPUT, BuildEventKind.TOLERATED, BuildEventKind.STDERR, BuildEventKind.STEP)
        for start in range(0, 5000, 500):
            log.append_events([BuildEvent(kinds[i % 4], f"line {i} [/b]", step=1, total_steps=2)
                               for i in range(start, start + 500)])
        await pilot.pause()
        assert log.view.line_count == 1000 and log.view.total_lines == 5000
        assert log.view.lines[-1] == "line 4999 [/b]"
        assert (log.tolerated, log.warnings) == (1250, 1250)
        assert "Building  step 1/2" in log.summary_text().plain
        log.finish(
            BuildSummary(BuildStatus.SUCCEEDED, "sha256:" + "a" * 64, None, None, 1250, 1250, 5000, 3.0)
        )
        summary = log.summary_text().plain
        assert "Succeeded in 3.0s" in summary and "sha256:aaaaaaaaaaaa " in summary + " "
        assert "showing the last 1,000 of 5,000 lines" in summary


async def test_sections_open_in_the_real_app(local_session, service_config):
    """The app shell registers both sections as modes; they open with their keys and show their data."""
    from ipynbsrv_tui.tui.app import IpynbsrvApp
    from ipynbsrv_tui.tui.screens.users import UsersScreen

    local_session.create_user("erin", "erin-secret-1")
    app = IpynbsrvApp(service_config, local_session, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), what="the images section")
        assert "No images registered yet" in screen_text(app)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, UsersScreen) and "erin" in app.screen.items,
                       what="the users section")
