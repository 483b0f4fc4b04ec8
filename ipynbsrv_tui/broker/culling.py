"""Idle culling: stop notebooks whose Jupyter reports no activity for longer than `[notebooks] idle_timeout`."""

from __future__ import annotations

import http.client
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..config import Config
from ..domain import Actor, ContainerState, ContainerView, IpynbsrvError
from ..store.models import Container

log = logging.getLogger("ipynbsrv.broker")

HTTP_TIMEOUT = 2.0
WORKERS = 4


def parse_activity(value: Any) -> datetime | None:
    """Jupyter's `last_activity` (ISO 8601, usually with `Z`) as an aware UTC datetime; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class IdleCuller:
    """Polls each running notebook's `GET {base_url}api/status` on its host port and stops the idle ones.

    The last activity Jupyter reports is recorded in the store (Container.last_activity). A
    notebook that does not answer (still starting, or not a Jupyter) is left alone. Stopping goes
    through `service.stop_container`, i.e. gracefully, SIGTERM first.
    """

    def __init__(self, service: Any, config: Config, actor: Actor) -> None:
        self.service = service
        self.actor = actor
        self.idle_timeout = config.notebooks.idle_timeout
        self.poll_seconds = max(1.0, min(60.0, self.idle_timeout / 3))
        address = config.notebooks.bind_address
        self.host = "127.0.0.1" if address in ("", "0.0.0.0", "::") else address
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="broker-culling-http")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def poll_once(self, now: datetime | None = None) -> list[int]:
        """One round over the running notebooks; returns the ids of those it stopped."""
        now = now or datetime.now(UTC)
        running = [v for v in self.service.list_containers(self.actor) if v.state == ContainerState.RUNNING]
        activities = list(self._pool.map(self.last_activity, running))
        culled: list[int] = []
        for view, last in zip(running, activities, strict=True):
            if last is None:
                continue
            self._record(view, last)
            idle = now - last
            if idle <= timedelta(seconds=self.idle_timeout):
                continue
            target = f"{view.owner}/{view.name}"
            try:
                self.service.stop_container(self.actor, view.id)
            except IpynbsrvError as exc:
                log.warning("idle culling could not stop %s: %s", target, exc)
                continue
            self.service.audit(self.actor, "container.cull", target,
                               detail=f"idle for {int(idle.total_seconds())} s (since {last.isoformat()})")
            log.info("stopped %s: idle for %d s", target, idle.total_seconds())
            culled.append(view.id)
        return culled

    def last_activity(self, view: ContainerView) -> datetime | None:
        """What the notebook's Jupyter says its last activity was; None when it does not answer."""
        if not view.url or not view.token:
            return None
        base = urlsplit(view.url).path or "/"
        if not base.endswith("/"):
            base += "/"
        connection = http.client.HTTPConnection(self.host, view.host_port, timeout=HTTP_TIMEOUT)
        try:
            connection.request("GET", f"{base}api/status", headers={"Authorization": f"token {view.token}"})
            response = connection.getresponse()
            body = response.read(65536)
            if response.status != 200:
                return None
            return parse_activity(json.loads(body).get("last_activity"))
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            return None
        finally:
            connection.close()

    def _record(self, view: ContainerView, last: datetime) -> None:
        stored = last.astimezone(UTC).replace(tzinfo=None)
        if view.last_activity == stored:
            return
        Container.update(last_activity=stored).where(Container.id == view.id).execute()
