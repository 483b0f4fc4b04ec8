"""Stored text never reaches a terminal raw (issue 20 item 2, DESIGN §8): whatever a row holds —
text from before the free-text rule, or written past it — every listing of the command line,
as text or `--json`, shows its control characters escaped; and the rule itself refuses them on
the way in, through the one free-text validator."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipynbsrv_tui import cli, validation
from ipynbsrv_tui.commands import collab as collab_commands
from ipynbsrv_tui.commands import containers as container_commands
from ipynbsrv_tui.commands import images as image_commands
from ipynbsrv_tui.commands import kept as kept_commands
from ipynbsrv_tui.commands import users as user_commands
from ipynbsrv_tui.domain import ValidationError
from ipynbsrv_tui.service.session import Session
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import Container, Group, Image, Notification, Share, User
from tests.fixtures.recorded_service import ROOT, make_recorded_service
from tests.unit.fake_engine import RecordingEngine

# What may reach the terminal: printable text and the newlines that end lines.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
ATTACK = "\x1b]0;PWNED\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07\x9b31m\r\x08\u2028\x00"

LISTINGS = [
    ("groups", "list"), ("groups", "show", "lab"), ("shares", "list"), ("shares", "show", "thesis"),
    ("notifications", "list"), ("notifications", "mutes"), ("containers", "list"), ("images", "list"),
]
ADMIN_LISTINGS = [("users", "list"), ("kept", "list")]


@pytest.fixture(scope="module")
def listed_service(tmp_path_factory):
    """A recorded service with something in every listing (an image, users, a group, a share, a
    container, a notice) and bob, who sees them all; the tests overwrite their free text."""
    service = make_recorded_service(tmp_path_factory.mktemp("cli-text"), RecordingEngine())
    service.register_image(ROOT, "tiny", "ipynbsrv-test/tiny:latest", is_public=True)
    for name in ("alice", "bob"):
        service.create_user(ROOT, name, f"{name}-password")
    alice, bob = service.actor_for_username("alice"), service.actor_for_username("bob")
    service.create_collab_group(alice, "lab")
    service.add_collab_member(alice, "lab", "bob")
    service.create_share(alice, "thesis")
    service.grant_share(alice, "thesis", "lab")
    service.create_container(bob, "nb", "tiny", start=False)
    service.send_notification(alice, "lab", "hello", kind="share", target="thesis")
    yield service, bob
    close_database()


def _store(text: str) -> None:
    """`text` in every free-text column a listing shows, as old data or a direct write could put it."""
    User.update(display_name=text, email=text).execute()
    Group.update(description=text).where(Group.name == "lab").execute()
    Share.update(description=text).execute()
    Image.update(description=text, command=text).execute()
    Container.update(description=text).execute()
    Notification.update(message=text, target=text).execute()


def _outputs(monkeypatch, capsys, service, actor, listings) -> list[tuple[tuple[str, ...], str, str]]:
    for module in (collab_commands, container_commands, image_commands, kept_commands, user_commands):
        monkeypatch.setattr(module, "open_session", lambda args: Session(service, actor))
    found = []
    for listing in listings:
        for extra in ((), ("--json",)):
            code = cli.main([*listing, *extra])
            out, err = capsys.readouterr()
            assert code == 0, (listing, err)
            found.append(((*listing, *extra), out, err))
    return found


def _check(found) -> None:
    for argv, out, err in found:
        raw = RAW_CONTROL.search(out + err)
        assert raw is None, (argv, (out + err)[max(0, raw.start() - 40): raw.end() + 40])
        if "--json" in argv:
            json.loads(out)  # still JSON


def test_a_known_attack_in_every_field_is_escaped_in_every_listing(listed_service, monkeypatch, capsys):
    service, bob = listed_service
    _store("desc " + ATTACK)
    found = _outputs(monkeypatch, capsys, service, bob, LISTINGS) + _outputs(
        monkeypatch, capsys, service, ROOT, LISTINGS + ADMIN_LISTINGS)
    _check(found)
    shares = next(out for argv, out, _ in found if argv == ("shares", "list"))
    assert "desc \\x1b]0;PWNED\\x07\\x1b[2J" in shares
    notes = next(out for argv, out, _ in found if argv == ("notifications", "list", "--json"))
    assert json.loads(notes)[0]["message"] == "desc " + ATTACK  # JSON keeps the text, escaped


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(min_codepoint=0, max_codepoint=0x2030), min_size=1, max_size=30))
def test_every_listing_escapes_arbitrary_stored_text(listed_service, monkeypatch, capsys, text):
    service, bob = listed_service
    _store(text)
    _check(_outputs(monkeypatch, capsys, service, bob, LISTINGS))


@pytest.mark.parametrize(("check", "value", "fine"), [
    (validation.description, "ok \x1b[2J", "two\nlines"),
    (validation.command, "jupyter \x07", "jupyter notebook"),
    (validation.message, "hi\x9b31m", "hi"),
    (lambda v: validation.text(v, "The group's description", 128, single_line=True), "a\nb", "a b"),
    (validation.notification_message, "see \x1b]52;c;x\x07", "see\nthis"),
    (validation.notification_target, "t\u2028x", "thesis"),
    (lambda v: validation.display_name(v, "x"), "Ann\x1b[31m", "Ann Lee"),
    (validation.email, "a\x9b@example.org", "a@example.org"),
])
def test_free_text_refuses_control_characters_on_the_way_in(check, value, fine):
    with pytest.raises(ValidationError, match="must not contain .*control characters"):
        check(value)
    assert check(fine) == fine
