"""The shape shared by the engine's endless streams (events, log follows, builds) and what ends them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Self

import docker.errors
import requests.exceptions
import urllib3.exceptions

# What reading one of the engine's streaming responses raises when the connection ends or breaks
# (a closed file reads as ValueError, a cut-off chunked body as an HTTP error).
STREAM_ERRORS: tuple[type[Exception], ...] = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
    ValueError,
)


class ClosableStream:
    """An iterator that another thread can end with `close()`; as a context manager it closes.

    Subclasses set `_iterator` (a generator that watches `_closed`) and define `close()`.
    """

    _iterator: Iterator[Any]

    def __init__(self) -> None:
        self._closed = threading.Event()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """End the iteration (subclasses also release their connection)."""
        self._closed.set()
