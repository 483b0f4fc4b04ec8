"""Leave when the terminal goes away (DESIGN §9): exit within 1 s, never spin.

A plain Textual app whose SSH connection drops keeps running: its input thread sees EOF on
stdin, `select` keeps reporting it readable, and the thread loops at 100% CPU. The guard ends
the app instead, on either signal of a lost terminal:

- SIGHUP (sshd / tmux / the kernel hang up the session), and
- a watchdog thread that polls the terminal every 0.1 s for POLLHUP / POLLERR / POLLNVAL, a
  descriptor that is no longer a terminal (EIO), or a parent process that went away.

It asks the app to exit on its event loop, and hard-exits with `os._exit` after a grace
period in case the shutdown itself blocks on the dead terminal.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import threading
import time
from collections.abc import Callable

HANGUP_EXIT_CODE = 129  # 128 + SIGHUP, as a shell reports it
GRACE_SECONDS = 0.1  # a clean exit gets this long; the terminal is gone, so nothing waits on it
POLL_SECONDS = 0.1  # cheap (poll on two fds): a hung-up terminal is noticed within 0.1 s
_BROKEN = select.POLLHUP | select.POLLERR | select.POLLNVAL


def terminal_gone(fds: tuple[int, ...], parent: int) -> str | None:
    """Why the controlling terminal is unusable, or None while it is fine."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, _BROKEN)
    for fd, events in poller.poll(0):
        if events & _BROKEN:
            return f"terminal hung up (fd {fd})"
    for fd in fds:
        if not os.isatty(fd):
            return f"fd {fd} is no longer a terminal"
    if os.getppid() != parent:
        return "the parent process exited"
    return None


class HangupGuard:
    """Installed once per process from the app's event loop; `leave(reason)` may run on any thread."""

    def __init__(self, app, fds: tuple[int, ...] = (0, 1), grace: float = GRACE_SECONDS,
                 poll: float = POLL_SECONDS, hard_exit: Callable[[int], object] = os._exit) -> None:
        self.app = app
        self.hard_exit = hard_exit
        self.fds = fds
        self.grace = grace
        self.poll = poll
        self.reason: str | None = None
        self._loop = asyncio.get_running_loop()
        self._parent = os.getppid()
        self._left = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="ipynbsrv-hangup", daemon=True)

    def install(self, sighup: bool = True) -> HangupGuard:
        """Start the watchdog and (from the main thread) take over SIGHUP."""
        if sighup:
            signal.signal(signal.SIGHUP, self._on_sighup)
        self._watchdog.start()
        return self

    def _on_sighup(self, _signum, _frame) -> None:
        self.leave("SIGHUP")

    def _watch(self) -> None:
        while not self._left.wait(self.poll):
            try:
                reason = terminal_gone(self.fds, self._parent)
            except OSError as exc:
                reason = f"terminal check failed: {exc.strerror or exc}"
            if reason:
                self.leave(reason)
                return

    def leave(self, reason: str) -> None:
        """Ask the app to exit now, and make sure the process is gone after the grace period."""
        if self._left.is_set():
            return
        self._left.set()
        self.reason = reason
        threading.Thread(target=self._hard_exit, name="ipynbsrv-hangup-exit", daemon=True).start()
        try:
            self._loop.call_soon_threadsafe(self._exit_app)
        except RuntimeError:  # the loop is closed already: nothing left to shut down cleanly
            self.hard_exit(HANGUP_EXIT_CODE)

    def _exit_app(self) -> None:
        stop = getattr(self.app, "stop_streams", None)
        if stop is not None:
            stop()
        self.app.exit(return_code=HANGUP_EXIT_CODE)

    def _hard_exit(self) -> None:
        time.sleep(self.grace)
        self.hard_exit(HANGUP_EXIT_CODE)


def install_hangup_guard(app, sighup: bool = True, **options) -> HangupGuard:
    """Install the SIGHUP handler and the terminal watchdog for `app` (call from its event loop)."""
    return HangupGuard(app, **options).install(sighup=sighup)
