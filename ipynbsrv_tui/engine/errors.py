"""The one place where docker / requests exceptions become domain errors.

Every message says what happened and what to do next; none of them is a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors
import requests.exceptions
import urllib3.exceptions

from ..domain import (
    Conflict,
    EngineError,
    EngineUnavailable,
    ImageMissing,
    IpynbsrvError,
    NameInUse,
    NotFound,
    PortInUse,
)

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_NO_SUCH_IMAGE = re.compile(r"no such image: (\S+?):?(?=\s|$)", re.IGNORECASE)
_PORT = re.compile(r":(\d+)(?: failed)?: (?:port is already allocated|bind: address already in use)")


def engine_url(url: str = "") -> str:
    """The engine address that `url` (or, when empty, the environment) designates."""
    return url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def image_missing(ref: str) -> ImageMissing:
    """The error for an image that is not on the engine (there is no registry to pull it from)."""
    return ImageMissing(
        f"Image {ref} is not present on the Docker Engine, and no registry is used to pull it. "
        "Build or register it first (a Debian base comes from `ipynbsrv-tui images bootstrap-base`)."
    )


def unavailable(url: str, exc: BaseException | None = None) -> EngineUnavailable:
    """The error for an engine that cannot be reached at `url`."""
    os_error = _os_error(exc)
    if isinstance(os_error, PermissionError):
        return EngineUnavailable(
            f"Cannot use the Docker Engine at {url}: permission denied on its socket. "
            "Ask an admin to give your account access (the 'docker' group), or use the ipynbsrv broker."
        )
    if isinstance(os_error, FileNotFoundError):
        reason = "there is no socket at that path"
    elif isinstance(os_error, ConnectionRefusedError):
        reason = "nothing is listening there"
    elif os_error is not None and os_error.strerror:
        reason = os_error.strerror.lower()
    elif exc is not None:
        reason = _one_line(str(exc)) or type(exc).__name__
    else:
        reason = "it does not answer"
    return EngineUnavailable(
        f"Cannot reach the Docker Engine at {url}: {reason}. Start dockerd, or point DOCKER_HOST (or `url` "
        "in the [docker] section of config.toml) at a running engine."
    )


def translate(exc: BaseException, action: str, subject: str = "", url: str = "") -> IpynbsrvError:
    """The domain error for an exception raised while trying to `action` `subject`."""
    if isinstance(exc, IpynbsrvError):
        return exc
    doing = f"{action} {subject}".strip()
    if isinstance(exc, docker.errors.ImageNotFound):
        return image_missing(_missing_ref(_one_line(exc.explanation or str(exc)), subject))
    if isinstance(exc, docker.errors.APIError):
        return _api_error(exc, doing, subject)
    if isinstance(exc, requests.exceptions.ConnectTimeout | urllib3.exceptions.ConnectTimeoutError):
        return unavailable(engine_url(url), exc)
    if isinstance(exc, requests.exceptions.Timeout):
        return EngineError(
            f"The Docker Engine did not answer in time while trying to {doing}. "
            "It may be busy; try again, or raise `timeout` in the [docker] section of config.toml."
        )
    if isinstance(exc, requests.exceptions.ConnectionError | urllib3.exceptions.HTTPError | ConnectionError):
        return unavailable(engine_url(url), exc)
    if isinstance(exc, docker.errors.DockerException) and "server API version" in str(exc):
        return unavailable(engine_url(url), exc)
    return EngineError(f"The Docker Engine could not {doing}: {_one_line(str(exc)) or type(exc).__name__}.")


@contextmanager
def engine_call(action: str, subject: str = "", url: str = "") -> Iterator[None]:
    """Run the body, turning any docker / requests exception into the matching domain error."""
    try:
        yield
    except (
        docker.errors.DockerException,
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        OSError,
    ) as exc:
        raise translate(exc, action, subject, url) from exc


def _api_error(exc: docker.errors.APIError, doing: str, subject: str) -> IpynbsrvError:
    explanation = _one_line(exc.explanation or str(exc))
    lowered = explanation.lower()
    status = exc.status_code
    if "port is already allocated" in lowered or "address already in use" in lowered:
        found = _PORT.search(explanation)
        port = f"host port {found.group(1)}" if found else "a host port it needs"
        return PortInUse(
            f"Cannot {doing}: {port} is already in use. Free that port, or give the container another one."
        )
    if status == 404:
        if "no such image" in lowered:
            return image_missing(_missing_ref(explanation, subject))
        return NotFound(
            f"Cannot {doing}: it does not exist on the Docker Engine ({explanation}). It may have been "
            "removed; refresh and try again."
        )
    if status == 409:
        if "is already in use by container" in lowered:
            return NameInUse(
                f"Cannot {doing}: the name is already taken by another container on the Docker Engine. "
                "Choose another name, or remove the old container."
            )
        return Conflict(f"Cannot {doing}: {explanation}.")
    return EngineError(f"The Docker Engine could not {doing}: {explanation}.")


def _missing_ref(explanation: str, subject: str) -> str:
    found = _NO_SUCH_IMAGE.search(explanation)
    return found.group(1) if found else subject or "?"


def _os_error(exc: BaseException | None) -> OSError | None:
    """The innermost OSError behind a wrapped connection error, if any."""
    seen: set[int] = set()
    stack = [exc]
    found: OSError | None = None
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            found = current
        stack.extend([current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        stack.append(
            getattr(current, "reason", None)
            if isinstance(getattr(current, "reason", None), BaseException)
            else None
        )
    return found


def _one_line(text: str) -> str:
    return " ".join(str(text).split()).rstrip(".")
