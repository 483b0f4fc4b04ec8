"""LdapDirectory: users and groups in an LDAP server (OpenLDAP slapd), through ldap3.

Layout (DESIGN §7): users are `inetOrgPerson` + `posixAccount` (+ `shadowAccount`) entries
`uid=<name>,<user_base>`; groups are `posixGroup` entries `cn=<name>,<group_base>` listing
members by `memberUid`. Every value placed in a search filter goes through
`escape_filter_chars`, every RDN through `escape_rdn`; existing entries are modified by the
DN the server returned, never by a DN pieced together from input.

Passwords are sent to the server as salted `{SSHA}` hashes and are never logged or kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ldap3 import (
    BASE,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NONE,
    SAFE_SYNC,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.core.exceptions import (
    LDAPCommunicationError,
    LDAPException,
    LDAPResponseTimeoutError,
    LDAPStartTLSError,
)
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from .. import validation
from ..config import Config
from ..domain import (
    AlreadyExists,
    ConfigError,
    Conflict,
    DirectoryError,
    DirectoryGroup,
    DirectoryUnavailable,
    DirectoryUser,
    InvalidCredentials,
    NotAuthorized,
    NotFound,
    ValidationError,
)
from . import base
from .base import NOLOGIN_SHELL, WRONG_CREDENTIALS, Directory
from .passwords import ldap_password_hash

T = TypeVar("T")

USER_ATTRIBUTES = [
    "objectClass",
    "uid",
    "cn",
    "displayName",
    "mail",
    "uidNumber",
    "gidNumber",
    "homeDirectory",
    "loginShell",
    "shadowExpire",
]
STAMP_ATTRIBUTES = ["uidNumber", "userPassword", "shadowExpire", "modifyTimestamp"]
GROUP_ATTRIBUTES = ["cn", "gidNumber", "memberUid", "description"]
PAGED_RESULTS = "1.2.840.113556.1.4.319"
QUERY_MAX = 256

# LDAP result codes (RFC 4511) that get their own domain error.
SUCCESS = 0
STRONGER_AUTH_REQUIRED = 8
NO_SUCH_ATTRIBUTE = 16
ATTRIBUTE_OR_VALUE_EXISTS = 20
NO_SUCH_OBJECT = 32
INVALID_CREDENTIALS = 49
INSUFFICIENT_ACCESS = 50
BUSY = 51
UNAVAILABLE = 52
ALREADY_EXISTS = 68

_CONNECTION_ERRORS = (LDAPCommunicationError, LDAPResponseTimeoutError, OSError)


@dataclass(frozen=True)
class LdapTarget:
    """Where the LDAP server is, parsed from `directory.uri`."""

    uri: str
    host: str
    port: int
    use_ssl: bool


def parse_uri(uri: str) -> LdapTarget:
    """`ldap://host[:port]` or `ldaps://host[:port]` (a trailing slash is fine)."""
    text = (uri or "").strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in ("ldap", "ldaps") or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        raise ConfigError(
            f"directory.uri = {uri!r} is not an LDAP URI: expected ldap://host[:port] or ldaps://host[:port]."
        )
    use_ssl = scheme == "ldaps"
    return LdapTarget(text.rstrip("/"), parts.hostname, port or (636 if use_ssl else 389), use_ssl)


def user_filter(query: str = "", username: str | None = None) -> str:
    """The search filter for users: one exact `uid`, or uid/cn/mail containing `query` (escaped)."""
    if username is not None:
        return f"(&(objectClass=posixAccount)(uid={escape_filter_chars(username)}))"
    if not query:
        return "(objectClass=posixAccount)"
    value = escape_filter_chars(query)
    return f"(&(objectClass=posixAccount)(|(uid=*{value}*)(cn=*{value}*)(mail=*{value}*)))"


def group_filter(name: str | None = None) -> str:
    """The search filter for one posixGroup by name (escaped), or for all of them."""
    if name is None:
        return "(objectClass=posixGroup)"
    return f"(&(objectClass=posixGroup)(cn={escape_filter_chars(name)}))"


def days_since_epoch(now: datetime | None = None) -> int:
    """Today as the day count `shadowExpire` and `shadowLastChange` use."""
    return ((now or datetime.now(UTC)).date() - datetime(1970, 1, 1).date()).days


def shadow_expired(value: int | None, today: int | None = None) -> bool:
    """True when a `shadowExpire` day count lies in the past (absent or -1: never expires)."""
    if value is None or value < 0:
        return False
    return value <= (days_since_epoch() if today is None else today)


def _values(attributes: dict[str, Any], name: str) -> list[Any]:
    value = attributes.get(name)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _text(attributes: dict[str, Any], name: str) -> str:
    values = _values(attributes, name)
    if not values:
        return ""
    first = values[0]
    return first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)


def _number(attributes: dict[str, Any], name: str) -> int | None:
    text = _text(attributes, name).strip()
    try:
        return int(text)
    except ValueError:
        return None


def _quietly_unbind(connection: Connection) -> None:
    """Close a connection that is no longer needed; a dead one cannot be closed more."""
    with contextlib.suppress(*_CONNECTION_ERRORS, LDAPException):
        connection.unbind()


class LdapDirectory(Directory):
    """The user directory kept in an LDAP server, used through ldap3 (SAFE_SYNC, thread-safe).

    One admin connection (bound as `directory.bind_dn`) is opened on first use and shared
    by all threads; when it has gone stale (server restarted) it is reopened once. TLS:
    `ldaps://` URIs, or `start_tls = true` with `ldap://`; certificates are validated against
    the system CA store and the host name.

    Disabling an account adds `shadowAccount` if needed, sets `shadowExpire: 1` (expired
    since 2 Jan 1970; nslcd's PAM account check refuses expired accounts on the host and in
    the containers) and `loginShell: /usr/sbin/nologin`. `authenticate` refuses accounts whose
    shadowExpire lies in the past. Enabling removes shadowExpire and, when the shell is
    nologin, restores `directory.login_shell`.
    """

    kind = "ldap"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.target = parse_uri(self.settings.uri)
        self._start_tls = self.settings.start_tls and not self.target.use_ssl
        self._lock = threading.Lock()
        self._allocating = threading.RLock()  # one uid/gid allocation at a time in this process
        self._connection: Connection | None = None

    # ------------------------------------------------------------------ connections

    def _make_server(self) -> Server:
        """A new ldap3 Server per connection: a Server remembers failed addresses for a few
        seconds and would refuse to retry them right after the LDAP server came back."""
        tls = Tls(validate=ssl.CERT_REQUIRED) if (self.target.use_ssl or self._start_tls) else None
        return Server(
            self.target.host,
            port=self.target.port,
            use_ssl=self.target.use_ssl,
            tls=tls,
            get_info=NONE,
            connect_timeout=self.settings.timeout,
        )

    def _open(self, user: str | None, password: str | None) -> tuple[Connection, dict[str, Any]]:
        """A new connection, TLS started when configured, and the bind result."""
        connection = Connection(
            self._make_server(),
            user=user or None,
            password=password or None,
            client_strategy=SAFE_SYNC,
            raise_exceptions=False,
            receive_timeout=self.settings.timeout,
            auto_referrals=False,
        )
        try:
            connection.open()
            if self._start_tls:
                outcome = connection.start_tls()
                if not (outcome[0] if isinstance(outcome, tuple) else outcome):
                    raise LDAPStartTLSError("the server did not accept StartTLS")
            _, result, _, _ = connection.bind()
        except LDAPStartTLSError as exc:
            _quietly_unbind(connection)
            raise DirectoryError(
                f"StartTLS with {self.target.uri} failed: {exc}. Check that the server offers StartTLS and "
                "that its certificate is trusted by the system CA store, or set directory.start_tls = "
                "false."
            ) from None
        except _CONNECTION_ERRORS as exc:
            _quietly_unbind(connection)
            raise self._unreachable(exc) from None
        except LDAPException as exc:
            _quietly_unbind(connection)
            raise DirectoryError(f"Binding to LDAP server {self.target.uri} failed: {exc}.") from None
        return connection, result

    def _admin(self) -> tuple[Connection, bool]:
        """The shared admin connection and whether it was opened just now."""
        with self._lock:
            if self._connection is not None and not self._connection.closed:
                return self._connection, False
            password = self.settings.password()
            if self.settings.bind_dn and not password:
                raise DirectoryError(
                    f"directory.bind_dn is {self.settings.bind_dn} but no password is configured: "
                    "put it in the file directory.bind_password_file names."
                )
            connection, result = self._open(self.settings.bind_dn, password)
            if result["result"] != SUCCESS:
                _quietly_unbind(connection)
                who = self.settings.bind_dn or "anonymous"
                if result["result"] == INVALID_CREDENTIALS:
                    raise DirectoryError(
                        f"LDAP server {self.target.uri} rejected the bind as {who}: invalid credentials. "
                        "Check directory.bind_dn and directory.bind_password_file."
                    )
                self._check(result, f"bind as {who}")
            self._connection = connection
            return connection, True

    def _discard(self, connection: Connection) -> None:
        with self._lock:
            if self._connection is connection:
                self._connection = None
        _quietly_unbind(connection)

    def _call(self, operation: Callable[[Connection], T]) -> T:
        """Run `operation` on the admin connection; reopen a stale connection once."""
        while True:
            connection, fresh = self._admin()
            try:
                return operation(connection)
            except _CONNECTION_ERRORS as exc:
                self._discard(connection)
                if fresh:
                    raise self._unreachable(exc) from None
            except LDAPException as exc:
                raise DirectoryError(f"The LDAP request to {self.target.uri} failed: {exc}.") from None

    def _unreachable(self, exc: BaseException) -> DirectoryUnavailable:
        reason = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason or isinstance(exc, ssl.SSLError):
            return DirectoryUnavailable(
                f"TLS with LDAP server {self.target.uri} failed: {reason} — the server certificate must "
                "be trusted by the system CA store and match the host name in directory.uri"
            )
        return DirectoryUnavailable(
            f"LDAP server {self.target.uri} is unreachable: {reason} — check directory.uri and that slapd "
            "runs"
        )

    def close(self) -> None:
        """Unbind the shared admin connection."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            _quietly_unbind(connection)

    # ------------------------------------------------------------------ results and searches

    def _check(self, result: dict[str, Any], action: str, ok: Iterable[int] = (SUCCESS,)) -> int:
        """Turn an LDAP result into a domain error (or return its code when acceptable)."""
        code = result.get("result")
        if code in tuple(ok):
            return int(code)
        detail = result.get("description") or f"result {code}"
        if result.get("message"):
            detail += f": {result['message']}"
        if code == ALREADY_EXISTS:
            raise AlreadyExists(f"Cannot {action}: it exists already in the directory.")
        if code in (INSUFFICIENT_ACCESS, STRONGER_AUTH_REQUIRED):
            raise NotAuthorized(
                f"LDAP refused to {action}: insufficient access rights ({detail}) for "
                f"{self.settings.bind_dn or 'an anonymous bind'}. Set directory.bind_dn to an account "
                "that may write the user and group bases."
            )
        if code in (BUSY, UNAVAILABLE):
            raise DirectoryUnavailable(
                f"LDAP server {self.target.uri} is unavailable ({detail}) — try again shortly"
            )
        if code == NO_SUCH_OBJECT:
            raise NotFound(f"Cannot {action}: the entry does not exist in the directory.")
        raise DirectoryError(f"LDAP refused to {action}: {detail}.")

    def _search(
        self, base_dn: str, search_filter: str, attributes: list[str], key: str, page_size: int = 500
    ) -> list[dict[str, Any]]:
        """Every entry matching the filter under `base_dn`, fetched in pages."""

        def run(connection: Connection) -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = []
            cookie = None
            while True:
                _, result, response, _ = connection.search(
                    base_dn,
                    search_filter,
                    SUBTREE,
                    attributes=attributes,
                    paged_size=page_size,
                    paged_cookie=cookie,
                )
                if result.get("result") == NO_SUCH_OBJECT:
                    raise DirectoryError(
                        f"The LDAP base {base_dn} does not exist: check directory.{key} in config.toml."
                    )
                self._check(result, f"search {base_dn}")
                entries.extend(item for item in response or () if item.get("type") == "searchResEntry")
                controls = result.get("controls") or {}
                cookie = controls.get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
                if not cookie:
                    return entries

        return self._call(run)

    def _modify(self, dn: str, changes: dict[str, Any], action: str, ok: Iterable[int] = (SUCCESS,)) -> int:
        _, result, _, _ = self._call(lambda connection: connection.modify(dn, changes))
        return self._check(result, action, ok)

    def _find_user(self, username: str) -> dict[str, Any] | None:
        entries = self._search(
            self.settings.user_base, user_filter(username=username), USER_ATTRIBUTES, "user_base", page_size=2
        )
        if len(entries) > 1:
            raise DirectoryError(
                f"{len(entries)} LDAP entries have uid={username} under {self.settings.user_base}: "
                "make the uid unique."
            )
        return entries[0] if entries else None

    def _user_entry(self, username: str) -> dict[str, Any]:
        username = base.check_username(username)
        entry = self._find_user(username)
        if entry is None:
            raise NotFound(f"No user {username!r} in the directory.")
        return entry

    def _find_group(self, name: str) -> dict[str, Any] | None:
        entries = self._search(
            self.settings.group_base, group_filter(name), GROUP_ATTRIBUTES, "group_base", 2
        )
        if len(entries) > 1:
            raise DirectoryError(
                f"{len(entries)} LDAP groups are named {name} under {self.settings.group_base}: "
                "make the name unique."
            )
        return entries[0] if entries else None

    def _group_entry(self, name: str) -> dict[str, Any]:
        if not name:
            raise ValidationError("A group name is required.")
        entry = self._find_group(name)
        if entry is None:
            raise NotFound(f"No group {name!r} in the directory.")
        return entry

    def _group_entries(self) -> list[dict[str, Any]]:
        return self._search(self.settings.group_base, group_filter(), GROUP_ATTRIBUTES, "group_base")

    def _used_numbers(self, base_dn: str, object_class: str, attribute: str, key: str) -> list[int]:
        entries = self._search(base_dn, f"(objectClass={object_class})", [attribute], key)
        numbers = (_number(entry["attributes"], attribute) for entry in entries)
        return [number for number in numbers if number is not None]

    @staticmethod
    def _group_from(entry: dict[str, Any]) -> DirectoryGroup:
        attributes = entry["attributes"]
        members = tuple(sorted({str(value) for value in _values(attributes, "memberUid")}))
        return DirectoryGroup(
            name=_text(attributes, "cn"),
            gid=_number(attributes, "gidNumber") or 0,
            members=members,
            description=_text(attributes, "description"),
        )

    @staticmethod
    def _user_from(entry: dict[str, Any], groups: Iterable[DirectoryGroup]) -> DirectoryUser:
        attributes = entry["attributes"]
        username = _text(attributes, "uid")
        gid = _number(attributes, "gidNumber") or 0
        names = sorted({g.name for g in groups if g.gid == gid or username in g.members})
        return DirectoryUser(
            username=username,
            uid=_number(attributes, "uidNumber") or 0,
            gid=gid,
            display_name=_text(attributes, "displayName") or _text(attributes, "cn") or username,
            email=_text(attributes, "mail"),
            home=_text(attributes, "homeDirectory"),
            active=not shadow_expired(_number(attributes, "shadowExpire")),
            groups=tuple(names),
        )

    def _groups_for(self, username: str, gid: int) -> list[DirectoryGroup]:
        search_filter = (
            f"(&(objectClass=posixGroup)(|(memberUid={escape_filter_chars(username)})(gidNumber={int(gid)})))"
        )
        entries = self._search(self.settings.group_base, search_filter, GROUP_ATTRIBUTES, "group_base")
        return [self._group_from(entry) for entry in entries]

    def _to_user(self, entry: dict[str, Any]) -> DirectoryUser:
        attributes = entry["attributes"]
        groups = self._groups_for(_text(attributes, "uid"), _number(attributes, "gidNumber") or 0)
        return self._user_from(entry, groups)

    # ------------------------------------------------------------------ users

    def ping(self) -> None:
        """Connect, bind and check that `directory.user_base` exists."""

        def run(connection: Connection) -> dict[str, Any]:
            _, result, _, _ = connection.search(
                self.settings.user_base, "(objectClass=*)", BASE, attributes=["1.1"]
            )
            checked: dict[str, Any] = result
            return checked

        result = self._call(run)
        if result.get("result") == NO_SUCH_OBJECT:
            raise DirectoryError(
                f"The LDAP base {self.settings.user_base} does not exist: check directory.user_base in "
                "config.toml."
            )
        self._check(result, f"read {self.settings.user_base}")

    def list_users(self, query: str = "", page_size: int = 500) -> list[DirectoryUser]:
        """Users whose uid, cn or mail contains `query`, read with the paged-results control."""
        query = (query or "").strip()
        if len(query) > QUERY_MAX:
            raise ValidationError(f"The search text is longer than {QUERY_MAX} characters.")
        entries = self._search(
            self.settings.user_base,
            user_filter(query),
            USER_ATTRIBUTES,
            "user_base",
            validation.page_size(page_size),
        )
        groups = [self._group_from(entry) for entry in self._group_entries()]
        users = [self._user_from(entry, groups) for entry in entries]
        return sorted((user for user in users if user.username), key=lambda user: user.username)

    def get_user(self, username: str) -> DirectoryUser:
        return self._to_user(self._user_entry(username))

    def authenticate(self, username: str, password: str) -> DirectoryUser:
        """Find the user's DN, then bind as it with the password."""
        username = base.login_name(username)
        password = base.login_password(password)
        entry = self._find_user(username)
        if entry is None:
            raise InvalidCredentials(WRONG_CREDENTIALS)
        connection, result = self._open(entry["dn"], password)
        try:
            connection.unbind()
        except (*_CONNECTION_ERRORS, LDAPException) as exc:
            raise self._unreachable(exc) from None
        if result["result"] == INVALID_CREDENTIALS:
            raise InvalidCredentials(WRONG_CREDENTIALS)
        self._check(result, f"check the password of {username}")
        user = self._to_user(entry)
        if not user.active:
            raise InvalidCredentials(f"The account {username} is disabled. Ask an admin to enable it.")
        return user

    def credential_stamp(self, username: str) -> str | None:
        """A digest of the entry's DN, uidNumber and password hashes (read with the bind DN; where an
        ACL hides userPassword, its modifyTimestamp instead); None when it is gone or disabled."""
        entries = self._search(self.settings.user_base, user_filter(username=base.check_username(username)),
                               STAMP_ATTRIBUTES, "user_base", page_size=2)
        if len(entries) != 1:
            return None
        attributes = entries[0]["attributes"]
        if shadow_expired(_number(attributes, "shadowExpire")):
            return None
        passwords = sorted(bytes(v) if isinstance(v, (bytes, bytearray)) else str(v).encode()
                           for v in _values(attributes, "userPassword"))
        parts = [entries[0]["dn"].encode(), _text(attributes, "uidNumber").encode(),
                 *(passwords or [b"modified", _text(attributes, "modifyTimestamp").encode()])]
        return hashlib.sha256(b"\0".join(parts)).hexdigest()[:32]

    def create_user(
        self, username: str, password: str, display_name: str = "", email: str = "",
        uid: int | None = None, gid: int | None = None,
    ) -> DirectoryUser:
        username = base.check_not_reserved(base.check_username(username))
        password = validation.directory_password(password)
        name = validation.display_name(display_name, username)
        mail = validation.email(email)
        with self._allocating:
            if self._find_user(username) is not None:
                raise AlreadyExists(f"User {username} exists already in the directory.")
            primary_entry = self._ensure_users_group()
            primary = self._group_from(primary_entry)
            used = self._used_numbers(self.settings.user_base, "posixAccount", "uidNumber", "user_base")
            if uid is None:
                uid = base.next_free_id([*used, *base.retired_ids("uid")], self.settings.uid_range, "uid")
            else:
                uid = base.check_explicit_id(uid, "uid", used, username)
            if gid is not None:
                gid = base.check_explicit_id(gid, "gid", (), username)
            classes = list(
                dict.fromkeys([*self.settings.user_object_classes, "posixAccount", "shadowAccount"])
            )
            attributes: dict[str, Any] = {
                "uid": username,
                "cn": name,
                "uidNumber": uid,
                "gidNumber": primary.gid if gid is None else gid,
                "homeDirectory": f"/home/{username}",
                "loginShell": self.settings.login_shell,
                "userPassword": ldap_password_hash(password),
                "shadowLastChange": days_since_epoch(),
            }
            if "inetorgperson" in {c.lower() for c in classes}:
                attributes["sn"] = name.split()[-1]
                attributes["displayName"] = name
                if mail:
                    attributes["mail"] = mail
            dn = f"uid={escape_rdn(username)},{self.settings.user_base}"
            _, result, _, _ = self._call(lambda connection: connection.add(dn, classes, attributes))
            self._check(result, f"create user {username}")
        try:
            self._modify(
                primary_entry["dn"],
                {"memberUid": [(MODIFY_ADD, [username])]},
                f"add {username} to {primary.name}",
                ok=(SUCCESS, ATTRIBUTE_OR_VALUE_EXISTS),
            )
        except DirectoryError:
            with contextlib.suppress(DirectoryError):
                self._call(lambda connection: connection.delete(dn))
            raise
        return self.get_user(username)

    def _ensure_users_group(self) -> dict[str, Any]:
        """The entry of `directory.users_group`, created (posixGroup) when missing."""
        name = self.settings.users_group
        entry = self._find_group(name)
        if entry is None:
            with contextlib.suppress(AlreadyExists):  # created by someone else meanwhile
                self.create_group(name, description="Users of ipynbsrv (primary group of new accounts)")
            entry = self._group_entry(name)
        return entry

    def set_password(self, username: str, password: str) -> None:
        password = validation.directory_password(password)
        entry = self._user_entry(username)
        changes: dict[str, list[Any]] = {"userPassword": [(MODIFY_REPLACE, [ldap_password_hash(password)])]}
        if "shadowaccount" in {str(c).lower() for c in _values(entry["attributes"], "objectClass")}:
            changes["shadowLastChange"] = [(MODIFY_REPLACE, [days_since_epoch()])]
        self._modify(entry["dn"], changes, f"set the password of {username}")

    def set_active(self, username: str, active: bool) -> None:
        """Enable or disable an account (see the class docstring for how)."""
        entry = self._user_entry(username)
        attributes = entry["attributes"]
        classes = {str(c).lower() for c in _values(attributes, "objectClass")}
        changes: dict[str, list[Any]] = {}
        if active:
            if _values(attributes, "shadowExpire"):
                changes["shadowExpire"] = [(MODIFY_DELETE, [])]
            if _text(attributes, "loginShell") == NOLOGIN_SHELL:
                changes["loginShell"] = [(MODIFY_REPLACE, [self.settings.login_shell])]
        else:
            if "shadowaccount" not in classes:
                changes["objectClass"] = [(MODIFY_ADD, ["shadowAccount"])]
            changes["shadowExpire"] = [(MODIFY_REPLACE, [1])]
            changes["loginShell"] = [(MODIFY_REPLACE, [NOLOGIN_SHELL])]
        if changes:
            verb = "enable" if active else "disable"
            self._modify(entry["dn"], changes, f"{verb} {_text(attributes, 'uid')}")

    def delete_user(self, username: str) -> None:
        """Remove `username` from every group's memberUid, then delete the entry."""
        entry = self._user_entry(username)
        username = _text(entry["attributes"], "uid")
        member_filter = f"(&(objectClass=posixGroup)(memberUid={escape_filter_chars(username)}))"
        groups = self._search(self.settings.group_base, member_filter, ["cn"], "group_base")
        removed: list[str] = []
        try:
            for group in groups:
                self._modify(
                    group["dn"],
                    {"memberUid": [(MODIFY_DELETE, [username])]},
                    f"remove {username} from {_text(group['attributes'], 'cn')}",
                    ok=(SUCCESS, NO_SUCH_ATTRIBUTE),
                )
                removed.append(group["dn"])
            _, result, _, _ = self._call(lambda connection: connection.delete(entry["dn"]))
            self._check(result, f"delete user {username}")
        except DirectoryError:
            with contextlib.suppress(DirectoryError):
                for dn in removed:
                    self._modify(dn, {"memberUid": [(MODIFY_ADD, [username])]}, f"re-add {username} to {dn}")
            raise

    # ------------------------------------------------------------------ groups

    def list_groups(self) -> list[DirectoryGroup]:
        groups = [self._group_from(entry) for entry in self._group_entries()]
        return sorted(groups, key=lambda group: group.name)

    def get_group(self, name: str) -> DirectoryGroup:
        return self._group_from(self._group_entry(name))

    def create_group(self, name: str, gid: int | None = None, description: str = "") -> DirectoryGroup:
        name = base.check_group_name(name)
        gid = validation.group_id(gid)
        description = validation.display_name(description, "")
        with self._allocating:
            if self._find_group(name) is not None:
                raise AlreadyExists(f"Group {name} exists already in the directory.")
            used = self._used_numbers(self.settings.group_base, "posixGroup", "gidNumber", "group_base")
            if gid is None:
                gid = base.next_free_id([*used, *base.retired_ids("gid")], self.settings.gid_range, "gid")
            elif gid in used:
                raise AlreadyExists(
                    f"gid {gid} is used by another group already: choose another or leave it empty."
                )
            attributes: dict[str, Any] = {"cn": name, "gidNumber": gid}
            if description:
                attributes["description"] = description
            dn = f"cn={escape_rdn(name)},{self.settings.group_base}"
            _, result, _, _ = self._call(lambda connection: connection.add(dn, ["posixGroup"], attributes))
            self._check(result, f"create group {name}")
        return DirectoryGroup(name=name, gid=gid, members=(), description=description)

    def delete_group(self, name: str) -> None:
        entry = self._group_entry(name)
        group = self._group_from(entry)
        primary_of = self._search(
            self.settings.user_base,
            f"(&(objectClass=posixAccount)(gidNumber={group.gid}))",
            ["uid"],
            "user_base",
        )
        if primary_of:
            users = sorted(_text(user["attributes"], "uid") for user in primary_of)
            raise Conflict(
                f"Group {group.name} is the primary group of {', '.join(users[:5])}"
                f"{' …' if len(users) > 5 else ''}: move or delete those users first."
            )
        _, result, _, _ = self._call(lambda connection: connection.delete(entry["dn"]))
        self._check(result, f"delete group {group.name}")

    def add_member(self, group: str, username: str) -> None:
        username = _text(self._user_entry(username)["attributes"], "uid")
        entry = self._group_entry(group)
        self._modify(
            entry["dn"],
            {"memberUid": [(MODIFY_ADD, [username])]},
            f"add {username} to {group}",
            ok=(SUCCESS, ATTRIBUTE_OR_VALUE_EXISTS),
        )

    def remove_member(self, group: str, username: str) -> None:
        username = base.check_username(username)
        entry = self._group_entry(group)
        self._modify(
            entry["dn"],
            {"memberUid": [(MODIFY_DELETE, [username])]},
            f"remove {username} from {group}",
            ok=(SUCCESS, NO_SUCH_ATTRIBUTE),
        )

    def groups_of(self, username: str) -> tuple[str, ...]:
        return self.get_user(username).groups
