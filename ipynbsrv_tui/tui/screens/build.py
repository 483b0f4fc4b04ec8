"""Building an image: pick a folder, edit tag and build args, watch the build live (DESIGN §5, §9)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ... import validation
from ...domain import BuildEvent, BuildStatus, BuildSummary, BuildView, ValidationError
from ..background import Background, error_text
from ..buildpump import MAX_BATCH, BuildEnded, BuildEvents, BuildPump, BuildStarted
from ..widgets.buildlog import MAX_LINES, BuildLogView
from ..widgets.confirm import ConfirmScreen
from ..widgets.dialog import Dialog
from ..widgets.footer import KeysFooter
from ..widgets.forms import Field, FormSwitch, Rule, first_invalid, reference_rule, text_input
from ..widgets.statusbar import StatusBar


@dataclass(frozen=True)
class BuildRequest:
    """What to build: a dockerfiles/ folder name or a path, the tag, build args, no-cache."""

    folder: str
    tag: str
    build_args: dict[str, str] = field(default_factory=dict)
    nocache: bool = False


def default_tag(prefix: str, folder: str) -> str:
    """`<image_prefix>/<folder name>:latest`, as the service names an untagged build."""
    return f"{prefix}/{Path(folder.rstrip('/')).name or folder}:latest"


# ---------------------------------------------------------------------- picking a folder


class FolderPickerScreen(Background, Dialog[str | None]):
    """Choose what to build: a folder under [build] dockerfiles, or a path typed in."""

    DEFAULT_CSS = """
    FolderPickerScreen { align: center middle; }
    FolderPickerScreen > Vertical {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    FolderPickerScreen #title { text-style: bold; }
    FolderPickerScreen OptionList { height: auto; max-height: 12; margin: 1 0; }
    FolderPickerScreen .help { color: $text-muted; }
    FolderPickerScreen .error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    AUTO_FOCUS = "#folders"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Build an image: pick a folder", id="title")
            yield OptionList(id="folders")
            yield Field("Or a path", text_input("", id="path", placeholder="a folder with a Dockerfile"))
            yield Static("", classes="error", id="picker-error")
            yield Static("Enter choose · Tab path · Esc cancel", classes="help")

    def on_mount(self) -> None:
        self.run_call(self.app.session.dockerfile_folders, then=self._loaded, failed=self._failed)

    def _loaded(self, folders: list[str]) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        if folders:
            options.add_options([Option(Text(name), id=name) for name in folders])
            options.highlighted = 0
        else:
            root = self.app.config.build.dockerfiles
            self._error(f"No image folders (with a Dockerfile) under {root}/: type a path.")
            self.query_one("#path", Input).focus()

    def _failed(self, exc: BaseException) -> None:
        self._error(error_text(exc))

    def _error(self, text: str) -> None:
        self.query_one("#picker-error", Static).update(Text(text))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    @on(Input.Submitted, "#path")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.value.strip()
        if not path:
            self._error("Type the path of a folder that holds a Dockerfile, or pick one above.")
            return
        self.dismiss(path)


# ---------------------------------------------------------------------- tag and build args


class BuildFormScreen(Background, Dialog[BuildRequest | None]):
    """Edit the tag, the build args (KEY=VALUE lines) and no-cache before a build starts.

    The build args start as the last build of this folder had them, else as a build without any
    would use them (`build_defaults`: BASE_IMAGE from `[build] base_image` or the image folder the
    Dockerfile names), so nothing is left to a Dockerfile default unseen. The first focus is there,
    in the bordered Build args box; the tag follows the folder. The plan (which missing bases are
    built first) is shown under the fields and follows what is typed.
    """

    DEFAULT_CSS = """
    BuildFormScreen { align: center middle; }
    BuildFormScreen > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    BuildFormScreen #title { text-style: bold; }
    BuildFormScreen Horizontal#buttons { height: auto; align-horizontal: right; }
    BuildFormScreen Button { margin-left: 2; }
    BuildFormScreen .help { color: $text-muted; }
    BuildFormScreen #plan-box { height: auto; }
    BuildFormScreen #plan { height: auto; padding-left: 18; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "start", "Build"),
    ]
    AUTO_FOCUS = "#build-args"

    def __init__(self, folder: str, tag: str | None = None, build_args: dict[str, str] | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.tag = tag
        self.build_args = build_args or {}
        self._plan_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        tag = self.tag or default_tag(self.app.config.build.image_prefix, self.folder)
        args = "\n".join(f"{k}={v}" for k, v in self.build_args.items())
        with Vertical(id="form-box"):
            yield Static(Text(f"Build {self.folder}"), id="title")
            yield Field(
                "Tag", text_input(tag, id="tag", validators=[reference_rule()], select_on_focus=False)
            )
            area = TextArea(args, id="build-args", show_line_numbers=False, soft_wrap=False)
            yield Field("Build args", area, rule=Rule(validation.build_args),
                        hint="one KEY=VALUE per line, e.g. BASE_IMAGE=debian:bookworm-slim")
            yield Field("No cache", FormSwitch(value=False, id="nocache"), hint="rebuild every step")
            with VerticalScroll(id="plan-box"):  # a long plan scrolls; the buttons stay on screen
                yield Static(Text("planning…"), id="plan")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Build", id="start", variant="primary")
            yield Static("Enter in Tag or Ctrl+S build · Esc cancel", classes="help")

    def on_mount(self) -> None:
        if not self.build_args:
            self.run_call(self.app.session.list_builds, then=self._remember_args,
                          failed=lambda _exc: self._remember_args([]))
        self._plan_soon()

    def _remember_args(self, builds: list[BuildView]) -> None:
        """Fill the build args of this folder's last build (newest first), unless some were typed;
        without one, the args a build without any would use."""
        name = Path(self.folder.rstrip("/")).name
        last = next((b for b in builds if b.context == self.folder or Path(b.context).name == name), None)
        if last is not None and last.build_args:
            self._fill_args(last.build_args)
        else:
            self.run_call(self.app.session.build_defaults, self.folder, then=self._fill_args,
                          failed=lambda _exc: None)

    def _fill_args(self, args: dict[str, str]) -> None:
        area = self.query_one("#build-args", TextArea)
        if args and not area.text.strip():
            area.load_text("\n".join(f"{k}={v}" for k, v in args.items()))

    @on(Input.Changed, "#tag")
    @on(TextArea.Changed, "#build-args")
    def _plan_soon(self) -> None:
        self._fit_plan_soon()  # a field's error may have come or gone
        if self._plan_timer is not None:
            self._plan_timer.stop()
        self._plan_timer = self.set_timer(0.3, self._plan)

    def _plan(self) -> None:
        try:
            tag = validation.image_reference(self.query_one("#tag", Input).value.strip())
            args = validation.build_args(self.query_one("#build-args", TextArea).text)
        except ValidationError:
            return  # the field says what is wrong; the plan follows once it is right
        self.run_call(self.app.session.build_plan, self.folder, tag, args, then=self._show_plan,
                      failed=lambda exc: self._show_plan([error_text(exc)]), group="plan", exclusive=True)

    def _show_plan(self, lines: list[str]) -> None:
        self.query_one("#plan", Static).update(Text("\n".join(lines)))
        self._fit_plan_soon()

    def _fit_plan_soon(self) -> None:
        self.call_after_refresh(self._fit_plan)

    def on_resize(self) -> None:
        self._fit_plan_soon()

    def _fit_plan(self) -> None:
        """The plan gets the rows the rest of the form leaves on the screen (a long one scrolls), so
        the buttons and the help line never go below the screen's edge."""
        box = self.query_one("#form-box", Vertical)
        plan_box = self.query_one("#plan-box", VerticalScroll)
        others = sum(child.outer_size.height for child in box.children if child is not plan_box)
        plan_box.styles.max_height = max(1, self.size.height - box.styles.gutter.height - others)

    @on(Input.Submitted, "#tag")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.action_start()
        else:
            self.dismiss(None)

    def action_start(self) -> None:
        fields = list(self.query(Field))
        bad = first_invalid(fields)
        if bad is not None:
            bad.widget.focus()
            self._fit_plan_soon()
            return
        self.dismiss(
            BuildRequest(
                folder=self.folder,
                tag=self.query_one("#tag", Input).value.strip(),
                build_args=validation.build_args(self.query_one("#build-args", TextArea).text),
                nocache=self.query_one("#nocache", FormSwitch).value,
            )
        )


# ---------------------------------------------------------------------- the build panel


def summary_of(view: BuildView) -> BuildSummary:
    """A stored build's summary, for reopening its log."""
    seconds = 0.0
    if view.started and view.finished:
        seconds = max(0.0, (view.finished - view.started).total_seconds())
    return BuildSummary(view.status, view.image_id or None, view.exit_code, view.error or None,
                        view.tolerated, view.warnings, view.lines, seconds)


class BuildScreen(Background, Screen[BuildSummary | None]):
    """The build panel: streams a build's log live (or shows a finished build's stored log).

    `c` stops a running build after a confirmation (the key leaves the footer when the build ends);
    Escape, `q` and the section keys leave it alike: a running build goes on in the background
    (see `tui.buildshelf`); `f` pauses or resumes following the end of the log (End resumes too).
    A question about a build that has since ended closes itself.
    """

    DEFAULT_CSS = """
    BuildScreen #build-title {
        height: 1; padding: 0 1; background: $boost; text-style: bold;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """
    HELP_TITLE = "Build log"
    HELP_NOTES = (
        "The log follows its end; scrolling up pauses it (a marker counts the new lines), f, End or G "
        "follows again. Arrows or j/k scroll a line, PgUp/PgDn a page, Home/End or g/G go to the top / "
        "the end. / searches (Enter finds the last match, Escape closes the box), n / N go to the next / "
        "previous match.",
        "Step lines are bold, tolerated Debian noise dim, warnings yellow, errors red; the bar at the "
        "bottom counts them. A stopped build is Cancelled and keeps no image.",
        "Escape, q or a section key leaves a running build going in the background: the header shows "
        "its step and B brings this log back from anywhere; only c stops the build.",
    )
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("c", "cancel_build", "Stop build"),
        Binding("f", "toggle_follow", "Follow/pause"),
    ]

    def __init__(self, request: BuildRequest | None = None, *, build: BuildView | None = None) -> None:
        super().__init__()
        if (request is None) == (build is None):
            raise ValueError("BuildScreen needs either a request (a new build) or a build (to reopen)")
        self.request = request
        self.build = build
        self.build_id: int | None = build.id if build else None
        self.summary: BuildSummary | None = None
        self.pump: BuildPump | None = None
        self._question: ConfirmScreen | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("Images › Build")
        yield Static(self._title(), id="build-title")
        yield BuildLogView(MAX_LINES, id="build-log")
        yield KeysFooter()

    @property
    def log_view(self) -> BuildLogView:
        return self.query_one(BuildLogView)

    @property
    def running(self) -> bool:
        return self.pump is not None and self.pump.running

    @property
    def tag(self) -> str:
        if self.request is not None:
            return self.request.tag
        return self.build.image_ref if self.build is not None else "this image"

    @property
    def short_name(self) -> str:
        """The image's name without its repository path, for the header."""
        return self.tag.rsplit("/", 1)[-1]

    @property
    def step_text(self) -> str:
        """`8/21` while a build has reached a step, else ``."""
        log = self.log_view
        if log.step is None:
            return ""
        return f"{log.step}/{log.total_steps or '?'}"

    def _shelf(self):
        return getattr(self.app, "builds", None)

    def _title(self) -> Text:
        if self.request is not None:
            text = Text(f"Build {self.request.tag}", no_wrap=True, overflow="ellipsis")
            text.append(f"  from {self.request.folder}", style="not bold")
        else:
            assert self.build is not None
            text = Text(f"Build #{self.build.id}  {self.build.image_ref}", no_wrap=True, overflow="ellipsis")
            text.append(f"  from {self.build.context}", style="not bold")
            return text
        if self.build_id is not None:
            text.append(f"  (build #{self.build_id})", style="not bold")
        return text

    def on_mount(self) -> None:
        self.log_view.view.focus()
        if self.request is not None:
            self._start_build(self.request)
        else:
            self._reopen()

    def _start_build(self, request: BuildRequest) -> None:
        session = self.app.session
        shelf = self._shelf()
        if shelf is not None:
            shelf.keep(self)  # leaving the panel leaves the build running
        self.log_view.start()
        self.refresh_bindings()
        self.pump = BuildPump(
            lambda: session.build_image(request.folder, tag=request.tag, build_args=request.build_args,
                                        nocache=request.nocache),
            self.post_message,
        )
        self.pump.start()

    def _reopen(self) -> None:
        assert self.build is not None
        build = self.build
        self.run_call(self.app.session.build_log, build.id, limit=MAX_LINES, then=self._reopened,
                  title="Cannot open the build log")

    def _reopened(self, events: list[BuildEvent]) -> None:
        assert self.build is not None
        log = self.log_view
        for start in range(0, len(events), MAX_BATCH * 10):
            log.append_events(events[start : start + MAX_BATCH * 10])
        self.summary = summary_of(self.build)
        log.finish(self.summary)

    # ------------------------------------------------------------------ live events

    @on(BuildStarted)
    def _started(self, message: BuildStarted) -> None:
        self.build_id = message.build_id
        self.query_one("#build-title", Static).update(self._title())

    @on(BuildEvents)
    def _events(self, message: BuildEvents) -> None:
        log = self.log_view
        step = log.step
        log.append_events(message.events, message.lines)
        if self.pump is not None:
            self.pump.delivered()
        shelf = self._shelf()
        if shelf is not None and log.step != step:
            shelf.changed()

    @on(BuildEnded)
    def _ended(self, message: BuildEnded) -> None:
        summary = message.summary
        if summary is None:
            summary = BuildSummary(
                BuildStatus.FAILED,
                None,
                None,
                message.error or "The build did not start.",
                self.log_view.tolerated,
                self.log_view.warnings,
                self.log_view.view.total_lines,
                0.0 if self.log_view.started is None else time.monotonic() - self.log_view.started,
            )
        self.summary = summary
        self.log_view.finish(summary)
        self.refresh_bindings()
        question, self._question = self._question, None
        if question is not None and question.is_attached:
            question.dismiss(None)  # it asked about a build that is no longer running
        shelf = self._shelf()
        if shelf is not None:
            shelf.ended(self)
        tag = self.tag
        if summary.status is BuildStatus.SUCCEEDED:
            self.app.notify(f"Built {tag}.", title="Build succeeded", markup=False)
        elif summary.status is BuildStatus.CANCELLED:
            self.app.notify(f"The build of {tag} was cancelled.", title="Build cancelled", severity="warning",
                            markup=False)
        elif self.app.screen is self:  # the bar under the log says why; a long toast would cover its end
            self.app.notify("The reason is in the bar under the log.", title=f"Build of {tag} failed",
                            severity="error", markup=False, timeout=3)
        else:
            self.app.notify(
                summary.error or message.error or "The build failed.",
                title=f"Build of {tag} failed",
                severity="error",
                markup=False,
                timeout=10,
            )

    # ------------------------------------------------------------------ keys

    def action_toggle_follow(self) -> None:
        self.log_view.follow = not self.log_view.follow

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_build":
            return self.running  # hidden from the footer once the build has ended
        return True

    def action_cancel_build(self) -> None:
        if self.running:
            self._ask_cancel()

    def action_back(self) -> None:
        """Back to where the panel was opened from; a running build goes on (see `tui.buildshelf`)."""
        self.dismiss(None if self.running else self.summary)

    def on_screen_suspend(self) -> None:
        shelf = self._shelf()
        if shelf is not None:
            self.app.call_after_refresh(shelf.left, self)

    def _ask_cancel(self) -> None:
        question = f"The build of {self.tag} is still running. Stop it?"

        def answered(stop: bool | None) -> None:
            self._question = None
            if stop and self.pump is not None:
                self.pump.cancel()

        self._question = ConfirmScreen(question, confirm_label="Stop build", cancel_label="Keep building")
        self.app.push_screen(self._question, answered)

    def on_unmount(self) -> None:
        if self.pump is not None and self.pump.running:
            self.pump.cancel()
