"""[backup] configuration (DESIGN §17): every key validated, one-line errors with file, line and key;
check-config proves the password file is root's alone and that the repository opens with it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ipynbsrv_tui.config import parse_config
from ipynbsrv_tui.domain import ConfigError
from ipynbsrv_tui.validation import parse_schedule

GOOD = """\
[data]
root = "{root}"

[backup]
enabled = true
repository = "{repo}"
password_file = "{password}"
schedule = "daily 03:15"
keep_daily = 7
"""


@pytest.mark.parametrize(("line", "expected"), [
    ('schedule = "at noon"', ':7: backup.schedule = \'at noon\': expected "daily HH:MM"'),
    ('schedule = "daily 25:00"', ":7: backup.schedule"),
    ('schedule = "every 1 minutes"', "5 minutes to 7 days"),
    ("keep_daily = -1", ":7: backup.keep_daily = -1: expected 0 to 3660"),
    ('repository = "-o x"', ":7: backup.repository"),
    ('repository = "relative/path"', "expected an absolute path or a restic backend"),
    ('password_file = "restic-password"', ":7: backup.password_file"),
    ("enabled = 1", ":7: backup.enabled = 1: expected true or false"),
    ("keep_hourly = 3", ":7: unknown key backup.keep_hourly"),
])
def test_bad_values_name_file_line_and_key(line, expected):
    text = "[data]\nroot = \"/srv\"\n\n[backup]\n# where restic keeps it\n# (see the docs)\n" + line + "\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("/etc/ipynbsrv/config.toml"))
    message = str(caught.value)
    assert message.startswith("/etc/ipynbsrv/config.toml:") and expected in message and "\n" not in message


def test_enabled_needs_a_repository_password_and_something_to_keep():
    with pytest.raises(
        ConfigError, match=r"config.toml:2: backup.repository is empty but backup.enabled = true"
    ):
        parse_config("[backup]\nenabled = true\npassword_file = \"/etc/pw\"\n", Path("config.toml"))
    with pytest.raises(ConfigError, match="backup.password_file is empty"):
        parse_config("[backup]\nenabled = true\nrepository = \"/srv/b\"\n", Path("config.toml"))
    with pytest.raises(ConfigError, match="restic would forget every snapshot"):
        parse_config("[backup]\nenabled = true\nrepository = \"/b\"\npassword_file = \"/p\"\n"
                     "keep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\n", Path("config.toml"))
    assert parse_config("[backup]\nrepository = \"sftp:backup@host:/srv/restic\"\n").backup.enabled is False


def test_schedules():
    assert parse_schedule("daily 02:30") == ("daily", 150)
    assert parse_schedule("every 6 hours") == ("every", 21600)
    assert parse_schedule("every 30 minutes") == ("every", 1800)


def _check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(path), "check-config"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")
def test_check_config_checks_the_password_file_and_that_the_repository_opens(tmp_path):
    password = tmp_path / "restic-password"
    password.write_text("secret\n")
    os.chmod(password, 0o644)
    config = tmp_path / "config.toml"
    config.write_text(GOOD.format(root=tmp_path / "data", repo=tmp_path / "repo", password=password))
    loose = _check_config(config)
    assert loose.returncode == 2
    assert f"error: {config}:7: backup.password_file '{password}' has mode 0644" in loose.stderr
    os.chmod(password, 0o600)
    missing = _check_config(config)
    assert missing.returncode == 2 and f"{config}:6: backup.repository:" in missing.stderr
    assert "backup init" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    env = dict(os.environ, RESTIC_PASSWORD_FILE=str(password), RESTIC_REPOSITORY=str(tmp_path / "repo"))
    subprocess.run(["restic", "init"], env=env, capture_output=True, check=True, timeout=60)
    assert _check_config(config).returncode == 0
    password.write_text("another password\n")
    wrong = _check_config(config)
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
