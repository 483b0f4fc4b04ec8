"""`groups`, `shares` and `notifications` from the command line (embedded mode, the local
directory, no engine needed): an admin's view of what users made, `--json`, and one-line refusals."""

from __future__ import annotations

import json

import pytest

from ipynbsrv_tui import cli
from ipynbsrv_tui.domain import Actor
from ipynbsrv_tui.store import close_database

ROOT = Actor("root", 0, True, ())


@pytest.fixture
def config_path(tmp_path):
    from ipynbsrv_tui.config import load_config
    from ipynbsrv_tui.service import build_service

    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path / "state" / "ipynbsrv.db"}"\n[data]\nroot = "{tmp_path / "data"}"\n'
        f'[broker]\nsocket = "{tmp_path / "no-broker.sock"}"\n[docker]\nurl = "unix:///nonexistent.sock"\n'
    )
    service = build_service(load_config(str(path)))
    for name in ("alice", "bob"):
        service.create_user(ROOT, name, f"{name}-password")
    alice = service.actor_for_username("alice")
    service.create_collab_group(alice, "lab")
    service.create_share(alice, "thesis", description="[b]draft[/b]")
    yield path
    close_database()


def run(capsys, config_path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--config", str(config_path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_admin_manages_groups_shares_and_notifications_from_the_command_line(capsys, config_path):
    code, out, _ = run(capsys, config_path, "groups", "list", "--json")
    assert code == 0
    groups = {g["name"]: g for g in json.loads(out)}
    assert groups["lab"]["creator"] == "alice" and groups["alice"]["is_personal"]

    code, out, _ = run(capsys, config_path, "groups", "add", "lab", "bob", "--admin")
    assert code == 0 and "Added bob to lab as a group admin." in out and "next start" in out
    code, out, _ = run(capsys, config_path, "shares", "grant", "thesis", "lab", "--json")
    change = json.loads(out)
    assert code == 0 and change["notified"] == ["alice", "bob"] and "restart" in change["note"]
    code, out, _ = run(capsys, config_path, "shares", "list")
    assert "thesis  alice  share-thesis  lab" in out and "[b]draft[/b]" in out

    code, out, _ = run(
        capsys, config_path, "notifications", "send", "lab", "hello", "--about", "share:thesis"
    )
    assert code == 0 and out.startswith("Sent notification ")
    code, out, _ = run(capsys, config_path, "notifications", "list", "--json")
    assert code == 0 and json.loads(out) == []  # root has no inbox of its own

    code, out, _ = run(capsys, config_path, "shares", "revoke", "thesis", "lab")
    assert code == 0 and "Revoked lab on thesis." in out and "notified: alice, bob" in out
    code, out, _ = run(capsys, config_path, "shares", "delete", "thesis", "--data", "archive", "--yes")
    assert code == 0 and "archived:" in out
    code, out, _ = run(capsys, config_path, "groups", "delete", "lab", "--yes")
    assert code == 0 and "Deleted group lab." in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("groups", "show", "nope"), "No group named 'nope'."),
        (("groups", "delete", "lab"), "add --yes"),
        (("shares", "delete", "thesis", "--data", "shred", "--yes"), "keep, archive, delete"),
        (("shares", "create", "s" * 27), "longer than 26"),
        (("notifications", "send", "lab", "x" * 1001), "longer than 1000"),
        (("notifications", "send", "lab", "hi", "--about", "thesis"), "KIND:NAME"),
        (("notifications", "read"), "--all"),
        (("notifications", "read", "99"), "No notification 99."),
    ],
)
def test_bad_input_is_one_line_that_says_what_to_do(capsys, config_path, args, words):
    code, out, err = run(capsys, config_path, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err


def test_a_user_mutes_and_unmutes_from_the_command_line(capsys, config_path, monkeypatch):
    """Issue 20 item 3: `notifications mute user|group NAME [--undo]` and `notifications mutes`."""
    from ipynbsrv_tui.commands import collab as commands
    from ipynbsrv_tui.config import load_config
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.service.session import Session

    service = build_service(load_config(str(config_path)))
    bob = service.actor_for_username("bob")
    monkeypatch.setattr(commands, "open_session", lambda args: Session(service, bob))
    code, out, _ = run(capsys, config_path, "notifications", "mute", "user", "alice")
    assert code == 0 and out == "Muted user alice.\nmuted: user:alice\n"
    code, out, _ = run(capsys, config_path, "notifications", "mutes", "--json")
    assert code == 0 and json.loads(out) == ["user:alice"]
    code, out, _ = run(capsys, config_path, "notifications", "mute", "user", "alice", "--undo")
    assert code == 0 and out.endswith("muted: -\n")
    code, _, err = run(capsys, config_path, "notifications", "mute", "group", "lab")
    assert code == 2 and err.strip() == "ipynbsrv-tui: No group named 'lab' that you belong to."
