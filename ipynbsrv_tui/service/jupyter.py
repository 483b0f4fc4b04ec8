"""Asking a notebook's own Jupyter whether it answers and when it was last used (DESIGN §5, §10).

`GET {BASE_URL}api/status` answers once Jupyter serves (readiness) and carries its
`last_activity`. That time does not move while a kernel runs a long silent computation, so
`GET {BASE_URL}api/kernels` is read too: a busy kernel counts as activity now. Both requests pass
`no_track_activity`, so asking never counts as use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HTTP_TIMEOUT = 2.0
BODY_LIMIT = 1 << 20


@dataclass(frozen=True, slots=True)
class JupyterActivity:
    """What a notebook said: its last activity (None if it gave none) and whether a kernel is busy."""

    last_activity: datetime | None
    busy: bool = False


def parse_activity(value: Any) -> datetime | None:
    """Jupyter's `last_activity` (ISO 8601, usually with `Z`) as an aware UTC datetime; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ask(host: str, port: int, base: str, token: str, *, kernels: bool = True,
        timeout: float = HTTP_TIMEOUT) -> JupyterActivity | None:
    """The notebook's activity, or None when it does not answer `api/status` with 200 (yet)."""
    status = _get_json(host, port, f"{base}api/status?no_track_activity=1", token, timeout)
    if not isinstance(status, dict):
        return None
    last = parse_activity(status.get("last_activity"))
    busy = False
    if kernels:
        listing = _get_json(host, port, f"{base}api/kernels?no_track_activity=1", token, timeout)
        if isinstance(listing, list):
            for kernel in listing:
                if not isinstance(kernel, dict):
                    continue
                if kernel.get("execution_state") == "busy":
                    busy = True
                moment = parse_activity(kernel.get("last_activity"))
                if moment is not None and (last is None or moment > last):
                    last = moment
    return JupyterActivity(last, busy)


def _get_json(host: str, port: int, path: str, token: str, timeout: float) -> Any:
    import http.client  # here: the first screen does not wait for it (DESIGN §12)

    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Authorization": f"token {token}"})
        response = connection.getresponse()
        body = response.read(BODY_LIMIT)
        if response.status != 200:
            return None
        return json.loads(body)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
