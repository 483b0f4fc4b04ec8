"""Resume on return (DESIGN §12): the user's login resumes their suspended notebooks at once.

`ipynbsrv-tui` starts this right after it connects, before the screen library loads, so a
suspended notebook answers again while the first screen is still being drawn. The app shows the
outcome when it arrives (`on_done`). No textual import here: it runs before textual is loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..domain import ContainerView


class ReturnOnLogin:
    """Runs `session.resume_suspended()` in a background thread and keeps its outcome."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._listener: Callable[[ReturnOnLogin], None] | None = None
        self.resumed: list[ContainerView] = []
        self.error: Exception | None = None

    def start(self) -> ReturnOnLogin:
        threading.Thread(target=self._run, name="ipynbsrv-resume-on-login", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            self.resumed = list(self._session.resume_suspended())
        except Exception as exc:  # shown on the screen; the app works without it
            self.error = exc
        with self._lock:
            self._done.set()
            listener = self._listener
        if listener is not None:
            listener(self)

    def on_done(self, listener: Callable[[ReturnOnLogin], None]) -> None:
        """Call `listener` (from the resuming thread, or at once when already done) with this object."""
        with self._lock:
            if not self._done.is_set():
                self._listener = listener
                return
        listener(self)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def summary(self) -> str | None:
        """The line the screen shows, or None when there was nothing to resume."""
        if self.error is not None:
            return f"Your suspended notebooks could not be resumed: {self.error}"
        if not self.resumed:
            return None
        names = ", ".join(view.name for view in self.resumed)
        return f"Welcome back: resumed {names} (suspended while you were away)."
