"""The Textual application: sections as modes, live container feed, health in the header."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from ..broker.protocol import BrokerUnavailable
from ..config import Config
from ..domain import Actor, ContainerView, Health
from .background import Background, ErrorToasts, error_text
from .book import ContainerBook
from .buildshelf import BuildShelf
from .commands import SectionCommands, action_name
from .console import ConsoleApp
from .early import EarlyCall
from .messages import (
    AccessEnded,
    ContainersChanged,
    ContainersLoaded,
    FeedProblem,
    HealthChecked,
    RightsUpdated,
    ServiceLost,
    StatsSampled,
)
from .returning import ReturnOnLogin
from .streams import ContainerFeed, RightsFeed, StatsSampler
from .unread import UnreadBadge

log = logging.getLogger(__name__)

HEALTH_SECONDS = 1.0  # DESIGN §12: a lost engine or broker shows in the header within 2 s
STATS_SECONDS = 3.0
RIGHTS_MODE = "rights-changed"
PLAIN_TERMS = {"linux", "vt100", "vt102", "vt220", "ansi", "xterm", "screen", "tmux", "cons25", "dumb"}


@dataclass(frozen=True)
class Section:
    """A top-level section: a Textual mode whose base screen is `module.class_name`.

    `key` switches to it from anywhere; `short` is its title in the tab line when the full
    titles do not fit the terminal's width (80 columns with every section listed).
    """

    mode: str
    title: str
    key: str
    admin_only: bool
    module: str
    class_name: str
    short: str = ""
    swarm_only: bool = False  # shown only with [engine] mode = "swarm"
    backup_only: bool = False  # shown only when [backup] names a repository

    @property
    def short_title(self) -> str:
        return self.short or self.title

    @property
    def screen_class(self) -> type[Screen]:
        module = importlib.import_module(self.module, __package__)
        return getattr(module, self.class_name)

    def available(self) -> bool:
        """Whether the section's module is there (found, not imported: a section's screens load
        when it is first opened, which keeps them out of the start-up time)."""
        try:
            found = (
                importlib.util.find_spec(importlib.util.resolve_name(self.module, __package__)) is not None
            )
        except (ImportError, ValueError) as exc:
            found = False
            log.warning("section %s unavailable: %s", self.mode, exc)
        return found

    def make_screen(self) -> Screen:
        """The section's base screen (its module is imported now, the first time)."""
        return self.screen_class()


# One line per section: its key binding, tab, palette entry and help follow from it. The short
# titles are whole words, so that at 80 columns the tab line reads "1 Containers 2 Images 3 Users
# 4 Mine 5 Groups 6 Shares 7 Inbox" with the current section's full title (issue 28, item 11).
SECTIONS = (
    Section("containers", "Containers", "1", True, ".screens.containers", "ContainersScreen"),
    Section("images", "Images", "2", True, ".screens.images", "ImagesScreen"),
    Section("users", "Users", "3", True, ".screens.users", "UsersScreen"),
    Section("notebooks", "My notebooks", "4", False, ".screens.notebooks", "NotebooksScreen", "Mine"),
    Section("groups", "Groups", "5", False, ".screens.groups", "GroupsScreen"),
    Section("shares", "Shares", "6", False, ".screens.shares", "SharesScreen"),
    Section(
        "notifications", "Notifications", "7", False, ".screens.notifications", "NotificationsScreen", "Inbox"
    ),
    Section("nodes", "Nodes", "8", True, ".screens.nodes", "NodesScreen", swarm_only=True),
    Section("backups", "Backups", "9", False, ".screens.backups", "BackupsScreen", "Bkp", backup_only=True),
)


def choose_theme(environ: Mapping[str, str] = os.environ) -> str:
    """ansi-dark (the terminal's own colours) when asked for, over SSH, or on a plain terminal."""
    asked = environ.get("IPYNBSRV_THEME") or environ.get("TEXTUAL_THEME")
    if asked:
        return asked
    term = environ.get("TERM", "")
    if environ.get("SSH_CONNECTION") or environ.get("SSH_TTY") or term in PLAIN_TERMS:
        return "ansi-dark"
    return "textual-dark"


INFO_SECONDS = 3.0  # an information toast without a timeout of its own


class IpynbsrvApp(UnreadBadge, Background, ConsoleApp):
    """ipynbsrv-tui: the admin console and the self-service screen, over one session."""

    TITLE = "ipynbsrv-tui"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {SectionCommands}
    BINDINGS = [
        *(Binding(s.key, f"section('{s.mode}')", s.title, show=False) for s in SECTIONS),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("B", "show_build", "Running build", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False),
        Binding("q", "back_or_quit", "Back / quit", show=False),
    ]

    health: reactive[Health | None] = reactive(None)
    # Why the broker does not answer (client mode), or None while it does; the header shows it.
    service_lost: reactive[str | None] = reactive(None)
    unread: reactive[int] = reactive(0)  # the actor's unread notifications (header badge)
    build_note: reactive[str] = reactive("")  # the running build, e.g. "⚙ ipython3-notebook:latest 8/21"

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A toast; one that only reports success goes after INFO_SECONDS unless told otherwise, so
        toasts do not sit over a table's last rows or a log's status line (issue 28, item 11).
        Warnings and errors keep Textual's time or their own."""
        if timeout is None and severity == "information":
            timeout = INFO_SECONDS
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def __init__(self, config: Config, session, *, hangup_guard: bool = False, theme: str | None = None,
                 watch: bool = True, tune_gc: bool = False, returning: ReturnOnLogin | None = None,
                 first_list: EarlyCall[list[ContainerView]] | None = None) -> None:
        self.config = config
        self.session = session
        self.sections = self.sections_for(session.actor)
        # Instance values read by App.__init__: only the sections this actor may use become modes.
        self.MODES = {s.mode: s.make_screen for s in self.sections}  # type: ignore[misc]
        self.DEFAULT_MODE = self.home_mode(session.actor, self.sections)  # type: ignore[misc]
        super().__init__()
        self.book = ContainerBook(self)
        self.builds = BuildShelf(self)
        self.error_toasts = ErrorToasts()
        self._health_error: str | None = None  # shown once until the health check answers again
        self.feed: ContainerFeed | None = None
        self.sampler: StatsSampler | None = None
        self.rights: RightsFeed | None = None
        self._hangup_guard = hangup_guard
        self._watch = watch
        self._tune_gc = tune_gc
        self._feed_problem = False
        self._returning = returning
        self._first_list = first_list
        if (
            first_list is not None
            and first_list.done
            and first_list.error is None
            and first_list.result is not None
        ):
            self.book.load(first_list.result)  # asked while textual loaded: the first frame shows the rows
        wanted = theme or choose_theme()
        self.theme = wanted if wanted in self.available_themes else "textual-dark"

    def sections_for(self, actor: Actor) -> list[Section]:
        """The sections `actor` may open (admin ones for admins; Nodes in swarm mode; Backups with a
        repository)."""
        swarm = self.config.engine.mode == "swarm"
        backups = bool(self.config.backup.repository)
        return [s for s in SECTIONS if (actor.is_admin or not s.admin_only) and (swarm or not s.swarm_only)
                and (backups or not s.backup_only) and s.available()]

    @staticmethod
    def home_mode(actor: Actor, sections: list[Section]) -> str:
        return (
            "containers" if actor.is_admin and any(s.mode == "containers" for s in sections) else "notebooks"
        )

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        if self._hangup_guard:
            from .hangup import install_hangup_guard

            install_hangup_guard(self)
        if not self.book.loaded:
            self._start_feed()  # the rows are not here yet: fetching them comes first

    def on_ready(self) -> None:
        """After the first frame: the engine's client (imported by the feed, health and samples)
        would compete with drawing it for the interpreter (DESIGN §12, the start-up budget)."""
        self._start_feed()
        if self._watch:
            self.sampler = StatsSampler(self.session, self.post_message, interval=STATS_SECONDS)
            self.sampler.start()
            self.rights = RightsFeed(self.session, self.post_message)
            self.rights.start()
        self.check_health()
        self.set_interval(HEALTH_SECONDS, self.check_health)
        if self._returning is not None:
            self._returning.on_done(self._returned)
        self.start_unread_badge()
        if self._tune_gc:
            from .gcpolicy import settle_heap

            self.call_after_refresh(settle_heap)

    def _start_feed(self) -> None:
        if self._watch and self.feed is None:
            self.feed = ContainerFeed(self.session, self.post_message, first=self._first_list)
            self.feed.start()

    def _returned(self, done: ReturnOnLogin) -> None:
        if self._thread_id == threading.get_ident():
            self.show_return(done)
        else:
            self.call_from_thread(self.show_return, done)

    def show_return(self, done: ReturnOnLogin) -> None:
        """Tell the returning user which suspended notebooks their login resumed."""
        for view in done.resumed:
            self.book.put(view)
        text = done.summary()
        if text is not None:
            self.notify(text, title="Resumed", severity="error" if done.error else "information",
                        timeout=8, markup=False)

    def on_unmount(self) -> None:
        self.stop_streams()

    def stop_streams(self) -> None:
        """Stop the feed and sampler threads (idempotent; they are daemons anyway)."""
        for stream in (self.feed, self.sampler, self.rights):
            if stream is not None:
                stream.stop()

    # ------------------------------------------------------------------ background answers

    def on_containers_loaded(self, message: ContainersLoaded) -> None:
        first = self._first_list
        if first is not None and message.views is first.result and self.book.loaded:
            return  # the early list, loaded when the app was made
        self.book.load(message.views)

    def on_containers_changed(self, message: ContainersChanged) -> None:
        self.book.apply(message.changes)

    def on_stats_sampled(self, message: StatsSampled) -> None:
        self.book.set_stats(message.samples)

    async def on_rights_updated(self, message: RightsUpdated) -> None:
        """The user's rights changed while the console was open (DESIGN §8): drop every view and
        the rows (tokens included) loaded under the old rights, then open the sections of the new."""
        old, new = self.session.actor, message.actor
        if (old.username, old.uid, old.is_admin, set(old.groups)) == (new.username, new.uid, new.is_admin,
                                                                         set(new.groups)):
            return
        self.session.adopt_rights(new)
        self.book.forget_all()
        if self.feed is not None:
            self.feed.stop()
            self.feed = None
        old_modes = [s.mode for s in self.sections]
        self.sections = self.sections_for(new)
        self.add_mode(RIGHTS_MODE, Screen)  # a blank stand-in while the sections are made again
        await self.switch_mode(RIGHTS_MODE)
        for mode in old_modes:
            await self.remove_mode(mode)
        for section in self.sections:
            self.add_mode(section.mode, section.make_screen)
        await self.switch_mode(self.home_mode(new, self.sections))
        await self.remove_mode(RIGHTS_MODE)
        self._start_feed()
        if old.is_admin != new.is_admin:
            what = "You are an admin now." if new.is_admin else "You are no longer an admin."
        else:
            what = "Your group memberships changed."
        self.notify(f"{what} The console shows what you may see now.", title="Rights changed",
                    severity="warning", timeout=10, markup=False)

    def on_access_ended(self, message: AccessEnded) -> None:
        """The account was disabled or deleted: nothing may stay on screen."""
        self.book.forget_all()
        self.exit(return_code=1, message=Text(message.reason))

    def on_feed_problem(self, message: FeedProblem) -> None:
        self.notify(message.text, severity="information" if message.recovered else "warning", markup=False)
        self.check_health()

    def on_health_checked(self, message: HealthChecked) -> None:
        old, new = self.health, message.health
        self._health_error = None
        if self.service_lost is not None:
            self.service_lost = None
            self.notify("The notebook service answers again.", severity="information", markup=False)
            if self.feed is not None:
                self.feed.retry_now()
        self.health = new
        if old is not None and old.engine_ok and not new.engine_ok:
            self.notify(
                f"The Docker Engine is unreachable: {new.engine_detail}", severity="error", markup=False
            )
        if old is not None and old.directory_ok and not new.directory_ok:
            self.notify(
                f"The directory is unreachable: {new.directory_detail}", severity="error", markup=False
            )
        if new.backup_problem and (old is None or old.backup_problem != new.backup_problem):
            self.notify(
                new.backup_problem[:1].upper() + new.backup_problem[1:],
                title="Backups",
                severity="error",
                timeout=10,
                markup=False,
            )

    def on_service_lost(self, message: ServiceLost) -> None:
        if self.service_lost is None:
            self.notify(f"{message.reason.rstrip('.')}. Retrying every second.", title="Service lost",
                        severity="error", timeout=10, markup=False)
        self.service_lost = message.reason
        self.book.set_stale(True)

    def check_health(self) -> None:
        self.run_call(self.session.health, then=lambda health: self.post_message(HealthChecked(health)),
                      failed=self._health_failed, group="health", exclusive=True)

    def _health_failed(self, exc: BaseException) -> None:
        if isinstance(exc, BrokerUnavailable):  # client mode: the header says the service is lost
            self.post_message(ServiceLost(error_text(exc, brief=True)))
        elif error_text(exc) != self._health_error:  # the reason goes to one notification, not one a second
            self._health_error = error_text(exc)
            self.show_error(exc)

    # ------------------------------------------------------------------ sections

    def section_for(self, mode: str) -> Section | None:
        return next((s for s in self.sections if s.mode == mode), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A swarm-only section (Nodes) has no key, help line or palette entry in docker mode, nor
        Backups without a repository."""
        if action == "section" and parameters:
            mode = str(parameters[0])
            if self.section_for(mode) is None and any((s.swarm_only or s.backup_only) and s.mode == mode
                                                      for s in SECTIONS):
                return False
        return True

    def action_section(self, mode: str) -> None:
        if self.section_for(mode) is None:
            title = next((s.title for s in SECTIONS if s.mode == mode), mode)
            self.notify(f"{title} is for admins only.", severity="warning", markup=False)
            return
        self.switch_mode(mode)

    async def run_section_action(self, mode: str, action: str) -> None:
        """Switch to a section and run one of its actions on the screen that has it."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        name = action_name(action)
        for screen in reversed(self.screen_stack):
            if hasattr(screen, f"action_{name}"):
                await screen.run_action(action)
                return

    def action_back_or_quit(self) -> None:
        """`q` as in k9s and lazydocker: back where Escape goes back (a pushed screen or a dialog,
        asking first where Escape asks), quit on a section's own screen. Typed text (a form, the
        filter) keeps its q: the focused field takes the key first."""
        if len(self.screen_stack) > 1:
            self.simulate_key("escape")
        else:
            self.exit()

    async def action_show_build(self) -> None:
        """`B`: the running build's log (or the last one that ended in the background), from anywhere."""
        panel = self.builds.latest()
        if panel is None:
            self.notify("No build is running: b in 2 Images starts one, h there lists the past ones.",
                        markup=False)
            return
        if panel in self.screen_stack:
            return
        holder = next((mode for mode, stack in self._screen_stacks.items() if panel in stack), None)
        if holder is None and self.section_for("images") is not None:
            holder = "images"
        if holder is not None and holder != self.current_mode:
            await self.switch_mode(holder)
        if panel not in self.screen_stack:
            await self.push_screen(panel)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        section = self.section_for(self.current_mode)
        self.push_screen(HelpScreen(self.screen, section.title if section else "ipynbsrv-tui"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # No "Screenshot": it would write a file on the server, not on the user's machine.
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command
