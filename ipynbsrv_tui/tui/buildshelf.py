"""Builds that go on in the background: their panels stay alive when left (DESIGN §9).

Leaving a build panel (Escape, `q` or a section key 1-9) never stops the build, as leaving a view
never stops anything in k9s or lazydocker: the panel is kept (installed, in Textual's terms), a
note says how to come back, the header shows the running build's step, and `B` brings the panel
back from anywhere. Only `c` on the panel stops a build, after a question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from textual.app import App

if TYPE_CHECKING:
    from .screens.build import BuildScreen


class _ShelfApp(Protocol):
    build_note: str


class BuildShelf:
    """The app's build panels that are running, or ended while nobody looked at them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._panels: list[BuildScreen] = []
        self._count = 0

    @property
    def panels(self) -> list[BuildScreen]:
        return list(self._panels)

    def running(self) -> list[BuildScreen]:
        return [panel for panel in self._panels if panel.running]

    def latest(self) -> BuildScreen | None:
        """The newest running build's panel, else the newest one that ended in the background."""
        running = self.running()
        if running:
            return running[-1]
        return self._panels[-1] if self._panels else None

    def keep(self, panel: BuildScreen) -> None:
        """Keep `panel` alive off the screen stack until its build has ended and was seen."""
        self._count += 1
        self.app.install_screen(panel, name=f"ipynbsrv-build-{self._count}")
        self._panels.append(panel)
        self.changed()

    def _on_a_stack(self, panel: BuildScreen) -> bool:
        return any(panel in stack for stack in self.app._screen_stacks.values())

    def left(self, panel: BuildScreen) -> None:
        """`panel` left the screen (popped, or another section shown): note how to come back while
        it runs; let an ended one go."""
        if panel not in self._panels or panel in self.app.screen_stack:
            return  # a question or the help on top of it: not left
        if panel.running:
            self.app.notify(
                f"The build of {panel.tag} goes on in the background. The header shows its step; "
                "B brings its log back (c there stops it).",
                title="Build still running", markup=False, timeout=6,
            )
        elif not self._on_a_stack(panel):
            self._release(panel)
        self.changed()

    def ended(self, panel: BuildScreen) -> None:
        """`panel`'s build ended: older ended panels nobody looks at go, this one stays for `B`."""
        for other in self._panels:
            if other is not panel and not other.running and not self._on_a_stack(other):
                self._release(other)
        self.changed()

    def _release(self, panel: BuildScreen) -> None:
        self._panels.remove(panel)
        self.app.uninstall_screen(panel)

    def changed(self) -> None:
        """Put the running builds into the header (`app.build_note`)."""
        running = self.running()
        note = ""
        if running:
            panel = running[-1]
            note = f"⚙ {panel.short_name}"
            step = panel.step_text
            if step:
                note += f" {step}"
            if len(running) > 1:
                note += f" +{len(running) - 1}"
        app: _ShelfApp = self.app  # type: ignore[assignment]
        app.build_note = note
