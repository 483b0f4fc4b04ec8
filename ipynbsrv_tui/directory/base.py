"""The one interface both user directories implement (DESIGN §7), and what they share.

Callers (service layer, `users sync`) code against `Directory` only. Every method takes
plain strings from people, validates them here, and raises the domain errors:
ValidationError (bad name or password), NotFound, AlreadyExists, InvalidCredentials,
NotAuthorized, Conflict, DirectoryUnavailable and DirectoryError.
"""

from __future__ import annotations

import abc
import grp
import itertools
import pwd
from collections.abc import Callable, Iterable

from .. import validation
from ..config import Config
from ..domain import (
    AlreadyExists,
    DirectoryError,
    DirectoryGroup,
    DirectoryUser,
    InvalidCredentials,
    NotFound,
    ValidationError,
)

WRONG_CREDENTIALS = "Wrong username or password."
NOLOGIN_SHELL = "/usr/sbin/nologin"


class Directory(abc.ABC):
    """A user directory: users, POSIX groups, passwords and who is an admin.

    `kind` is "ldap" or "local"; it is also the `source` of the store rows `sync_users`
    mirrors from this directory.
    """

    kind: str = ""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.directory

    # ------------------------------------------------------------------ interface

    @abc.abstractmethod
    def ping(self) -> None:
        """Check the directory answers; DirectoryUnavailable (with a hint) when it does not."""

    @abc.abstractmethod
    def list_users(self, query: str = "", page_size: int = 500) -> list[DirectoryUser]:
        """Users whose username, display name or email contains `query` (all when empty)."""

    @abc.abstractmethod
    def get_user(self, username: str) -> DirectoryUser:
        """One user with their groups; NotFound when there is none."""

    @abc.abstractmethod
    def authenticate(self, username: str, password: str) -> DirectoryUser:
        """Check a password; InvalidCredentials when wrong, empty or the account is disabled."""

    @abc.abstractmethod
    def create_user(
        self, username: str, password: str, display_name: str = "", email: str = "",
        uid: int | None = None, gid: int | None = None,
    ) -> DirectoryUser:
        """A new account with the given uid / primary gid or the next free uid and the users group;
        AlreadyExists when taken; root and the host's system accounts are refused."""

    @abc.abstractmethod
    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password (stored salted and hashed)."""

    @abc.abstractmethod
    def set_active(self, username: str, active: bool) -> None:
        """Disable (False) or enable (True) an account; disabled accounts cannot authenticate."""

    @abc.abstractmethod
    def delete_user(self, username: str) -> None:
        """Remove an account and its membership in every group."""

    @abc.abstractmethod
    def list_groups(self) -> list[DirectoryGroup]:
        """Every POSIX group with its members."""

    @abc.abstractmethod
    def get_group(self, name: str) -> DirectoryGroup:
        """One group; NotFound when there is none."""

    @abc.abstractmethod
    def create_group(self, name: str, gid: int | None = None, description: str = "") -> DirectoryGroup:
        """A new POSIX group (next free gid from the range unless given); AlreadyExists when taken."""

    @abc.abstractmethod
    def delete_group(self, name: str) -> None:
        """Remove a group; Conflict while it is some user's primary group."""

    @abc.abstractmethod
    def add_member(self, group: str, username: str) -> None:
        """Make a user a member of a group (no error when they are one already)."""

    @abc.abstractmethod
    def remove_member(self, group: str, username: str) -> None:
        """End a user's membership of a group (no error when they are not a member)."""

    @abc.abstractmethod
    def groups_of(self, username: str) -> tuple[str, ...]:
        """Names of the user's groups: their primary group and every group listing them."""

    def credential_stamp(self, username: str) -> str | None:
        """What changes when the account's password is changed in the directory itself, outside
        ipynbsrv (None: no such account, or disabled). A web session ends when it moves (DESIGN §16).
        "" where only ipynbsrv changes passwords (the store's credential version covers those)."""
        return ""

    # ------------------------------------------------------------------ shared behaviour

    def is_admin(self, username: str) -> bool:
        """Admins are uid 0, members of `directory.admin_group` and the names in `config.admins`."""
        if username in self.config.admins:
            return True
        try:
            user = self.get_user(username)
        except (NotFound, ValidationError):
            return False
        return self.user_is_admin(user)

    def user_is_admin(self, user: DirectoryUser) -> bool:
        """`is_admin` for a user already looked up (its `groups` must be filled in)."""
        return (
            user.uid == 0 or user.username in self.config.admins or self.settings.admin_group in user.groups
        )

    def close(self) -> None:
        """Release connections; a directory without any (the local one) has nothing to do."""
        return None

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ---------------------------------------------------------------------- input checks


def check_username(value: str) -> str:
    """A valid POSIX portable username (ValidationError otherwise)."""
    return validation.username(value)


def check_group_name(value: str) -> str:
    """A valid POSIX group name (ValidationError otherwise)."""
    return validation.group_name(value)


def login_name(value: str) -> str:
    """The username for a login attempt; a malformed one is simply wrong credentials."""
    try:
        return validation.username(value)
    except ValidationError:
        raise InvalidCredentials(WRONG_CREDENTIALS) from None


def login_password(value: str) -> str:
    """The password of a login attempt: an empty one never reaches the server (anonymous bind)."""
    if not isinstance(value, str) or not value:
        raise InvalidCredentials("A password is required.")
    return value


SYSTEM_ID_MAX = 999  # uids / gids below 1000 are the host's system accounts and groups
# nobody / nogroup (65534) and the 16- and 32-bit "-1"s: system ids above 1000 (NFS's anonymous
# user, "no id" to chown), never a person's
NOBODY_IDS = frozenset({65534, 65535, 2**32 - 2, 2**32 - 1})
RESERVED_NAMES = frozenset({"root", "nobody", "nogroup"})


def host_uses(what: str, number: int) -> bool:
    """Whether this host already has an account (`what` = "uid") or group ("gid") with `number`."""
    try:
        (pwd.getpwuid if what == "uid" else grp.getgrgid)(number)
    except KeyError:
        return False
    return True


def check_not_reserved(username: str) -> str:
    """Refuse root and the host's system accounts (uid < 1000) as directory users (DESIGN §7)."""
    try:
        host_uid: int | None = pwd.getpwnam(username).pw_uid
    except KeyError:
        host_uid = None
    if username in RESERVED_NAMES or (
        host_uid is not None and (host_uid <= SYSTEM_ID_MAX or host_uid in NOBODY_IDS)
    ):
        raise ValidationError(
            f"{username!r} is reserved: it is root, nobody or a system account of this host (uid < 1000). "
            "Choose another name."
        )
    return username


def check_explicit_id(number: object, what: str, used: Iterable[int], username: str = "") -> int:
    """An id an admin gave: a whole number from 1000, not the directory's already, and not the host's
    unless it is the host account of the same name (handing a host account over to the directory)."""
    if isinstance(number, bool) or not isinstance(number, int) or not SYSTEM_ID_MAX < number < 2**31:
        raise ValidationError(
            f"{what} {number!r} is not valid: expected a whole number from 1000 to 2147483647."
        )
    if number in NOBODY_IDS:
        raise ValidationError(
            f"{what} {number} is reserved for nobody / nogroup: choose another or leave it empty."
        )
    if number in set(used):
        raise AlreadyExists(
            f"{what} {number} is used in the directory already: choose another or leave it empty."
        )
    if host_uses(what, number):
        owner = pwd.getpwuid(number).pw_name if what == "uid" else grp.getgrgid(number).gr_name
        if what == "uid" and owner != username:
            raise AlreadyExists(
                f"uid {number} belongs to the host account {owner!r}: give {username!r} another uid, or "
                "name the directory user after that host account."
            )
    return number


def retired_ids(what: str) -> set[int]:
    """The uids (`what` = "uid") or gids ("gid") retired in the store (DESIGN §14): a deleted share's,
    group's or user's number while a kept folder or a running container may still carry it. Empty
    where no store is open (a directory used on its own)."""
    from ..store.models import RetiredId, database_proxy

    if database_proxy.obj is None:
        return set()
    return {number for (number,) in RetiredId.select(RetiredId.number).where(RetiredId.kind == what).tuples()}


def next_free_id(
    used: Iterable[int], id_range: tuple[int, int], what: str,
    on_host: Callable[[str, int], bool] | None = None,
) -> int:
    """The id after the highest one used in `id_range`, or the lowest gap when that is past the end.

    Ids the host already uses (`getpwuid` / `getgrgid`, DESIGN §7) are skipped too, so that a
    login account can be made with the same uid. Preferring the id above the highest avoids
    handing a recently deleted account's uid (and the files that may still carry it) to a new
    person while the range has room.
    """
    first, last = id_range
    on_host = on_host or host_uses
    taken = {number for number in used if first <= number <= last}
    start = max(taken) + 1 if taken else first
    for number in itertools.chain(range(start, last + 1), range(first, min(start, last + 1))):
        if number not in taken and number not in NOBODY_IDS and not on_host(what, number):
            return number
    raise DirectoryError(
        f"No free {what} left in directory.{what}_range [{first}, {last}] (ids the host uses are skipped): "
        "widen the range in config.toml."
    )
