"""Resume on return (DESIGN §12): the user's login resumes their suspended notebooks at once.

`ipynbsrv-tui` starts this right after it connects, before the screen library loads, so a
suspended notebook answers again while the first screen is still being drawn. The app shows the
outcome when it arrives (`on_done`). No textual import here: it runs before textual is loaded.
"""

from __future__ import annotations

from typing import Any

from ..domain import ContainerView
from .early import EarlyCall


class ReturnOnLogin(EarlyCall[list[ContainerView]]):
    """Runs `session.resume_suspended()` in a background thread and keeps its outcome."""

    def __init__(self, session: Any) -> None:
        super().__init__(lambda: list(session.resume_suspended()), "ipynbsrv-resume-on-login")

    @property
    def resumed(self) -> list[ContainerView]:
        return self.result or []

    def summary(self) -> str | None:
        """The line the screen shows, or None when there was nothing to resume."""
        if self.error is not None:
            return f"Your suspended notebooks could not be resumed: {self.error}"
        if not self.resumed:
            return None
        names = ", ".join(view.name for view in self.resumed)
        return f"Welcome back: resumed {names} (suspended while you were away)."
