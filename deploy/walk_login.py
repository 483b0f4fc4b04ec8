"""A user's first login over a real `ssh -tt` (README §8), driven through a pseudo-terminal.

    python3 walk_login.py USER PASSWORD SSH_PORT OWN_NOTEBOOK OTHERS_NOTEBOOK [ROUNDS]
    python3 walk_login.py retry USER PASSWORD SSH_PORT OWN_NOTEBOOK BROKER_COMMAND...

Logs in with sshpass + `ssh -tt` to 127.0.0.1:SSH_PORT, where the sshd snippet's ForceCommand
starts ipynbsrv-tui. Checks that the UI comes up in client mode showing OWN_NOTEBOOK and not
OTHERS_NOTEBOOK, then kills the ssh client (SIGKILL, as a dropped laptop would) and measures how
long the user's ipynbsrv-tui lives on (DESIGN §9 and §12: within 1 s). Repeats ROUNDS times
(default 3) and prints each figure; exits 1 when a check fails or a figure is over budget.
The `retry` form logs in while the broker is down, expects "the notebook service is not running;
it is retried every few seconds", starts the broker and expects the UI to come up by itself.
Needs only the standard library (it runs with the host's python3).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

ANSI = re.compile(
    r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>NOPMc78]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)"
)
BUDGET = 1.0


def user_processes(user: str) -> list[int]:
    """The user's live ipynbsrv-tui processes (an exited one waiting to be reaped does not count)."""
    result = subprocess.run(["ps", "-u", user, "-o", "pid=,stat=,args="], capture_output=True, text=True)
    pids = []
    for line in result.stdout.splitlines():
        pid, stat, args = line.split(None, 2)
        if "ipynbsrv-tui" in args and not stat.startswith("Z"):
            pids.append(int(pid))
    return pids


def login(user: str, password: str, port: str) -> tuple[int, int]:
    """(pid, pty master fd) of `sshpass … ssh -tt user@127.0.0.1` on a 120x36 terminal."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execvp("sshpass", [
            "sshpass", "-p", password, "ssh", "-tt", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-p", port, f"{user}@127.0.0.1",
        ])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    return pid, fd


def read_until(fd: int, words: list[str], timeout: float) -> str:
    """The screen text (escapes removed) once every word was seen; AssertionError after `timeout`."""
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += ANSI.sub("", chunk.decode("utf-8", "replace"))
            if all(word in seen for word in words):
                return seen
    raise AssertionError(f"the UI never showed {words}; last screen text: {seen[-600:]!r}")


def ssh_client_of(sshpass_pid: int) -> int:
    """The `ssh` process sshpass started (sshpass itself only relays the password)."""
    for _ in range(50):
        command = ["pgrep", "-P", str(sshpass_pid), "-x", "ssh"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.stdout.split():
            return int(result.stdout.split()[0])
        time.sleep(0.05)
    return sshpass_pid


def one_round(user: str, password: str, port: str, own: str, other: str) -> float:
    before = set(user_processes(user))
    pid, fd = login(user, password, port)
    screen = read_until(fd, ["My notebooks", own, "client"], timeout=30)
    if other in screen:
        raise AssertionError(f"{user}'s screen shows {other!r}, another user's notebook")
    ui = set(user_processes(user)) - before
    if not ui:
        raise AssertionError(f"no ipynbsrv-tui process of {user} while the UI is on screen")
    time.sleep(0.5)  # let the UI settle into its idle loop, as a real session would be
    client = ssh_client_of(pid)
    killed = time.monotonic()
    os.kill(client, signal.SIGKILL)
    while set(user_processes(user)) & ui:
        if time.monotonic() - killed > 10:
            ps = ["ps", "-eo", "pid,ppid,user,stat,args"]
            table = subprocess.run(ps, capture_output=True, text=True).stdout
            raise AssertionError(
                f"{user}'s ipynbsrv-tui still runs 10 s after the ssh client {client} was killed:\n{table}"
            )
        time.sleep(0.01)
    gone = time.monotonic() - killed
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    return gone


def wait_for_service(user: str, password: str, port: str, own: str, broker: list[str]) -> float:
    """Log in while the broker is down: told so, and the UI comes up by itself once it is started."""
    pid, fd = login(user, password, port)
    read_until(fd, ["notebook service is not running", "retried every few seconds"], timeout=30)
    with open("/var/log/ipynbsrv-broker.log", "ab") as log:
        subprocess.Popen(broker, stdout=log, stderr=log, start_new_session=True)
    started = time.monotonic()
    read_until(fd, ["My notebooks", own, "client"], timeout=30)
    waited = time.monotonic() - started
    os.kill(ssh_client_of(pid), signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    return waited


def main() -> int:
    if sys.argv[1] == "retry":  # retry USER PASSWORD PORT OWN_NOTEBOOK BROKER_COMMAND...
        user, password, port, own = sys.argv[2:6]
        waited = wait_for_service(user, password, port, own, sys.argv[6:])
        print(f"    login with the broker down: told so; UI up {waited:.1f} s after the broker was started")
        return 0
    user, password, port, own, other = sys.argv[1:6]
    rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    figures = [one_round(user, password, port, own, other) for _ in range(rounds)]
    text = ", ".join(f"{figure:.2f}" for figure in figures)
    print(f"    ssh -tt login: UI up with {own!r} only; ssh client killed -> ipynbsrv-tui gone in {text} s")
    print(f"ssh client killed -> ipynbsrv-tui gone (max of {rounds}), {max(figures):.2f} s, {BUDGET:.1f} s")
    return 0 if max(figures) <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
