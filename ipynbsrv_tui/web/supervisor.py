"""nginx as the broker's child process: started, reloaded, restarted when it dies, stopped.

nginx runs in the foreground (`daemon off`) in its own process group, with its stderr read
into the broker's log. When the master dies, its workers (which would keep the port) are
killed with the group and a new nginx is started, with a growing pause if it keeps dying.
If the broker itself is killed, the kernel sends nginx SIGTERM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("ipynbsrv.web")

PR_SET_PDEATHSIG = 1
STOP_SECONDS = 5.0
MAX_BACKOFF = 30.0
ASKED_TO_STOP_PAUSE = 2.0  # longer than the broker takes to notice its own SIGTERM (1 s)


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class NginxSupervisor:
    """Runs `nginx -c <conf>` and keeps it running until `stop()`."""

    def __init__(self, binary: str, conf: Path, prefix: Path, on_restart: Callable[[int], None] | None = None,
                 stale: tuple[Path, ...] = ()) -> None:
        self.binary = binary
        self.stale = (
            stale  # Unix sockets nginx listens on: a killed nginx leaves them, and binding one again fails
        )
        self.conf = conf
        self.prefix = prefix
        self.on_restart = on_restart
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def check(self) -> str | None:
        """`nginx -t` on the current configuration: None when it is valid, else nginx's complaint."""
        result = subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return None
        return (
            " ".join(line for line in result.stderr.splitlines() if "emerg" in line or "crit" in line)
            or result.stderr.strip()
        )

    def start(self) -> None:
        """Start nginx and the thread that restarts it; raises OSError when the binary cannot run."""
        with self._lock:
            self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="web-nginx", daemon=True)
        self._monitor.start()

    def reload(self) -> None:
        """Make nginx read its configuration again (SIGHUP: old connections finish, new ones use it)."""
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGHUP)

    def stop(self) -> None:
        """Graceful stop (SIGQUIT), then SIGTERM and SIGKILL of the whole group if it lingers."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:
            _stop_group(process)
        if self._monitor is not None:
            self._monitor.join(timeout=STOP_SECONDS)

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.prefix}/", "-e", "stderr", "-c", str(self.conf), *extra]

    def _spawn(self) -> None:
        for path in self.stale:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        process = subprocess.Popen(
            self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_die_with_parent, close_fds=True,
        )
        self._process = process
        threading.Thread(target=_forward_stderr, args=(process,), name="web-nginx-log", daemon=True).start()
        log.info("web: nginx started (pid %d) with %s", process.pid, self.conf)

    def _watch(self) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            _kill_group(process.pid)  # workers left behind would keep the port
            # Stopped from outside (systemd stopping the whole unit, say): the broker is most likely
            # stopping too; give it a moment to say so before starting nginx again.
            if code in (0, -signal.SIGTERM, -signal.SIGQUIT) and self._stopping.wait(ASKED_TO_STOP_PAUSE):
                return
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            log.error("web: nginx (pid %d) %s; restarting it in %.1f s", process.pid, how, delay)
            if self._stopping.wait(delay):
                return
            started = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._spawn()
                except OSError as exc:
                    log.error("web: cannot start nginx again: %s", exc)
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
            self.restarts += 1
            process = self._process
            assert process is not None  # _spawn() set it
            new_pid = process.pid
            log.warning("web: nginx is back (pid %d, restart %d)", new_pid, self.restarts)
            if self.on_restart is not None:
                self.on_restart(new_pid)
            # A quick death again means a lasting problem: wait longer each time.
            if process.poll() is not None or time.monotonic() - started < 1.0:
                delay = min(delay * 2, MAX_BACKOFF)
            else:
                delay = 0.2


def _forward_stderr(process: subprocess.Popen[bytes]) -> None:
    assert process.stderr is not None
    for raw in process.stderr:
        line = raw.decode("utf-8", errors="replace").rstrip()
        if line:
            level = (
                logging.ERROR
                if "[emerg]" in line or "[crit]" in line or "[alert]" in line
                else logging.WARNING
            )
            log.log(level, "web: nginx: %s", line)
    process.stderr.close()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGQUIT, STOP_SECONDS - 2), (signal.SIGTERM, 1.5)):
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    _kill_group(process.pid)
    try:
        process.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        log.error("web: nginx (pid %d) did not stop", process.pid)
