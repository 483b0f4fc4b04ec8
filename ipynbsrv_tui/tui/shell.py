"""The terminal handed over: `x` (a shell in a notebook container as its owner, like lazydocker) and
`o` (a URL printed alone, for selecting it in one piece).

The app suspends (gives the terminal back), runs `docker exec -it -u <uid>:<gid>` in the owner's
home, and resumes when the shell exits. Embedded mode only: there the admin's process already
talks to the engine; a broker client has no engine access to hand over.

Both run on the terminal's alternate screen, as full-screen programs do: they start on a clean
screen, and what they printed (a URL with its token, a shell's transcript) is gone from the
terminal when the shell or the app ends; the screen from before the app comes back.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from ..domain import ContainerView, UserView

ALT_SCREEN_ON = "\x1b[?1049h\x1b[H\x1b[2J"  # alternate screen, cleared, cursor home
ALT_SCREEN_OFF = "\x1b[2J\x1b[?1049l"  # cleared, then the normal screen as it was
# bash's prompt goes to stderr: stderr stays the terminal. A uid without a passwd entry in the
# image has no name for \u, so the prompt names the owner itself.
LOGIN_SHELL = ('cd ~ 2>/dev/null; if command -v bash >/dev/null 2>&1; then exec bash --login -i; fi; '
               'exec sh -l -i')
PROMPT_COMMAND = 'PS1="$IPYNBSRV_PROMPT"'


def shell_command(
    view: ContainerView, owner: UserView, engine_url: str = "", docker: str = "docker"
) -> list[str]:
    """The `docker exec` that opens an interactive login shell in `view` as `owner`."""
    command = [docker]
    if engine_url:
        command += ["-H", engine_url]
    home = f"/home/{owner.username}"
    prompt = f"{owner.username}@{view.name}"
    command += ["exec", "-it", "-u", f"{owner.uid}:{owner.gid}", "-e", f"HOME={home}", "-e",
                f"USER={owner.username}", "-e", f"IPYNBSRV_PROMPT={prompt}:\\w\\$ ", "-e", f"PS1={prompt}$ ",
                "-e", f"PROMPT_COMMAND={PROMPT_COMMAND}", "-w", home, view.docker_id, "sh", "-c", LOGIN_SHELL]
    return command


def shell_banner(view: ContainerView, owner: UserView) -> str:
    """The line above the shell: whose container, as whom, and how to come back."""
    return (f"Shell in {owner.username}'s notebook {view.name} as {owner.username} (uid {owner.uid}). "
            f"Type exit or press ctrl+d to return to ipynbsrv-tui.")


def find_docker() -> str | None:
    """The docker command line client, or None when it is not installed."""
    return shutil.which("docker")


@contextmanager
def alternate_screen(out: TextIO | None = None) -> Iterator[TextIO]:
    """A clean alternate screen for the duration; the normal screen as it was afterwards."""
    stream = out or sys.stdout
    stream.write(ALT_SCREEN_ON)
    stream.flush()
    try:
        yield stream
    finally:
        stream.write(ALT_SCREEN_OFF)
        stream.flush()


def run_shell(command: list[str], banner: str) -> int:
    """Run the shell in the terminal (the app is suspended meanwhile); its exit status."""
    with alternate_screen() as out:
        out.write(f"{banner}\n\n")
        out.flush()
        return subprocess.call(command)


def show_plain(title: str, lines: list[str]) -> None:
    """Print `lines` unwrapped by any widget (the terminal wraps them, and selects them whole),
    then wait for Enter."""
    with alternate_screen() as out:
        out.write(f"{title}\n\n")
        for line in lines:
            out.write(f"{line}\n")
        out.flush()
        try:
            input("\nSelect and copy, then press Enter to return to ipynbsrv-tui. ")
        except EOFError:
            pass
