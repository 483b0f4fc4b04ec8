"""The broker's own work while it runs: engine events into the store, periodic reconcile, and the
timers of readiness and idle culling (their use cases live in service/)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..backup.restic import stop_all as stop_restic
from ..config import Config
from ..domain import Actor, IpynbsrvError
from ..service.system import SystemCalls
from ..store.db import close_thread_database
from .fanout import ChangeHub

log = logging.getLogger("ipynbsrv.broker")

MAX_BACKOFF = 30.0
READINESS_SECONDS = 1.0
BACKUP_CHECK_SECONDS = 60.0


def culling_interval(idle_timeout: int, suspended_stop_after: int) -> float:
    """How often idle culling runs: a third of the shortest threshold, between 1 s and 60 s."""
    thresholds = [t for t in (idle_timeout, suspended_stop_after) if t > 0]
    return max(1.0, min(60.0, min(thresholds) / 3)) if thresholds else 0.0


class BackgroundLoops:
    """Daemon threads that end when `stop_event` is set (and `stop()` is called).

    - events: `service.watch_containers` as the broker's admin actor, which records every engine
      event in the store and publishes the changes to the clients' live views (`hub`);
      reconnects with a growing pause and resumes from the last seen event.
    - reconcile: `service.reconcile` at start and every `[broker] reconcile_interval` seconds.
    - readiness: every second, `service.probe_starting` asks the notebooks still `starting`
      whether they answer (starts made by this broker are also watched by their own thread).
    - culling: when `[notebooks] idle_timeout` or `suspended_stop_after` > 0, `service.cull_idle`
      on a timer (a third of the shorter threshold), told who is present (`presence`: the broker
      sets it to the users with a TUI open and the web's recent visitors).
    - sync: with an LDAP directory, mirrors it into the store every `[directory] sync_interval` seconds.
    - backup: with `[backup] enabled`, every minute: `service.backup_watch` (late backups tell
      admins), and `service.backup_run` when the schedule says so. restic runs as a child of this
      thread, at low priority, so requests are answered meanwhile (DESIGN §17).
    """

    def __init__(
        self, service: SystemCalls, config: Config, actor: Actor, stop_event: threading.Event
    ) -> None:
        self.service = service
        self.config = config
        self.actor = actor
        self.stop_event = stop_event
        self.culling_seconds = culling_interval(
            config.notebooks.idle_timeout, config.notebooks.suspended_stop_after
        )
        self.hub = ChangeHub()
        self.presence: Callable[[], Mapping[str, datetime]] = dict
        service.add_change_listener(self.hub.publish)
        self._watch: Any = None
        self._watch_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        targets = [("broker-events", self._events_loop), ("broker-readiness", self._readiness_loop)]
        if self.config.broker.reconcile_interval > 0:
            targets.append(("broker-reconcile", self._reconcile_loop))
        if self.culling_seconds > 0:
            targets.append(("broker-culling", self._culling_loop))
        if self.config.directory.backend != "local" and self.config.directory.sync_interval > 0:
            targets.append(("broker-sync", self._sync_loop))
        if self.config.backup.enabled:
            targets.append(("broker-backup", self._backup_loop))
        for name, target in targets:
            thread = threading.Thread(target=self._guarded, args=(target,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        stop_restic()
        with self._watch_lock:
            watch = self._watch
        if watch is not None:
            try:
                watch.close()
            except Exception:
                log.debug("closing the event watch failed", exc_info=True)
        for thread in self._threads:
            thread.join(timeout=3.0)
        self.hub.close_all()

    def _guarded(self, target: Callable[[], object]) -> None:
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

    def _sync_loop(self) -> None:
        """Changes made in LDAP by other tools reach the store within `[directory] sync_interval` (DESIGN
        §7)."""
        interval = self.config.directory.sync_interval
        while not self.stop_event.is_set():
            try:
                self.service.sync_if_due(interval)
            except IpynbsrvError as exc:
                log.warning("directory sync: %s", exc)
            except Exception:
                log.exception("directory sync failed")
            if self.stop_event.wait(min(interval, 60)):
                return

    def _backup_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.service.backup_watch(self.actor)
                if self.service.backup_due():
                    report = self.service.backup_run(self.actor)
                    log.info(
                        "backup %s: %d new, %d changed files in %.1f s",
                        report.snapshot,
                        report.files_new,
                        report.files_changed,
                        report.seconds,
                    )
            except IpynbsrvError as exc:  # recorded for the header and sent to admins by the service
                log.warning("backup: %s", exc)
            except Exception:
                log.exception("backup failed")
            if self.stop_event.wait(BACKUP_CHECK_SECONDS):
                return

    def _culling_loop(self) -> None:
        while not self.stop_event.wait(self.culling_seconds):
            try:
                report = self.service.cull_idle(self.actor, present=self.presence())
                for line in report.suspended:
                    log.info("suspended %s", line)
                for line in report.stopped:
                    log.info("stopped %s", line)
            except IpynbsrvError as exc:
                log.warning("idle culling: %s", exc)
            except Exception:
                log.exception("idle culling failed")

    def _readiness_loop(self) -> None:
        while not self.stop_event.wait(READINESS_SECONDS):
            try:
                self.service.probe_starting(self.actor)
            except IpynbsrvError as exc:
                log.warning("readiness: %s", exc)
            except Exception:
                log.exception("readiness probing failed")


def _close_quietly(watch: Any) -> None:
    try:
        watch.close()
    except Exception:
        log.debug("closing the event watch failed", exc_info=True)
