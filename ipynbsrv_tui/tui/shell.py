"""The terminal handed over: `x` (a shell in a notebook container as its owner, like lazydocker) and
`o` (a URL printed alone, for selecting it in one piece).

The app suspends (gives the terminal back), runs `docker exec -it -u <uid>:<gid>` in the owner's
home, and resumes when the shell exits. Embedded mode only: there the admin's process already
talks to the engine; a broker client has no engine access to hand over.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

from ..domain import ContainerView, UserView

LOGIN_SHELL = "cd ~ 2>/dev/null; exec bash -l 2>/dev/null || exec sh -l"


def shell_command(view: ContainerView, owner: UserView, engine_url: str = "", docker: str = "docker") -> list[str]:
    """The `docker exec` that opens an interactive login shell in `view` as `owner`."""
    command = [docker]
    if engine_url:
        command += ["-H", engine_url]
    home = f"/home/{owner.username}"
    command += ["exec", "-it", "-u", f"{owner.uid}:{owner.gid}", "-e", f"HOME={home}", "-e",
                f"USER={owner.username}", "-w", home, view.docker_id, "sh", "-c", LOGIN_SHELL]
    return command


def find_docker() -> str | None:
    """The docker command line client, or None when it is not installed."""
    return shutil.which("docker")


def run_shell(command: list[str]) -> int:
    """Run the shell in the terminal (the app is suspended meanwhile); its exit status."""
    print(f"\n$ {shlex.join(command)}\n(exit the shell to return to ipynbsrv-tui)\n", flush=True)
    return subprocess.call(command)


def show_plain(title: str, lines: list[str]) -> None:
    """Print `lines` unwrapped by any widget (the terminal wraps them, and selects them whole),
    then wait for Enter."""
    print(f"\n{title}\n")
    for line in lines:
        print(line)
    try:
        input("\nSelect and copy, then press Enter to return to ipynbsrv-tui. ")
    except EOFError:
        pass
