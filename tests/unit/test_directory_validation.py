"""Directory input checks, filters, DN escaping, hashing and the local directory's edge cases.

No slapd here: LDAP pieces are checked as pure functions; the local directory runs on an
in-memory store.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl

import pytest
from ldap3.utils.dn import escape_rdn

from ipynbsrv_tui import validation
from ipynbsrv_tui.config import Config
from ipynbsrv_tui.directory import base as directory_base
from ipynbsrv_tui.directory import open_directory, sync_users
from ipynbsrv_tui.directory.ldap import (
    LdapDirectory,
    days_since_epoch,
    group_filter,
    parse_uri,
    shadow_expired,
    user_filter,
)
from ipynbsrv_tui.directory.local import LocalDirectory
from ipynbsrv_tui.directory.passwords import (
    hash_password,
    ldap_password_hash,
    verify_password,
)
from ipynbsrv_tui.domain import (
    AlreadyExists,
    ConfigError,
    Conflict,
    DirectoryError,
    DirectoryUnavailable,
    InvalidCredentials,
    NotFound,
    ValidationError,
)
from ipynbsrv_tui.store.db import close_database, open_database
from ipynbsrv_tui.store.models import Container, Group, Share, User

# ---------------------------------------------------------------------- filters and DNs


def test_user_filter_escapes_every_special_character():
    assert user_filter("*)(uid=*))(|(uid=*") == (
        "(&(objectClass=posixAccount)(|(uid=*\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a*)"
        "(cn=*\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a*)(mail=*\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a*)))"
    )
    assert user_filter(username="alice)(objectClass=*") == (
        "(&(objectClass=posixAccount)(uid=alice\\29\\28objectClass=\\2a))"
    )
    assert user_filter("a\\b\0c") == (
        "(&(objectClass=posixAccount)(|(uid=*a\\5cb\\00c*)(cn=*a\\5cb\\00c*)(mail=*a\\5cb\\00c*)))"
    )
    assert user_filter("") == "(objectClass=posixAccount)"


def test_group_filter_escapes():
    assert group_filter("x)(cn=*") == "(&(objectClass=posixGroup)(cn=x\\29\\28cn=\\2a))"
    assert group_filter() == "(objectClass=posixGroup)"


def test_rdn_escaping_keeps_a_dn_component_whole():
    assert escape_rdn("a,ou=evil+cn=x") == "a\\,ou\\=evil\\+cn\\=x"


@pytest.mark.parametrize(
    ("uri", "host", "port", "use_ssl"),
    [
        ("ldap://127.0.0.1", "127.0.0.1", 389, False),
        ("ldap://127.0.0.1:3890/", "127.0.0.1", 3890, False),
        ("ldaps://ldap.example.org", "ldap.example.org", 636, True),
        ("LDAPS://ldap.example.org:1636", "ldap.example.org", 1636, True),
    ],
)
def test_parse_uri(uri, host, port, use_ssl):
    target = parse_uri(uri)
    assert (target.host, target.port, target.use_ssl) == (host, port, use_ssl)


@pytest.mark.parametrize(
    "uri", ["", "http://x", "ldap://", "ldap://h:port", "ldap://h/dc=x", "127.0.0.1:389"]
)
def test_parse_uri_rejects(uri):
    with pytest.raises(ConfigError, match="directory.uri"):
        parse_uri(uri)


def test_tls_is_validated_against_the_system_store():
    ldaps = LdapDirectory(Config().replace(directory={"backend": "ldap", "uri": "ldaps://ldap.example.org"}))
    server = ldaps._make_server()
    assert server.ssl and server.tls.validate == ssl.CERT_REQUIRED and server.tls.ca_certs_file is None
    starttls = LdapDirectory(Config().replace(directory={"backend": "ldap", "start_tls": True}))
    assert starttls._start_tls and starttls._make_server().tls.validate == ssl.CERT_REQUIRED
    plain = LdapDirectory(Config().replace(directory={"backend": "ldap"}))
    assert plain._make_server().tls is None


def test_unreachable_server_says_what_to_check():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = LdapDirectory(
        Config().replace(directory={"backend": "ldap", "uri": f"ldap://127.0.0.1:{port}"})
    )
    with pytest.raises(
        DirectoryUnavailable, match=rf"ldap://127.0.0.1:{port} is unreachable: .* check directory.uri"
    ):
        directory.ping()


def test_bind_password_problems_are_named(tmp_path):
    no_password = Config().replace(directory={"backend": "ldap", "bind_dn": "cn=admin,dc=example,dc=org"})
    with pytest.raises(DirectoryError, match="bind_password_file"):
        LdapDirectory(no_password).ping()
    missing = no_password.replace(directory={"bind_password_file": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="bind_password_file"):
        LdapDirectory(missing).ping()


def test_shadow_expired():
    today = days_since_epoch()
    assert shadow_expired(1) and shadow_expired(0) and shadow_expired(today)
    assert not shadow_expired(None) and not shadow_expired(-1) and not shadow_expired(today + 30)


# ---------------------------------------------------------------------- ids and inputs


def test_next_free_id_skips_ids_the_host_uses():
    host = {2000, 2001, 2004}
    on_host = lambda what, number: number in host  # noqa: E731
    assert directory_base.next_free_id([], (2000, 2005), "uid", on_host) == 2002
    assert directory_base.next_free_id([2002, 2003], (2000, 2005), "uid", on_host) == 2005
    assert directory_base.next_free_id([2002, 2005], (2000, 2005), "gid", on_host) == 2003
    with pytest.raises(DirectoryError, match="No free uid"):
        directory_base.next_free_id([2002, 2003, 2005], (2000, 2005), "uid", on_host)
    # the real host: root's uid 0 and group 0 are never handed out
    assert directory_base.next_free_id([], (0, 70000), "uid") != 0
    assert directory_base.next_free_id([], (0, 70000), "gid") != 0


def test_next_free_id():
    assert directory_base.next_free_id([], (2000, 2005), "uid") == 2000
    assert directory_base.next_free_id([2000, 2003, 10, 99999], (2000, 2005), "uid") == 2004
    assert directory_base.next_free_id([2000, 2005], (2000, 2005), "uid") == 2001
    with pytest.raises(DirectoryError, match=r"uid_range \[1, 2\]"):
        directory_base.next_free_id([1, 2], (1, 2), "uid")


@pytest.mark.parametrize("value", ["", "a" * 1025, "with\nbreak", "nul\0"])
def test_check_password_rejects(value):
    with pytest.raises(ValidationError):
        validation.directory_password(value)


@pytest.mark.parametrize("value", ["nobody", "a@b", "a b@c.d", "a@b.c\nBcc: x@y.z", "<a@b.c>"])
def test_email_rejects(value):
    with pytest.raises(ValidationError):
        validation.email(value)


def test_display_name_is_one_line():
    assert validation.display_name("  Ada \t Lovelace ", "ada") == "Ada Lovelace"
    assert validation.display_name("", "ada") == "ada"
    with pytest.raises(ValidationError):
        validation.display_name("x\x1b[31m", "ada")


@pytest.mark.parametrize("value", ["", "-x", "x" * 33, "a)(b", "*"])
def test_login_names_that_are_not_usernames_are_wrong_credentials(value):
    with pytest.raises(InvalidCredentials, match="Wrong username or password"):
        directory_base.login_name(value)


# ---------------------------------------------------------------------- hashing


def test_scrypt_hash_is_salted_and_verifies():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second and first.startswith("scrypt$16384$8$1$") and "s3cret" not in first
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("S3cret", first)
    for broken in (
        None,
        "",
        "scrypt$1$2",
        "md5$x",
        first.replace("scrypt", "bcrypt"),
        "scrypt$16384$8$1$!!$!!",
    ):
        assert not verify_password("s3cret", broken)


def test_ssha_hash_is_what_slapd_expects():
    value = ldap_password_hash("s3cret")
    assert value.startswith("{SSHA}")
    raw = base64.b64decode(value[len("{SSHA}") :])
    digest, salt = raw[:20], raw[20:]
    assert len(salt) == 8 and hashlib.sha1(b"s3cret" + salt).digest() == digest
    assert ldap_password_hash("s3cret") != value


# ---------------------------------------------------------------------- local directory


@pytest.fixture
def local():
    open_database(":memory:")
    config = Config().replace(
        admins=("root",), directory={"uid_range": [3000, 3999], "gid_range": [3000, 3999]}
    )
    directory = open_directory(config)
    yield directory
    close_database()


def test_open_directory_picks_the_backend(local):
    assert isinstance(local, LocalDirectory)
    assert isinstance(open_directory(Config().replace(directory={"backend": "ldap"})), LdapDirectory)


def test_local_directory_needs_an_open_database():
    close_database()
    with pytest.raises(DirectoryError, match="open_database"):
        open_directory(Config())


def test_local_stores_only_a_scrypt_hash(local):
    user = local.create_user("ada", "correct horse", display_name="Ada")
    assert (user.uid, user.gid, user.groups) == (3000, 3000, ("ipynbsrv-users",))
    row = User.get(User.username == "ada")
    assert row.password_hash.startswith("scrypt$") and "correct horse" not in row.password_hash
    assert row.source == "local"
    assert local.authenticate("ada", "correct horse").username == "ada"


def test_local_injection_and_wildcards_match_nothing(local):
    local.create_user("ada", "pw-secret")
    for text in ["*)(uid=*))(|(uid=*", "alice)(objectClass=*", "%", "_", "' OR '1'='1"]:
        assert local.list_users(text) == []
        with pytest.raises((ValidationError, NotFound)):
            local.get_user(text)
        with pytest.raises(InvalidCredentials):
            local.authenticate(text, "pw-secret")
    assert [user.username for user in local.list_users("d")] == ["ada"]


def test_local_delete_keeps_a_tombstone_while_the_user_owns_things(local):
    local.create_user("ada", "pw-secret")
    local.create_group("team")
    local.add_member("team", "ada")
    owner = User.get(User.username == "ada")
    Container.create(name="nb", owner=owner, host_port=49152, token="t", base_url="/u/ada/nb/")
    local.delete_user("ada")
    with pytest.raises(NotFound):
        local.get_user("ada")
    with pytest.raises(InvalidCredentials):
        local.authenticate("ada", "pw-secret")
    row = User.get(User.username == "ada")
    assert (row.source, row.active, row.password_hash) == ("deleted", False, None)
    assert local.get_group("team").members == ()
    with pytest.raises(AlreadyExists, match="deleted account"):
        local.create_user("ada", "pw-secret")
    assert sync_users(local).deactivated == ()
    assert User.get(User.username == "ada").source == "deleted"


def test_local_delete_removes_a_user_who_owns_nothing(local):
    local.create_user("ada", "pw-secret")
    local.delete_user("ada")
    assert not User.select().where(User.username == "ada").exists()
    assert local.create_user("ada", "pw-secret").uid == 3000


def test_local_group_used_by_a_share_is_not_deleted(local):
    ada = local.create_user("ada", "pw-secret")
    group = local.create_group("team")
    Share.create(name="data", group=Group.get(Group.name == group.name), owner=User.get(User.uid == ada.uid))
    with pytest.raises(Conflict, match="share data"):
        local.delete_group("team")


def test_local_is_admin(local):
    local.create_user("ada", "pw-secret")
    assert not local.is_admin("ada")
    local.create_group("ipynbsrv-admins")
    local.add_member("ipynbsrv-admins", "ada")
    assert local.is_admin("ada") and local.is_admin("root") and not local.is_admin("nobody")
    report = sync_users(local)
    assert report.updated == ("ada",) and User.get(User.username == "ada").is_admin


def test_page_size_is_checked(local):
    with pytest.raises(ValidationError):
        local.list_users(page_size=0)
