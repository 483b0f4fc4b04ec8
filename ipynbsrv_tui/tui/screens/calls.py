"""Running session calls off the event loop and showing their errors (DESIGN §9)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from textual import work
from textual.worker import get_current_worker

from ...domain import IpynbsrvError

log = logging.getLogger(__name__)


def error_text(exc: BaseException) -> str:
    """What a person sees for a failed call: the service's message, or the error's type and text."""
    if isinstance(exc, IpynbsrvError):
        return str(exc)
    return (f"Unexpected {type(exc).__name__}: {exc}. Try again; if it keeps failing, check that the "
            "Docker Engine and the directory are reachable (the header shows both).")


class ServiceCalls:
    """Mixin for screens: `self.call(fn, *args, then=callback)` runs a blocking session call in a
    thread worker and hands the result to `then` on the event loop; a failure becomes an error
    notification (plain text) or goes to `failed` when given."""

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        then: Callable[[Any], Any] | None = None,
        failed: Callable[[BaseException], Any] | None = None,
        title: str = "",
        exclusive: bool = False,
        **kwargs: Any,
    ) -> None:
        """`exclusive` calls (loads) replace the previous exclusive one: a stale result is dropped."""
        runner = self._exclusive_call if exclusive else self._call
        runner(fn, args, kwargs, then, failed, title)

    def show_error(self, exc: BaseException, title: str = "") -> None:
        self.app.notify(error_text(exc), title=title or "Error", severity="error", markup=False,  # type: ignore[attr-defined]
                        timeout=10)

    def _run(self, fn, args, kwargs, then, failed, title) -> None:
        app = self.app  # type: ignore[attr-defined]
        worker = get_current_worker()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # every failure is shown, none may kill the app
            if not isinstance(exc, IpynbsrvError):
                log.warning("unexpected error in %s", getattr(getattr(fn, "func", fn), "__name__", fn), exc_info=exc)
            handler = failed or (lambda error: self.show_error(error, title))
            _deliver(app, worker, handler, exc)
            return
        if then is not None:
            _deliver(app, worker, then, result)

    @work(thread=True, exit_on_error=False, group="calls")
    def _call(self, fn, args, kwargs, then, failed, title) -> None:
        self._run(fn, args, kwargs, then, failed, title)

    @work(thread=True, exit_on_error=False, exclusive=True, group="load")
    def _exclusive_call(self, fn, args, kwargs, then, failed, title) -> None:
        self._run(fn, args, kwargs, then, failed, title)


def _deliver(app, worker, callback: Callable[[Any], Any], value: Any) -> None:
    """Run `callback(value)` on the event loop, unless the worker was cancelled (its screen went
    away, or a newer load replaced it) or the app is shutting down."""
    if worker.is_cancelled:
        return
    try:
        app.call_from_thread(callback, value)
    except RuntimeError:
        return
