"""The broker's own work while it runs: engine events into the store, periodic reconcile, idle culling."""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..config import Config
from ..domain import Actor, IpynbsrvError
from ..store.models import database_proxy
from .culling import IdleCuller
from .fanout import ChangeHub

log = logging.getLogger("ipynbsrv.broker")

MAX_BACKOFF = 30.0


class BackgroundLoops:
    """Three daemon threads that end when `stop_event` is set (and `stop()` is called).

    - events: `service.watch_containers` as the broker's admin actor, which records every engine
      event in the store and publishes the changes to the clients' live views (`hub`);
      reconnects with a growing pause and resumes from the last seen event.
    - reconcile: `service.reconcile` at start and every `[broker] reconcile_interval` seconds.
    - culling: when `[notebooks] idle_timeout` > 0, stops notebooks idle for longer (see IdleCuller).
    """

    def __init__(self, service: Any, config: Config, actor: Actor, stop_event: threading.Event) -> None:
        self.service = service
        self.config = config
        self.actor = actor
        self.stop_event = stop_event
        self.culler = IdleCuller(service, config, actor) if config.notebooks.idle_timeout > 0 else None
        self.hub = ChangeHub()
        self._watch: Any = None
        self._watch_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        targets = [("broker-events", self._events_loop)]
        if self.config.broker.reconcile_interval > 0:
            targets.append(("broker-reconcile", self._reconcile_loop))
        if self.culler is not None:
            targets.append(("broker-culling", self._culling_loop))
        for name, target in targets:
            thread = threading.Thread(target=self._guarded, args=(target,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        with self._watch_lock:
            watch = self._watch
        if watch is not None:
            try:
                watch.close()
            except Exception:
                log.debug("closing the event watch failed", exc_info=True)
        for thread in self._threads:
            thread.join(timeout=3.0)
        if self.culler is not None:
            self.culler.close()
        self.hub.close_all()

    def _guarded(self, target) -> None:
        try:
            target()
        finally:
            close_thread_database()

    # ------------------------------------------------------------------ loops

    def _events_loop(self) -> None:
        delay = 1.0
        while not self.stop_event.is_set():
            try:
                watch = self.service.watch_containers(self.actor)
                with self._watch_lock:
                    self._watch = watch
                if self.stop_event.is_set():
                    watch.close()
                    return
                self.hub.connected(self.service.list_containers(self.actor))
                delay = 1.0
                for change in watch:
                    if self.stop_event.is_set():
                        break
                    self.hub.publish(change)
            except IpynbsrvError as exc:
                log.warning("engine events: %s (retrying in %.0f s)", exc, delay)
                self.service.forget_engine()
            except Exception:
                log.exception("engine events failed (retrying in %.0f s)", delay)
            finally:
                self.hub.disconnected()
                with self._watch_lock:
                    watch, self._watch = self._watch, None
                if watch is not None:
                    _close_quietly(watch)
            if self.stop_event.wait(delay):
                return
            delay = min(delay * 2, MAX_BACKOFF)

    def _reconcile_loop(self) -> None:
        interval = self.config.broker.reconcile_interval
        while not self.stop_event.is_set():
            try:
                report = self.service.reconcile(self.actor)
                for line in report.repaired:
                    log.info("reconcile repaired %s", line)
                for line in report.flagged:
                    log.warning("reconcile flagged %s", line)
            except IpynbsrvError as exc:
                log.warning("reconcile: %s", exc)
            except Exception:
                log.exception("reconcile failed")
            if self.stop_event.wait(interval):
                return

    def _culling_loop(self) -> None:
        assert self.culler is not None
        while not self.stop_event.wait(self.culler.poll_seconds):
            try:
                self.culler.poll_once()
            except IpynbsrvError as exc:
                log.warning("idle culling: %s", exc)
            except Exception:
                log.exception("idle culling failed")


def _close_quietly(watch: Any) -> None:
    try:
        watch.close()
    except Exception:
        log.debug("closing the event watch failed", exc_info=True)


def close_thread_database() -> None:
    """Close this thread's SQLite connection (peewee keeps one per thread) before the thread ends."""
    try:
        if database_proxy.obj is not None and not database_proxy.is_closed():
            database_proxy.close()
    except Exception:
        log.debug("closing a thread's database connection failed", exc_info=True)
