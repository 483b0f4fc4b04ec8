"""Service calls started before textual loads (DESIGN §12): their answers are ready, or nearly, when
the first screen is drawn. No textual import here: this module runs before textual is loaded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

T = TypeVar("T")


class EarlyCall(Generic[T]):
    """Runs one call in a background thread and keeps its outcome (`result` or `error`)."""

    def __init__(self, call: Callable[[], T], name: str) -> None:
        self._call = call
        self._name = name
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._listener: Callable[[Any], None] | None = None
        self.result: T | None = None
        self.error: Exception | None = None

    def start(self) -> Self:
        threading.Thread(target=self._run, name=self._name, daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._call()
        except Exception as exc:  # the caller decides what a failure means; the app works without it
            self.error = exc
        with self._lock:
            self._done.set()
            listener = self._listener
        if listener is not None:
            listener(self)

    def on_done(self, listener: Callable[[Self], None]) -> None:
        """Call `listener` (from the call's thread, or at once when already done) with this object."""
        with self._lock:
            if not self._done.is_set():
                self._listener = listener
                return
        listener(self)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()
