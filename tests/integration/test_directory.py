"""Every directory operation against both LdapDirectory (a real slapd) and LocalDirectory (SQLite).

Both start from the same seed: alice (uid 2001) and bob (uid 2002) in `ipynbsrv-users`
(gid 2000), and an empty `ipynbsrv-admins` (gid 2100).
"""

from __future__ import annotations

import functools

import pytest
from ldap3 import BASE, SAFE_SYNC, Connection, Server

from ipynbsrv_tui.directory import cached_users, open_directory, sync_status, sync_users
from ipynbsrv_tui.directory.ldap import LdapDirectory
from ipynbsrv_tui.directory.passwords import hash_password
from ipynbsrv_tui.domain import (
    AlreadyExists,
    Conflict,
    DirectoryError,
    DirectoryUnavailable,
    InvalidCredentials,
    NotAuthorized,
    NotFound,
    ValidationError,
)
from ipynbsrv_tui.store.db import close_database, open_database
from ipynbsrv_tui.store.models import Group, GroupMember, Setting, User
from tests.fixtures.slapd import SEED_USERS

USERS_GROUP = "ipynbsrv-users"
ADMIN_GROUP = "ipynbsrv-admins"
INJECTIONS = ["*)(uid=*))(|(uid=*", "alice)(objectClass=*", "*", "alice*", "al\\2a", "(uid=alice)"]


@functools.cache
def _seed_hash(password: str) -> str:
    return hash_password(password)


def seed_local() -> None:
    """The LDAP seed, written into the store as local rows."""
    users = Group.create(name=USERS_GROUP, gid=2000, kind="primary", source="local")
    Group.create(name=ADMIN_GROUP, gid=2100, kind="admin", source="local")
    for seed in SEED_USERS.values():
        row = User.create(
            username=seed.username,
            uid=seed.uid,
            gid=seed.gid,
            display_name=seed.display_name,
            email=f"{seed.username}@example.org",
            home=f"/home/{seed.username}",
            source="local",
            password_hash=_seed_hash(seed.password),
        )
        GroupMember.create(group=users, user=row)


@pytest.fixture(params=[pytest.param("ldap", marks=pytest.mark.ldap), "local"])
def config(request, tmp_config):
    """A Config for one backend, with the store open and the seed in place."""
    if request.param == "ldap":
        config = request.getfixturevalue("ldap_directory_config")
    else:
        config = tmp_config.replace(directory={"backend": "local"})
    open_database(config.database.resolved_path)
    if request.param == "local":
        seed_local()
    yield config
    close_database()


@pytest.fixture
def directory(config):
    with open_directory(config) as directory:
        yield directory


# ---------------------------------------------------------------------- users


def test_ping_and_kind(directory, config):
    directory.ping()
    assert directory.kind == config.directory.backend


def test_list_users_returns_the_seed(directory):
    users = directory.list_users()
    assert [user.username for user in users] == ["alice", "bob"]
    alice = users[0]
    assert (alice.uid, alice.gid, alice.display_name) == (2001, 2000, "Alice Liddell")
    assert (alice.email, alice.home, alice.active) == ("alice@example.org", "/home/alice", True)
    assert alice.groups == (USERS_GROUP,)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ali", ["alice"]),
        ("ALI", ["alice"]),
        ("Builder", ["bob"]),
        ("example.org", ["alice", "bob"]),
        ("zed", []),
    ],
)
def test_list_users_searches_uid_name_and_mail(directory, query, expected):
    assert [user.username for user in directory.list_users(query)] == expected


def test_list_users_in_pages_of_one(directory):
    directory.create_user("carol", "carol-secret")
    assert [user.username for user in directory.list_users(page_size=1)] == ["alice", "bob", "carol"]


def test_get_user_and_not_found(directory):
    bob = directory.get_user("bob")
    assert (bob.username, bob.uid, bob.groups) == ("bob", 2002, (USERS_GROUP,))
    with pytest.raises(NotFound, match="nobody"):
        directory.get_user("nobody")


def test_authenticate(directory):
    assert directory.authenticate("alice", "alice-secret").uid == 2001
    for username, password in [
        ("alice", "wrong"),
        ("alice", ""),
        ("nobody", "alice-secret"),
        ("bob", "alice-secret"),
    ]:
        with pytest.raises(InvalidCredentials):
            directory.authenticate(username, password)


def test_create_user(directory):
    carol = directory.create_user(
        "carol", "carol-secret", display_name="Carol  Danvers", email="carol@example.org"
    )
    assert (carol.uid, carol.gid, carol.home) == (2003, 2000, "/home/carol")
    assert (carol.display_name, carol.email, carol.active) == ("Carol Danvers", "carol@example.org", True)
    assert carol.groups == (USERS_GROUP,)
    assert directory.get_group(USERS_GROUP).members == ("alice", "bob", "carol")
    assert directory.authenticate("carol", "carol-secret").username == "carol"
    dave = directory.create_user("dave", "dave-secret")
    assert (dave.uid, dave.display_name) == (2004, "dave")
    with pytest.raises(AlreadyExists):
        directory.create_user("carol", "another-secret")


@pytest.mark.parametrize("username", ["-rf", "Carol", "a" * 33, "", "carol smith", "caröl", "x,ou=evil"])
def test_create_user_rejects_bad_usernames(directory, username):
    with pytest.raises(ValidationError):
        directory.create_user(username, "secret")
    assert [user.username for user in directory.list_users()] == ["alice", "bob"]


@pytest.mark.parametrize(("password", "email"), [("", ""), ("pw\nx", ""), ("ok-secret", "not-an-email")])
def test_create_user_rejects_bad_password_or_email(directory, password, email):
    with pytest.raises(ValidationError):
        directory.create_user("carol", password, email=email)


def test_create_user_creates_a_missing_users_group(config):
    fresh = config.replace(directory={"users_group": "fresh-users"})
    with open_directory(fresh) as directory:
        carol = directory.create_user("carol", "carol-secret")
        group = directory.get_group("fresh-users")
    assert (group.gid, group.members) == (2101, ("carol",))
    assert carol.gid == 2101
    assert carol.groups == ("fresh-users",)


def test_set_password(directory):
    directory.set_password("alice", "new-secret")
    assert directory.authenticate("alice", "new-secret").username == "alice"
    with pytest.raises(InvalidCredentials):
        directory.authenticate("alice", "alice-secret")
    with pytest.raises(ValidationError):
        directory.set_password("alice", "")
    with pytest.raises(NotFound):
        directory.set_password("nobody", "x-secret")


def test_disable_and_enable(directory):
    directory.set_active("bob", False)
    assert directory.get_user("bob").active is False
    with pytest.raises(InvalidCredentials, match="disabled"):
        directory.authenticate("bob", "bob-secret")
    directory.set_active("bob", False)
    directory.set_active("bob", True)
    assert directory.get_user("bob").active is True
    assert directory.authenticate("bob", "bob-secret").username == "bob"


def test_delete_user_leaves_no_memberships(directory):
    directory.add_member(ADMIN_GROUP, "bob")
    directory.delete_user("bob")
    with pytest.raises(NotFound):
        directory.get_user("bob")
    with pytest.raises(InvalidCredentials):
        directory.authenticate("bob", "bob-secret")
    assert all("bob" not in group.members for group in directory.list_groups())
    assert [user.username for user in directory.list_users()] == ["alice"]
    with pytest.raises(NotFound):
        directory.delete_user("bob")


# ---------------------------------------------------------------------- groups


def test_list_and_get_groups(directory):
    groups = {group.name: group for group in directory.list_groups()}
    assert set(groups) == {USERS_GROUP, ADMIN_GROUP}
    assert (groups[USERS_GROUP].gid, groups[USERS_GROUP].members) == (2000, ("alice", "bob"))
    assert (groups[ADMIN_GROUP].gid, groups[ADMIN_GROUP].members) == (2100, ())
    assert directory.get_group(USERS_GROUP) == groups[USERS_GROUP]
    with pytest.raises(NotFound):
        directory.get_group("nope")


def test_create_and_delete_groups(directory):
    team = directory.create_group("team", description="The team")
    assert (team.name, team.gid, team.members, team.description) == ("team", 2101, (), "The team")
    assert directory.create_group("fixed", gid=3000).gid == 3000
    assert directory.create_group("after-fixed").gid == 3001
    with pytest.raises(AlreadyExists):
        directory.create_group("team")
    with pytest.raises(AlreadyExists):
        directory.create_group("other", gid=3000)
    with pytest.raises(ValidationError):
        directory.create_group("Bad Name")
    directory.delete_group("team")
    with pytest.raises(NotFound):
        directory.get_group("team")
    with pytest.raises(Conflict, match="primary group"):
        directory.delete_group(USERS_GROUP)


def test_members(directory):
    directory.create_group("team")
    directory.add_member("team", "alice")
    directory.add_member("team", "alice")
    directory.add_member("team", "bob")
    assert directory.get_group("team").members == ("alice", "bob")
    assert directory.groups_of("alice") == (USERS_GROUP, "team")
    directory.remove_member("team", "alice")
    directory.remove_member("team", "alice")
    assert directory.get_group("team").members == ("bob",)
    assert directory.groups_of("alice") == (USERS_GROUP,)
    with pytest.raises(NotFound):
        directory.add_member("team", "nobody")
    with pytest.raises(NotFound):
        directory.add_member("no-such-group", "alice")
    with pytest.raises(NotFound):
        directory.groups_of("nobody")


def test_is_admin(directory, config):
    assert directory.is_admin("alice") is False
    directory.add_member(ADMIN_GROUP, "alice")
    assert directory.is_admin("alice") is True
    assert directory.is_admin("nobody") is False
    with open_directory(config.replace(admins=("bob", "root"))) as configured:
        assert configured.is_admin("bob") is True
        assert configured.is_admin("root") is True


# ---------------------------------------------------------------------- injection


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_matches_nothing_or_is_rejected(directory, text):
    assert directory.list_users(text) == []
    with pytest.raises((ValidationError, NotFound)):
        directory.get_user(text)
    with pytest.raises(InvalidCredentials):
        directory.authenticate(text, "alice-secret")
    with pytest.raises((ValidationError, NotFound)):
        directory.groups_of(text)
    with pytest.raises(NotFound):
        directory.get_group(text)
    with pytest.raises((ValidationError, NotFound)):
        directory.add_member(USERS_GROUP, text)
    with pytest.raises(ValidationError):
        directory.create_user(text, "secret-pw")
    with pytest.raises(ValidationError):
        directory.create_group(text)
    assert directory.is_admin(text) is False
    assert [group.members for group in directory.list_groups() if group.name == USERS_GROUP] == [
        ("alice", "bob")
    ]


# ---------------------------------------------------------------------- sync


def test_sync_mirrors_users_and_groups(directory):
    first = sync_users(directory)
    if directory.kind == "ldap":
        assert first.added == ("alice", "bob")
    else:
        assert first.added == ()
    assert first.errors == () and first.deactivated == ()
    rows = {row.username: row for row in User.select()}
    assert {name: (row.uid, row.source, row.active) for name, row in rows.items()} == {
        "alice": (2001, directory.kind, True),
        "bob": (2002, directory.kind, True),
    }
    if directory.kind == "ldap":
        assert all(row.password_hash is None for row in rows.values())
    status = sync_status()
    assert status.synced_at is not None and status.error == "" and not status.stale

    directory.add_member(ADMIN_GROUP, "alice")
    directory.set_active("bob", False)
    second = sync_users(directory)
    # The local directory is the store: bob's row was deactivated by set_active itself.
    expected_deactivated = ("bob",) if directory.kind == "ldap" else ()
    assert (second.added, second.updated, second.deactivated) == ((), ("alice",), expected_deactivated)
    assert User.get(User.username == "bob").active is False
    assert User.get(User.username == "alice").is_admin is True
    members = {
        name
        for (name,) in User.select(User.username)
        .join(GroupMember)
        .join(Group)
        .where(Group.name == ADMIN_GROUP)
        .tuples()
    }
    assert members == {"alice"}

    directory.delete_user("bob")
    third = sync_users(directory)
    assert third.deactivated == () and third.errors == ()
    assert [user.username for user in cached_users()] == ["alice", "bob"][
        : 2 if directory.kind == "ldap" else 1
    ]
    assert [user.username for user in cached_users("ALI")] == ["alice"]
    assert sync_users(directory).updated == ()


# ---------------------------------------------------------------------- LDAP only


def _admin_connection(slapd) -> Connection:
    connection = Connection(
        Server(slapd.host, port=slapd.port), slapd.admin_dn, slapd.admin_password, client_strategy=SAFE_SYNC
    )
    connection.bind()
    return connection


def _entry(slapd, dn: str) -> dict:
    connection = _admin_connection(slapd)
    try:
        _, _, response, _ = connection.search(dn, "(objectClass=*)", BASE, attributes=["*"])
    finally:
        connection.unbind()
    return response[0]["raw_attributes"]


@pytest.mark.ldap
def test_ldap_entries_as_written(slapd, ldap_directory_config):
    open_database(ldap_directory_config.database.resolved_path)
    try:
        with open_directory(ldap_directory_config) as directory:
            assert isinstance(directory, LdapDirectory)
            directory.create_user("carol", "carol-secret", email="carol@example.org")
            dn = f"uid=carol,{ldap_directory_config.directory.user_base}"
            entry = _entry(slapd, dn)
            assert {c.decode() for c in entry["objectClass"]} >= {
                "inetOrgPerson",
                "posixAccount",
                "shadowAccount",
            }
            assert entry["userPassword"][0].startswith(b"{SSHA}")
            assert b"carol-secret" not in entry["userPassword"][0]
            assert entry["loginShell"] == [b"/bin/bash"]
            directory.set_active("carol", False)
            entry = _entry(slapd, dn)
            assert (entry["shadowExpire"], entry["loginShell"]) == ([b"1"], [b"/usr/sbin/nologin"])
            directory.set_active("carol", True)
            entry = _entry(slapd, dn)
            assert (entry.get("shadowExpire", []), entry["loginShell"]) == ([], [b"/bin/bash"])
    finally:
        close_database()


@pytest.mark.ldap
def test_ldap_refusals_are_clear(ldap_directory_config):
    anonymous = ldap_directory_config.replace(directory={"bind_dn": "", "bind_password": ""})
    with open_directory(anonymous) as directory:
        assert [user.username for user in directory.list_users()] == ["alice", "bob"]
        with pytest.raises(NotAuthorized, match="insufficient access"):
            directory.create_group("team")
    base = ldap_directory_config.directory.user_base
    as_alice = ldap_directory_config.replace(
        directory={"bind_dn": f"uid=alice,{base}", "bind_password": "alice-secret"}
    )
    with open_directory(as_alice) as directory:
        with pytest.raises(NotAuthorized, match="insufficientAccessRights"):
            directory.create_user("carol", "carol-secret")
        with pytest.raises(NotAuthorized):
            directory.set_active("bob", False)
    wrong = ldap_directory_config.replace(directory={"bind_password": "wrong"})
    with open_directory(wrong) as directory, pytest.raises(DirectoryError, match="bind_dn"):
        directory.ping()
    missing = ldap_directory_config.replace(directory={"user_base": "ou=nowhere,dc=example,dc=org"})
    with open_directory(missing) as directory, pytest.raises(DirectoryError, match="user_base"):
        directory.list_users()


@pytest.mark.ldap
def test_slapd_down_gives_clear_error_and_cached_list(slapd, ldap_directory_config):
    open_database(ldap_directory_config.database.resolved_path)
    directory = open_directory(ldap_directory_config)
    try:
        sync_users(directory)
        slapd.stop()
        with pytest.raises(DirectoryUnavailable) as caught:
            directory.list_users()
        message = str(caught.value)
        assert slapd.uri in message and "check directory.uri and that slapd runs" in message
        with pytest.raises(DirectoryUnavailable):
            directory.authenticate("alice", "alice-secret")
        with pytest.raises(DirectoryUnavailable):
            sync_users(directory)
        status = sync_status()
        assert status.stale and "unreachable" in status.error
        assert Setting.get_by_id("directory.sync_error").value == status.error
        assert [user.username for user in cached_users()] == ["alice", "bob"]
    finally:
        slapd.start()
    try:
        assert directory.authenticate("alice", "alice-secret").username == "alice"
        report = sync_users(directory)
        assert report.errors == () and not sync_status().stale
    finally:
        directory.close()
        close_database()
