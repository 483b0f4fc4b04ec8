"""Choosing the mode: who may fall back to embedded mode, and what the others are told."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.connect import ServiceNotRunning, docker_socket_usable, may_embed, open_session


def _installed(tmp_path, docker_url: str) -> Config:
    """A config as read from an installation's file, with no broker at its socket."""
    return Config(source=tmp_path / "config.toml").replace(
        docker={"url": docker_url}, broker={"socket": str(tmp_path / "absent.sock")}
    )


def test_an_ordinary_account_without_docker_access_never_gets_embedded_mode(tmp_path, monkeypatch):
    socket_file = tmp_path / "docker.sock"
    socket_file.write_text("")
    socket_file.chmod(0o660)
    config = _installed(tmp_path, f"unix://{socket_file}")
    monkeypatch.setattr("ipynbsrv_tui.connect.os.geteuid", lambda: 2000)
    monkeypatch.setattr("ipynbsrv_tui.connect.os.access", lambda path, mode: False)  # as uid 2000 would get
    assert not docker_socket_usable(config)
    assert not may_embed(config)
    with pytest.raises(ServiceNotRunning) as info:
        open_session(config)
    assert "notebook service is not running" in str(info.value)
    assert str(tmp_path / "absent.sock") in str(info.value)


def test_root_a_docker_user_and_a_bare_checkout_may_embed(tmp_path, monkeypatch):
    socket_file = tmp_path / "docker.sock"
    socket_file.write_text("")
    installed = _installed(tmp_path, f"unix://{socket_file}")
    monkeypatch.setattr("ipynbsrv_tui.connect.os.geteuid", lambda: 2000)
    assert may_embed(installed) == os.access(socket_file, os.R_OK | os.W_OK)
    assert may_embed(Config()), "make run without a config file keeps embedded mode"
    assert may_embed(_installed(tmp_path, "tcp://127.0.0.1:2375")), (
        "a TCP engine is tried, errors show in the header"
    )
    monkeypatch.setattr("ipynbsrv_tui.connect.os.geteuid", lambda: 0)
    assert may_embed(_installed(tmp_path, "unix:///nonexistent/docker.sock"))


@pytest.mark.parametrize(("forced", "wanted", "unwanted"), [
    (True, "ssh -t HOST", "containers list"),
    (False, "ssh -t HOST ipynbsrv-tui", None),
])
def test_without_a_terminal_the_hint_fits_the_login(forced, wanted, unwanted):
    env = {k: v for k, v in os.environ.items() if k != "SSH_ORIGINAL_COMMAND"}
    if forced:
        env["SSH_ORIGINAL_COMMAND"] = (
            "ipynbsrv-tui containers list --json"  # what sshd sets under ForceCommand
        )
    result = subprocess.run([sys.executable, "-m", "ipynbsrv_tui.cli"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert wanted in result.stderr
    if unwanted:
        assert unwanted not in result.stderr


def test_a_forced_login_without_a_command_or_terminal_is_not_told_to_script(tmp_path):
    """Issue 22 item 7: `ssh -T HOST` under the snippet's ForceCommand (no SSH_ORIGINAL_COMMAND): the
    login is in [directory] users_group, so only a terminal helps, and subcommands are not offered."""
    import grp

    config = tmp_path / "config.toml"
    config.write_text(f'[directory]\nusers_group = "{grp.getgrgid(os.getgid()).gr_name}"\n'
                      f'[broker]\nsocket = "{tmp_path / "absent.sock"}"\n')
    env = {k: v for k, v in os.environ.items() if k != "SSH_ORIGINAL_COMMAND"}
    env["SSH_CONNECTION"] = "127.0.0.1 50000 127.0.0.1 22"
    result = subprocess.run([sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(config)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert "ssh -t HOST" in result.stderr and "containers list" not in result.stderr
    config.write_text(config.read_text().replace(grp.getgrgid(os.getgid()).gr_name, "ipbt-no-such-group"))
    result = subprocess.run([sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(config)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, check=False)
    assert "containers list" in result.stderr, "an ordinary ssh login may script"
