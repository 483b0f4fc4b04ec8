"""The one way the TUI runs blocking work, and the one way it shows errors (DESIGN §9, §13).

A blocking call (a session method: Docker, LDAP, the store, the broker) runs in a Textual thread
worker (`thread=True, exit_on_error=False`); the worker answers with a Message posted to the
screen (or app) that asked: `Answered` with the value, or `CallFailed` with the error. The
asker's handler then runs `then(value)` on the event loop; a failure goes to `failed(error)`
when given, else to `show_error`, the single error presentation (a plain-text notification).
Answers for a screen that has gone, or for a call replaced by a newer `exclusive` one, are dropped.

Endless streams (engine events, resource samples, `logs -f`, a running build) are not calls:
they run on their own daemon threads (`streams.py`, `buildpump.py`) and post Messages too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message
from textual.worker import Worker, get_current_worker

from ..domain import IpynbsrvError

if TYPE_CHECKING:
    from textual import getters
    from textual.dom import DOMNode as _Pump

    from .console import ConsoleApp
else:
    _Pump = object

log = logging.getLogger(__name__)
R = TypeVar("R")


def error_text(exc: BaseException, *, brief: bool = False) -> str:
    """What a person sees for a failed call: the service's own message, or the error's type and text
    (with what to check next unless `brief`, e.g. inside a status line)."""
    if isinstance(exc, IpynbsrvError):
        return str(exc)
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if brief:
        return what
    return (f"Unexpected {what}. Try again; if it keeps failing, check that the "
            "Docker Engine and the directory are reachable (the header shows both).")


ERROR_SECONDS = 10  # how long an error notification stays on screen


class ErrorToasts:
    """Which error notifications are on screen now: the same error from a call repeated every
    second (a reload, a health check, after a change of rights) shows once, not once per call."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._shown: dict[tuple[str, str], float] = {}

    def due(self, title: str, text: str) -> bool:
        """Whether this error is not on screen; if so, it counts as shown from now on."""
        now = self._clock()
        self._shown = {key: until for key, until in self._shown.items() if until > now}
        if (title, text) in self._shown:
            return False
        self._shown[(title, text)] = now + ERROR_SECONDS
        return True


class Answered(Message, bubble=False):
    """A background call returned `value`; `then` runs with it on the event loop."""

    def __init__(self, then: Callable[[Any], Any] | None, value: Any) -> None:
        super().__init__()
        self.then = then
        self.value = value


class CallFailed(Message, bubble=False):
    """A background call raised `error`; `failed` (or the one error presentation) shows it."""

    def __init__(
        self, failed: Callable[[BaseException], Any] | None, error: BaseException, title: str
    ) -> None:
        super().__init__()
        self.failed = failed
        self.error = error
        self.title = title


class Background(_Pump):
    """Mixin for screens and the app: `self.run_call(fn, *args, then=...)` runs `fn` in a thread
    worker and answers with a Message to `self`.

    `exclusive` calls of one `group` replace each other (a list reload): a stale answer is dropped.
    `notify_start` shows a short "doing…" note before the call (actions that take a moment).
    """

    if TYPE_CHECKING:  # textual's own `app`, typed as what it is here (textual's getter, checker only)
        app = getters.app(ConsoleApp)

    def run_call(
        self,
        fn: Callable[..., R],
        *args: Any,
        then: Callable[[R], object] | None = None,
        failed: Callable[[BaseException], object] | None = None,
        title: str = "",
        group: str = "calls",
        exclusive: bool = False,
        notify_start: str = "",
        **kwargs: Any,
    ) -> Worker[None]:
        """Run `fn(*args, **kwargs)` in a thread worker; `then` gets its value (so it takes what `fn`
        returns), `failed` its error (default: the one error presentation)."""
        if notify_start:
            self.app.notify(notify_start, timeout=3, markup=False)
        name = getattr(getattr(fn, "func", fn), "__name__", "call")
        work = partial(self._answer, fn, args, kwargs, then, failed, title)
        return self.run_worker(work, name=name, group=group, exclusive=exclusive,
                               thread=True, exit_on_error=False)

    def _answer(
        self,
        fn: Callable[..., R],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        then: Callable[[R], object] | None,
        failed: Callable[[BaseException], object] | None,
        title: str,
    ) -> None:
        worker = get_current_worker()
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:  # every failure is shown, none may kill the app
            if not isinstance(exc, IpynbsrvError):
                log.warning(
                    "unexpected error in %s", getattr(getattr(fn, "func", fn), "__name__", fn), exc_info=exc
                )
            message: Message = CallFailed(failed, exc, title)
        else:
            message = Answered(then, value)
        if not worker.is_cancelled:
            self.post_message(message)

    def on_answered(self, message: Answered) -> None:
        if message.then is not None:
            message.then(message.value)

    def on_call_failed(self, message: CallFailed) -> None:
        if message.failed is not None:
            message.failed(message.error)
        else:
            self.show_error(message.error, message.title)

    def show_error(self, exc: BaseException, title: str = "") -> None:
        """The one error presentation: a plain-text error notification (never markup), not
        repeated while the same one is still on screen."""
        text, title = error_text(exc), title or "Error"
        toasts: ErrorToasts | None = getattr(self.app, "error_toasts", None)  # type: ignore[attr-defined]
        if toasts is not None and not toasts.due(title, text):
            return
        self.app.notify(text, title=title, severity="error",  # type: ignore[attr-defined]
                        markup=False, timeout=ERROR_SECONDS)
