"""The scripting commands (`images`, `containers`, `users`) as a person runs them: a subprocess
over a temp config, the real engine and the local directory."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.fixtures.notebook_service import free_port_range


@pytest.fixture
def cli_config(tmp_path) -> Path:
    first, last = free_port_range()
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[database]
path = "{tmp_path / 'state' / 'ipynbsrv.db'}"
[data]
root = "{tmp_path / 'data'}"
[notebooks]
port_range = [{first}, {last}]
stop_timeout = 2
[build]
dockerfiles = "{tmp_path / 'dockerfiles'}"
[broker]
socket = "{tmp_path / 'no-broker.sock'}"
"""
    )
    return path


@pytest.fixture
def cli(cli_config):
    """`cli("users", "list")` runs `python -m ipynbsrv_tui.cli --config … users list`."""

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(cli_config), *args],
            input=stdin if stdin is not None else "", capture_output=True, text=True, timeout=120,
        )

    return run


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return result.stdout


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    """A bad input: exit 2, one line on stderr that names the problem, no traceback."""
    assert result.returncode == 2, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def password_file(tmp_path) -> Path:
    path = tmp_path / "password"
    path.write_text("secret-pass-1\n")
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------- images


@pytest.mark.docker
def test_images_list_register_retire(cli, cli_config, tiny_image):
    assert json.loads(ok(cli("images", "list", "--json"))) == []
    assert "Registered tiny" in ok(cli("images", "register", "tiny", tiny_image, "--memory", "512m"))
    # Issue 22 item 6: a built folder's name stands for <[build] image_prefix>/<folder>:latest, whatever the
    # prefix.
    prefix, folder = tiny_image.split(":")[0].split("/")
    (cli_config.parent / "dockerfiles" / folder).mkdir(parents=True)
    (cli_config.parent / "dockerfiles" / folder / "Dockerfile").write_text("FROM scratch\n")
    cli_config.write_text(
        cli_config.read_text().replace("[build]\n", f'[build]\nimage_prefix = "{prefix}"\n')
    )
    assert f"Registered by-folder ({tiny_image})" in ok(cli("images", "register", "by-folder", folder))
    ok(cli("images", "retire", "by-folder"))

    [image] = [row for row in json.loads(ok(cli("images", "list", "--json"))) if row["name"] == "tiny"]
    assert (image["name"], image["ref"], image["memory"], image["is_public"]) == (
        "tiny",
        tiny_image,
        "512m",
        True,
    )
    assert image["description"] == "tiny test image [/bin/sh -c]"  # from the ipynbsrv.description label
    table = ok(cli("images", "list")).splitlines()
    assert table[0].split()[:2] == ["NAME", "REF"] and ["tiny", tiny_image] in [
        line.split()[:2] for line in table[1:]
    ]

    assert "is retired" in ok(cli("images", "retire", "tiny"))
    assert json.loads(ok(cli("images", "list", "--active", "--json"))) == []
    assert all(row["retired"] for row in json.loads(ok(cli("images", "list", "--json"))))
    assert "back in use" in ok(cli("images", "retire", "tiny", "--undo"))
    refused(cli("images", "delete", "by-folder"), "--yes")
    assert ok(cli("images", "delete", "by-folder", "--yes")) == "Unregistered by-folder.\n"
    assert "by-folder" not in [row["name"] for row in json.loads(ok(cli("images", "list", "--json")))]
    refused(cli("images", "delete", "by-folder", "--yes"), "by-folder")

    refused(cli("images", "register", "bad", "Not A Ref"), "'Not A Ref' is not a valid image reference")
    refused(
        cli("images", "register", "other", tiny_image, "--notebook-port", "70000"), "70000 is out of range"
    )
    refused(cli("images", "register", "other", tiny_image, "--memory", "2x"), "'2x' is not valid")
    refused(cli("images", "register", "tiny", tiny_image), "registered already")
    refused(cli("images", "retire", "nosuch"), "No registered image named 'nosuch'")
    refused(cli("images", "register"), "required", "--help")


# --------------------------------------------------------------------------- users


def _signs_in(config_path: Path, username: str, password: str) -> bool:
    """Whether the installation's directory accepts that password (in a fresh process: the store is
    global)."""
    code = (
        "import sys; from ipynbsrv_tui.config import load_config; from ipynbsrv_tui.service import "
        "build_service\nservice = build_service(load_config(sys.argv[1]))\ntry:\n    "
        "service.directory.authenticate(sys.argv[2], sys.argv[3])\nexcept Exception:\n    sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(config_path), username, password],
                          capture_output=True, timeout=60).returncode == 0


def test_users_list_create_delete_sync(cli, cli_config, password_file):
    assert "Created user alice" in ok(cli("users", "create", "alice", "--name", "Alice [b]L[/b]",
                                          "--password-file", str(password_file)))
    bob = json.loads(ok(cli("users", "create", "bob", "--admin", "--password-file", "-", "--json",
                            stdin="bob-secret-9\n")))
    assert (bob["username"], bob["is_admin"]) == ("bob", True)

    users = json.loads(ok(cli("users", "list", "--json")))
    assert [u["username"] for u in users] == ["alice", "bob"]
    assert users[0]["display_name"] == "Alice [b]L[/b]"
    assert "Alice [b]L[/b]" in ok(cli("users", "list"))
    assert [u["username"] for u in json.loads(ok(cli("users", "list", "ali", "--json")))] == ["alice"]

    refused(cli("users", "create", "carol"), "--password-file")  # no terminal to ask on
    refused(cli("users", "create", "Bad Name", "--password-file", str(password_file)), "is not valid")
    refused(cli("users", "create", "carol", "--password-file", "-", stdin="short\n"), "at least 8 characters")
    refused(cli("users", "delete", "alice"), "--yes")
    refused(cli("users", "delete", "alice", "--yes", "--containers", "wipe"), "containers must be one of")
    refused(cli("users", "delete", "nosuch", "--yes"), "No user named 'nosuch'")

    # Issue 22 item 5: what the TUI does to a user is scriptable too.
    assert ok(cli("users", "admin", "alice")) == "User alice is an admin.\n"
    assert json.loads(ok(cli("users", "admin", "alice", "--undo", "--json")))["is_admin"] is False
    assert ok(cli("users", "disable", "alice")) == "User alice is disabled.\n"
    assert json.loads(ok(cli("users", "list", "alice", "--json")))[0]["active"] is False
    assert json.loads(ok(cli("users", "enable", "alice", "--json")))["active"] is True
    assert ok(cli("users", "password", "alice", "--password-file", "-", stdin="a-new-secret-7\n")) == \
        "Set the password of alice.\n"
    refused(
        cli("users", "password", "alice", "--password-file", "-", stdin="short\n"), "at least 8 characters"
    )
    refused(cli("users", "admin", "nosuch"), "No user 'nosuch'")
    assert _signs_in(cli_config, "alice", "a-new-secret-7") and not _signs_in(
        cli_config, "alice", "secret-pass-1"
    )

    report = ok(cli("users", "delete", "alice", "--yes", "--data", "delete"))
    assert report.startswith("Deleted user alice (containers: archive, data: delete).")
    assert "removed:" in report
    assert [u["username"] for u in json.loads(ok(cli("users", "list", "--json")))] == ["bob"]

    assert ok(cli("users", "sync")).startswith("Synced:")
    sync = json.loads(ok(cli("users", "sync", "--json")))
    assert sync["errors"] == [] and "bob" not in sync["added"]


# --------------------------------------------------------------------------- containers


@pytest.fixture
def owner(docker_client):
    """A unique user name; every engine container named after it is removed afterwards."""
    name = f"cli{uuid.uuid4().hex[:8]}"
    yield name
    for container in docker_client.containers.list(all=True, filters={"name": f"ipynbsrv-{name}-"}):
        container.remove(force=True)


@pytest.mark.docker
def test_containers_create_lifecycle_logs_delete(cli, cli_config, tiny_image, password_file, owner):
    ok(cli("images", "register", "tiny", tiny_image))
    ok(cli("users", "create", owner, "--password-file", str(password_file)))

    created = json.loads(ok(cli("containers", "create", "nb", "--image", "tiny", "--owner", owner, "--json")))
    # The tiny image serves no Jupyter: it stays `starting`, and JSON says its URL is not ready.
    assert (created["owner"], created["name"], created["state"], created["ready"]) == (
        owner,
        "nb",
        "starting",
        False,
    )
    cid = created["id"]
    listed = json.loads(ok(cli("containers", "list", "--json")))
    assert [(c["id"], c["state"]) for c in listed] == [(cid, "starting")]
    assert f"{owner}/nb" not in ok(cli("containers", "list", "--owner", "nobody"))
    assert "nb" in ok(cli("containers", "list"))

    assert "is exited" in ok(cli("containers", "stop", f"{owner}/nb"))
    assert "is starting" in ok(cli("containers", "start", f"#{cid}"))
    assert "is starting" in ok(cli("containers", "restart", str(cid)))
    assert "is paused" in ok(cli("containers", "suspend", f"{owner}/nb"))
    refused(cli("containers", "stop-suspended"), "stops 1 suspended notebooks")
    assert "You have no suspended notebooks." in ok(cli("containers", "resume"))  # root's own: none
    assert "is starting" in ok(cli("containers", "resume", f"{owner}/nb"))
    assert "is paused" in ok(cli("containers", "suspend", f"{owner}/nb"))
    assert f"Stopped 1 suspended notebooks: {owner}/nb." in ok(cli("containers", "stop-suspended", "--yes"))
    assert "is starting" in ok(cli("containers", "start", f"#{cid}"))
    assert f"started as {owner}" in ok(cli("containers", "logs", f"{owner}/nb", "--tail", "20"))

    tunnel = ok(cli("containers", "open", f"{owner}/nb"))
    assert tunnel.startswith(f"On your computer run:  ssh -N -L {created['host_port']}:127.0.0.1:")
    assert f"then open:  http://127.0.0.1:{created['host_port']}/user/{owner}/nb/?token=" in tunnel
    with cli_config.open("a") as config:
        config.write('[web]\nenabled = true\npublic_url = "https://nb.example.org"\n')
    web = ok(cli("containers", "open", f"{owner}/nb"))
    assert web == f"Open https://nb.example.org/user/{owner}/nb/ and log in with your directory password.\n"
    assert json.loads(ok(cli("containers", "open", f"{owner}/nb", "--json")))["web_url"].startswith("https://nb.")

    refused(cli("containers", "create", "nb2", "--image", "nosuch", "--owner", owner), "No registered image")
    refused(cli("containers", "create", "bad name", "--image", "tiny", "--owner", owner), "is not valid")
    refused(cli("containers", "logs", f"{owner}/nb", "--tail", "many"), "--tail")
    refused(cli("containers", "stop", f"{owner}/missing"), f"No container {owner}/missing")
    refused(cli("containers", "delete", f"{owner}/nb"), "--yes")
    refused(cli("containers", "start"), "required")

    assert f"Deleted {owner}/nb" in ok(cli("containers", "delete", f"{owner}/nb", "--yes"))
    assert json.loads(ok(cli("containers", "list", "--json"))) == []


@pytest.mark.docker
def test_lifecycle_commands_take_several_containers_one_line_each(cli, tiny_image, password_file, owner):
    """Issue 28, item 14: `containers stop A B C`: one line per container, exit 0 when all
    succeeded, 1 when some did (the failure on stderr with its reason), 2 when none did."""
    ok(cli("images", "register", "tiny", tiny_image))
    ok(cli("users", "create", owner, "--password-file", str(password_file)))
    ids = [json.loads(ok(cli("containers", "create", name, "--image", "tiny", "--owner", owner, "--no-start",
                             "--json")))["id"] for name in ("one", "two")]
    try:
        _several_containers_one_line_each(cli, owner, ids)
    finally:  # engine names carry the uid, not the owner fixture's name: delete them here
        for cid in ids:
            cli("containers", "delete", f"#{cid}", "--yes")


def _several_containers_one_line_each(cli, owner: str, ids: list[int]) -> None:
    some = cli("containers", "start", f"{owner}/one", f"#{ids[1]}", f"{owner}/gone")
    assert some.returncode == 1, some.stderr
    assert some.stdout.splitlines() == [
        f"{owner}/one (#{ids[0]}) is starting.",
        f"{owner}/two (#{ids[1]}) is starting.",
    ]
    assert some.stderr.splitlines() == [f"ipynbsrv-tui: {owner}/gone: No container {owner}/gone. "
                                        "List them with `ipynbsrv-tui containers list`."]
    states = {c["id"]: c["state"] for c in json.loads(ok(cli("containers", "list", "--json")))}
    assert states == {ids[0]: "starting", ids[1]: "starting"}

    assert ok(cli("containers", "suspend", f"{owner}/one", f"{owner}/two")).splitlines() == [
        f"{owner}/one (#{ids[0]}) is paused.", f"{owner}/two (#{ids[1]}) is paused."]
    assert ok(cli("containers", "resume", f"{owner}/one", f"{owner}/two")).count("is starting.") == 2
    ok(cli("containers", "stop", f"{owner}/one"))
    mixed = cli("containers", "suspend", f"{owner}/one", f"{owner}/two")  # one is stopped: refused, with why
    assert mixed.returncode == 1 and mixed.stdout == f"{owner}/two (#{ids[1]}) is paused.\n"
    assert mixed.stderr.startswith(f"ipynbsrv-tui: {owner}/one (#{ids[0]}): suspend failed: ")
    assert len(mixed.stderr.splitlines()) == 1 and "Traceback" not in mixed.stderr
    stopped = ok(cli("containers", "stop", f"{owner}/one", f"{owner}/two"))
    assert stopped.splitlines() == [
        f"{owner}/one (#{ids[0]}) is exited.",
        f"{owner}/two (#{ids[1]}) is exited.",
    ]

    none = cli("containers", "restart", f"{owner}/x", f"{owner}/y")
    assert none.returncode == 2 and none.stdout == "" and len(none.stderr.splitlines()) == 2
