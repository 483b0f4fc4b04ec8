"""`users create --host-account`: the uid hand-off in one step, on this host's real account database.

Runs the CLI as a subprocess without a terminal (password on stdin, as a script gives it), in
embedded mode on a temp config (local directory, no engine needed). Needs root (useradd).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import subprocess
import sys

import pytest

from . import broker_support as support

pytestmark = [
    pytest.mark.host,
    pytest.mark.skipif(os.geteuid() != 0, reason="creates host accounts: run as root"),
]


@pytest.fixture
def site(tmp_path):
    names = {"group": f"ipbtg{secrets.token_hex(3)}", "user": f"ipbth{secrets.token_hex(3)}",
             "other": f"ipbto{secrets.token_hex(3)}"}
    first, last = support.free_uid_range(5)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[database]
path = "{tmp_path / 'ipynbsrv.db'}"
[directory]
backend = "local"
uid_range = [{first}, {last}]
gid_range = [{first}, {last}]
users_group = "{names['group']}"
[data]
root = "{tmp_path / 'data'}"
[broker]
socket = "{tmp_path / 'no-broker.sock'}"
""")
    yield {"config": config, "range": (first, last), **names}
    for name in (names["user"], names["other"]):
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
    subprocess.run(["groupdel", names["group"]], capture_output=True, check=False)


def create(site, username: str, password: str = "correct horse battery", *extra: str):
    return subprocess.run(
        [sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(site["config"]),
         "users", "create", username, "--host-account", "--password-file", "-", "--json", *extra],
        input=password + "\n", capture_output=True, text=True, check=False, stdin=None,
    )


def directory_users(site) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipynbsrv_tui.cli",
            "--config",
            str(site["config"]),
            "users",
            "list",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [user["username"] for user in json.loads(result.stdout)]


def test_host_account_matches_the_directory_user_without_a_terminal(site):
    result = create(site, site["user"], "correct horse battery", "--name", "Alice Example")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    account = pwd.getpwnam(site["user"])
    assert account.pw_uid == view["uid"]
    assert grp.getgrgid(account.pw_gid).gr_name == site["group"], "primary group is the users group"
    assert account.pw_dir == f"/home/{site['user']}" and os.path.isdir(account.pw_dir)
    assert account.pw_shell == "/bin/bash"
    shadow = subprocess.run(["getent", "shadow", site["user"]], capture_output=True, text=True, check=True)
    assert shadow.stdout.split(":")[1].startswith("$"), "the login has the password that was given"


def test_deleting_the_user_says_the_host_account_stays(site):
    """Issue 22 item 5: the directory user goes, the host account stays, and the command says so."""
    assert create(site, site["user"]).returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(site["config"]),
         "users", "delete", site["user"], "--containers", "delete", "--data", "delete", "--yes"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"kept: the host account {site['user']} (uid {pwd.getpwnam(site['user']).pw_uid}" in result.stdout
    assert f"userdel -r {site['user']}" in result.stdout
    assert site["user"] not in directory_users(site)


def test_an_existing_account_is_never_changed(site):
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", site["other"]], check=True)
    before = pwd.getpwnam(site["other"])
    result = create(site, site["other"])
    assert result.returncode == 2
    assert "never changes an existing account" in result.stderr
    assert "Traceback" not in result.stderr
    assert pwd.getpwnam(site["other"]) == before
    assert site["other"] not in directory_users(site), "nothing half-done: no directory user either"


def test_a_taken_uid_is_refused_and_nothing_is_left(site):
    """Every uid of the directory's range is taken on the host: refused, no account, no directory user."""
    first, last = site["range"]
    made = []
    try:
        for number, uid in enumerate(range(first, last + 1)):
            name = f"{site['other'][:-1]}{number}"
            subprocess.run(
                ["useradd", "--no-create-home", "--no-user-group", "--uid", str(uid), name], check=True
            )
            made.append(name)
        result = create(site, site["user"])
        assert result.returncode == 2, result.stdout
        assert "Traceback" not in result.stderr
        with pytest.raises(KeyError):
            pwd.getpwnam(site["user"])
        assert site["user"] not in directory_users(site)
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True, check=False)


def test_without_a_password_and_without_a_terminal_it_says_how(site):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipynbsrv_tui.cli",
            "--config",
            str(site["config"]),
            "users",
            "create",
            site["user"],
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "--password-file" in result.stderr and "stdin" in result.stderr


def test_the_directory_skips_a_uid_the_host_uses(site):
    """DESIGN §7: the first uid of the range belongs to a host account, so the next one is taken."""
    first, _ = site["range"]
    subprocess.run(
        ["useradd", "--no-create-home", "--no-user-group", "--uid", str(first), site["other"]], check=True
    )
    result = create(site, site["user"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["uid"] == first + 1 == pwd.getpwnam(site["user"]).pw_uid
