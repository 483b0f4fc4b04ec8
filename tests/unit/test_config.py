"""config.toml parsing, lookup order and error messages (DESIGN §10)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ipynbsrv_tui.config import Config, effective_toml, find_config, load_config, parse_config
from ipynbsrv_tui.domain import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_root_config_toml_documents_exactly_the_defaults(monkeypatch):
    monkeypatch.delenv(
        "IPYNBSRV_BROKER_SOCKET", raising=False
    )  # the test session sets it (tests/conftest.py)
    config = load_config(ROOT / "config.toml")
    assert config.replace(source=None) == Config()


def test_the_default_broker_socket_can_be_moved_by_the_environment(tmp_path, monkeypatch):
    """DESIGN §11: the test session points every config that names no socket at its own folder."""
    monkeypatch.setenv("IPYNBSRV_BROKER_SOCKET", str(tmp_path / "b.sock"))
    assert Config().broker.socket == str(tmp_path / "b.sock")
    assert load_config(ROOT / "config.toml").broker.socket == "/run/ipynbsrv/ipynbsrv.sock", (
        "a named socket wins"
    )
    monkeypatch.delenv("IPYNBSRV_BROKER_SOCKET")
    assert Config().broker.socket == "/run/ipynbsrv/ipynbsrv.sock"


def test_every_key_in_root_config_has_a_comment_above_or_beside_it():
    lines = (ROOT / "config.toml").read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line or any(
                lines[k].lstrip().startswith("#") for k in range(max(0, number - 3), number)
            ), f"config.toml line {number + 1} has no comment: {line}"


def test_no_file_means_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IPYNBSRV_CONFIG", raising=False)
    monkeypatch.setattr("ipynbsrv_tui.config.SYSTEM_CONFIG", tmp_path / "absent.toml")
    assert find_config() is None
    assert load_config() == Config()


def test_lookup_order(tmp_path, monkeypatch):
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('admins = ["x"]\n')
    env = tmp_path / "env.toml"
    env.write_text('admins = ["e"]\n')
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "config.toml").write_text('admins = ["c"]\n')
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("IPYNBSRV_CONFIG", str(env))
    assert load_config(explicit).admins == ("x",)
    assert load_config().admins == ("e",)
    monkeypatch.delenv("IPYNBSRV_CONFIG")
    system = tmp_path / "etc.toml"
    system.write_text('admins = ["s"]\n')
    monkeypatch.setattr("ipynbsrv_tui.config.SYSTEM_CONFIG", system)
    assert load_config().admins == ("s",), "./config.toml must never be read (DESIGN §10)"
    system.unlink()
    assert load_config() == Config(), "with no file the embedded defaults serve, not ./config.toml"


def test_checkout_config_is_not_picked_up_by_check_config(tmp_path):
    """An admin standing in the checkout gets /etc's file or the defaults, never ./config.toml."""
    (tmp_path / "config.toml").write_text('admins = ["from-cwd"]\n')
    env = {k: v for k, v in os.environ.items() if k != "IPYNBSRV_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "ipynbsrv_tui.cli", "check-config"],
        capture_output=True, text=True, check=True, cwd=tmp_path, env=env,
    )
    assert "from-cwd" not in result.stdout
    assert str(tmp_path) not in result.stdout


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[notebooks]\nmemory = \"2x\"\n", 2, ["notebooks.memory", "512m"]),
        ("[notebooks]\n\nport_range = [5, 1]\n", 3, ["notebooks.port_range", "first port"]),
        ("[notebooks]\ncpus = \"fast\"\n", 2, ["notebooks.cpus", "number"]),
        ("[directory]\nbackend = \"ad\"\n", 2, ["directory.backend", "'local', 'ldap'"]),
        ("[build]\nbase_image = \"Not A Ref\"\n", 2, ["build.base_image", "image reference"]),
        ("[docker]\ntimeout = true\n", 2, ["docker.timeout", "whole number"]),
        ("[notebooks]\nmemroy = \"2g\"\n", 2, ["unknown key notebooks.memroy", "memory"]),
        ("admins = []\n[bogus]\nx = 1\n", 2, ["unknown key 'bogus'"]),
        ("[notebooks\nmemory = 1\n", 1, ["invalid TOML"]),
        ("admins = [\"a\"\n", 1, ["invalid TOML"]),
        ("admins = \"alice\"\n", 1, ["admins", "list of usernames"]),
    ],
)
def test_broken_file_names_file_line_and_key(tmp_path, text, line, words):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    for word in words:
        assert word in message


def test_missing_explicit_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


def test_a_folder_given_as_config_says_a_file_is_expected(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text("")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    message = str(info.value)
    assert "is a folder" in message and "TOML file is expected" in message
    assert str(tmp_path / "config.toml") in message
    monkeypatch.setenv("IPYNBSRV_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match=r"is a folder \(from \$IPYNBSRV_CONFIG\)"):
        load_config()


def test_effective_toml_masks_secrets_and_round_trips():
    config = Config().replace(directory={"bind_password": "hunter2", "backend": "ldap"})
    text = effective_toml(config)
    assert "hunter2" not in text and "********" in text
    again = parse_config(text.replace('bind_password = "********"\n', ""))
    assert again.directory.backend == "ldap"


def test_effective_toml_stays_valid_toml_for_newlines_quotes_and_control_characters():
    tricky = 'line one\nline "two"\tC:\\path\x7f\u00e9'
    config = Config().replace(docker={"url": tricky}, build={"base_image": "debian:bookworm-slim\r\n"})
    parsed = tomllib.loads(effective_toml(config))
    assert parsed["docker"]["url"] == tricky
    assert parsed["build"]["base_image"] == "debian:bookworm-slim\r\n"


def test_effective_toml_keeps_its_layout():
    text = effective_toml(Config())
    assert text.startswith("# effective configuration from embedded defaults\nadmins = []\n\n[database]\n")
    assert "\nuid_range = [2000, 59999]\n" in text and "\nstart_tls = false\n" in text
    assert "\ncpus = 1.0\n" in text and '\nbackend = "local"\n' in text


def test_check_config_command_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text("[notebooks]\npids = \"many\"\n")
    result = subprocess.run(
        [sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(bad), "check-config"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:2: notebooks.pids" in result.stderr
    good = subprocess.run(
        [sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(ROOT / "config.toml"), "check-config"],
        capture_output=True, text=True, check=True,
    )
    assert "[notebooks]" in good.stdout and "port_range = [49152, 49999]" in good.stdout
