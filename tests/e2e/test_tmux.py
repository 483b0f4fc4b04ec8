"""End to end through a real terminal: the installed `ipynbsrv-tui` under tmux, against the engine.

tmux gives the app a real PTY, TERM and control keys; a private server socket (`tmux -L`) and
`-f /dev/null` keep the user's tmux out of it. The tests poll `capture-pane`, never sleep for a
fixed time, and check the DESIGN §9 promise: when the terminal goes away (SIGHUP, or EOF/EIO
without a signal) the process is gone within 1 s and has not spun on the dead terminal.
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.notebook_service import free_port_range

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(sys.executable).with_name("ipynbsrv-tui")
EXIT_BUDGET = 1.0  # DESIGN §9 and §12: connection dropped -> process gone
CPU_BUDGET = 0.5  # seconds of CPU from hang-up to exit; a spinning loop burns ~1 s per second


def _toml_list(values) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


@pytest.fixture
def config_file(tmp_path, docker_client) -> Path:
    """A config whose store, data and broker socket live in tmp_path; the engine is DOCKER_HOST."""
    if not PROGRAM.exists():
        pytest.fail(f"{PROGRAM} is missing: install the package (pip install -e .) first", pytrace=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[database]
path = "{tmp_path / 'state' / 'ipynbsrv.db'}"
[docker]
url = "{os.environ.get('DOCKER_HOST', '')}"
[data]
root = "{tmp_path / 'data'}"
[notebooks]
port_range = {_toml_list(free_port_range())}
stop_timeout = 2
[build]
dockerfiles = "{ROOT / 'dockerfiles'}"
[broker]
socket = "{tmp_path / 'no-broker.sock'}"
"""
    )
    return path


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "SSH_"))}
    env.update(TERM="xterm-256color", TEXTUAL_ANIMATIONS="none", IPYNBSRV_THEME="textual-dark")
    return env


class Tmux:
    """A private tmux server with one session running a command."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed (apt-get install tmux)")
        self.socket = f"ipynbsrv-e2e-{uuid.uuid4().hex[:8]}"
        self.session = "e2e"

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, timeout=20)
        if check and done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, command: list[str], width: int = 100, height: int = 30) -> int:
        env_args = [f"{k}={v}" for k, v in _environment().items()]
        self.run("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                 "env", "-i", *env_args, *command)
        return int(self.run("display-message", "-p", "-t", self.session, "#{pane_pid}").strip())

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session, check=False)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.session, "-l", text)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} did not appear within {timeout:.0f} s; the screen was:\n{screen}"
                )
            time.sleep(0.1)

    def wait_for_line(self, *parts: str, timeout: float = 30.0) -> str:
        """The first screen line that contains every one of `parts`."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            for line in screen.splitlines():
                if all(part in line for part in parts):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no line with {parts} within {timeout:.0f} s; the screen was:\n{screen}"
                )
            time.sleep(0.1)

    def wait_until_gone(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text not in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} still shown after {timeout:.0f} s; the screen was:\n{screen}")
            time.sleep(0.1)

    def settle(self) -> None:
        """Let a focus change land before typing on: Textual routes keys that arrive while a Tab is
        still bubbling to the field that had the focus (the screen shows no sign to poll for)."""
        time.sleep(0.6)

    def kill_server(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def tmux():
    server = Tmux()
    yield server
    server.kill_server()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process, or None when it is gone (or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] == "Z":
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_gone(pid: int, budget: float) -> tuple[float, float]:
    """Seconds until `pid` exited and the CPU it used meanwhile; fails if it outlives 3× the budget."""
    started = time.monotonic()
    cpu_at_start = cpu_seconds(pid) or 0.0
    last_cpu = cpu_at_start
    while (cpu := cpu_seconds(pid)) is not None:
        last_cpu = cpu
        if time.monotonic() - started > 3 * budget:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"pid {pid} still alive {3 * budget:.0f} s after the hang-up "
                                 f"(used {cpu - cpu_at_start:.2f} s CPU meanwhile)")
        time.sleep(0.02)
    return time.monotonic() - started, last_cpu - cpu_at_start


def register_user(config_file: Path, username: str) -> None:
    password = config_file.parent / f"{username}.password"
    password.write_text(f"{username}-password\n")
    subprocess.run([str(PROGRAM), "--config", str(config_file), "users", "create", username,
                    "--password-file", str(password)], check=True, capture_output=True, timeout=60,
                   env=_environment())


def remove_containers(docker_client, owner: str) -> None:
    for container in docker_client.containers.list(all=True, filters={"label": f"ipynbsrv.owner={owner}"}):
        container.remove(force=True)


def test_register_create_run_then_hangup(tmux, config_file, docker_client, tiny_image):
    owner = f"e2e{uuid.uuid4().hex[:6]}"
    register_user(config_file, owner)
    pid = tmux.start([str(PROGRAM), "--config", str(config_file)])
    try:
        tmux.wait_for("engine ✓")
        tmux.wait_for("Containers │")

        # Register the image by keyboard on the Images screen.
        tmux.keys("2")
        tmux.wait_for("Images │")
        tmux.keys("n")
        tmux.wait_for("Register an image")
        tmux.wait_for("on the engine: ")  # the engine's images are loaded: the form has the focus
        tmux.type("e2e-tiny")
        tmux.wait_for("e2e-tiny")
        tmux.keys("Tab")
        tmux.settle()
        tmux.type(tiny_image)
        tmux.wait_for("tiny test image [/bin/sh -c]")  # pre-filled from the image's labels, as plain text
        tmux.keys("Enter")
        tmux.wait_until_gone("Register an image")
        tmux.wait_for_line("e2e-tiny", tiny_image)

        # Create a notebook for the user on the Containers screen and see it come up.
        tmux.keys("1")
        tmux.wait_for("Containers │")
        tmux.keys("n")
        tmux.wait_for("New notebook")
        tmux.settle()
        tmux.type("e2e-nb")
        tmux.wait_for("e2e-nb")
        for _ in range(5):  # name → image → description → memory → CPUs → owner
            tmux.keys("Tab")
            tmux.settle()
        tmux.keys("C-u")
        tmux.type(owner)
        tmux.wait_for_line("Owner *", owner, timeout=10)  # the Tabs landed on the owner field
        tmux.keys("Enter")
        tmux.wait_until_gone("New notebook")
        # The tiny image serves no Jupyter: the engine runs it, but it never answers.
        row = tmux.wait_for_line("e2e-nb", "starting", timeout=60)
        assert owner in row and "e2e-tiny" in row

        # x: a shell in the container as its owner (the app steps aside), then back to the list.
        # A clean screen that says whose container it is, a prompt, and stderr shown (issue 28, bug 4).
        tmux.keys("x")
        screen = tmux.wait_for(f"Shell in {owner}'s notebook e2e-nb as {owner}")
        assert "Containers │" not in screen  # the shell starts on a clean screen, not over the list
        tmux.wait_for(f"{owner}@e2e-nb:~$")
        tmux.type('test "$(id -u)" != 0 && echo "not-root-$HOME"; ls /nonexistent-e2e')
        tmux.keys("Enter")
        tmux.wait_for(f"not-root-/home/{owner}")
        tmux.wait_for("/nonexistent-e2e': No such file")
        tmux.type("exit")
        tmux.keys("Enter")
        tmux.wait_for("Containers │")
        tmux.wait_for_line("e2e-nb", "starting")
        assert "not-root-" not in tmux.screen()

        # Details: the URL is offered only once the notebook answers (DESIGN §5).
        tmux.keys("Enter")
        tmux.wait_for("offered when the notebook answers")
        tmux.keys("Escape")
        tmux.wait_for("Containers │")

        # The SSH connection drops: tmux kills the pane (SIGHUP and a hung-up terminal).
        tmux.run("kill-session", "-t", tmux.session)
        seconds, cpu = wait_gone(pid, EXIT_BUDGET)
        print(f"\ntmux session killed -> process gone, {seconds:.2f} s, {EXIT_BUDGET} s")
        assert seconds <= EXIT_BUDGET, f"exited {seconds:.2f} s after the hang-up (budget {EXIT_BUDGET} s)"
        assert cpu <= CPU_BUDGET, f"used {cpu:.2f} s of CPU on the way out: it spun"
    finally:
        if cpu_seconds(pid) is not None:
            os.kill(pid, signal.SIGKILL)
        remove_containers(docker_client, owner)


def test_sighup_alone_ends_the_app(tmux, config_file, docker_client):
    pid = tmux.start([str(PROGRAM), "--config", str(config_file)])
    try:
        tmux.wait_for("Containers │")
        os.kill(pid, signal.SIGHUP)
        seconds, cpu = wait_gone(pid, EXIT_BUDGET)
        print(f"\nSIGHUP -> process gone, {seconds:.2f} s, {EXIT_BUDGET} s")
        assert seconds <= EXIT_BUDGET and cpu <= CPU_BUDGET
    finally:
        if cpu_seconds(pid) is not None:
            os.kill(pid, signal.SIGKILL)


def test_terminal_eof_without_sighup_ends_the_app(config_file, docker_client):
    """The PTY is not the app's controlling terminal, so closing it sends no signal: only EOF/EIO."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    process = subprocess.Popen([str(PROGRAM), "--config", str(config_file)], stdin=slave, stdout=slave,
                               stderr=slave, env=_environment(), start_new_session=True, close_fds=True)
    os.close(slave)
    output = b""
    try:
        deadline = time.monotonic() + 30
        while b"Containers" not in output:
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"the app did not start: {output[-400:]!r}")
            try:
                output += os.read(master, 65536)
            except BlockingIOError:
                time.sleep(0.05)
        os.close(master)
        master = -1
        seconds, cpu = wait_gone(process.pid, EXIT_BUDGET)
        print(f"\nterminal EOF, no signal -> process gone, {seconds:.2f} s, {EXIT_BUDGET} s")
        assert seconds <= EXIT_BUDGET, f"exited {seconds:.2f} s after EOF (budget {EXIT_BUDGET} s)"
        assert cpu <= CPU_BUDGET, f"used {cpu:.2f} s of CPU after EOF: it spun"
        assert process.wait(timeout=5) != 0
    finally:
        if master >= 0:
            os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
