"""Validation of values people type or write in config.toml: names, usernames, image references,
ports, sizes, config keys, directory entries. Every validator of the project lives here.

Each function returns the normalised value or raises ValidationError with a message
that says what is expected.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .domain import ValidationError

USERNAME_MAX = 32
_USERNAME = re.compile(r"^[a-z_][a-z0-9_.-]*$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_GROUP_NAME = _USERNAME

# Docker reference grammar (distribution/reference), without digests' algorithm table.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")

# Length limits of free text, checked before anything is made (DESIGN §8), so that one user's
# data can never make another user's list exceed the broker's message limit.
DESCRIPTION_MAX = 1000
COMMAND_MAX = 4096
MESSAGE_MAX = 2000
# The largest size the engine represents (a signed 64-bit byte count).
MEMORY_MAX = (1 << 63) - 1

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}



def _string(value: object, what: str) -> str:
    """`value` when it is text (None reads as empty); ValidationError for any other type."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {type(value).__name__}.")
    return value


def _whole(value: object, what: str = "The value") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be a whole number, not {type(value).__name__}.")
    return value


def username(value: str) -> str:
    """A POSIX portable user name: lower case, starts with a letter or _, at most 32 characters."""
    value = _string(value, "The username")
    value = (value or "").strip()
    if not value:
        raise ValidationError("A username is required.")
    if value.startswith("-"):
        raise ValidationError(f"Username {value!r} must not start with a dash.")
    if len(value) > USERNAME_MAX:
        raise ValidationError(f"Username {value!r} is longer than {USERNAME_MAX} characters.")
    if not _USERNAME.match(value):
        raise ValidationError(
            f"Username {value!r} is not valid: use lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter or '_'."
        )
    return value


def group_name(value: str) -> str:
    """A POSIX group name, same rules as a username."""
    try:
        return username(value)
    except ValidationError as exc:
        raise ValidationError(
            str(exc).replace("Username", "Group name").replace("username", "group name")
        ) from None


def container_name(value: str) -> str:
    """A container name: letters, digits, '_', '.', '-'; starts with a letter or digit; ≤ 64 chars."""
    value = _string(value, "The container name")
    value = (value or "").strip()
    if not value:
        raise ValidationError("A container name is required.")
    if len(value) > 64:
        raise ValidationError(f"Container name {value!r} is longer than 64 characters.")
    if not _CONTAINER_NAME.match(value):
        raise ValidationError(
            f"Container name {value!r} is not valid: use letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return value


def image_name(value: str) -> str:
    """The registered name of an image (same rules as a container name)."""
    try:
        return container_name(value)
    except ValidationError as exc:
        raise ValidationError(
            str(exc).replace("Container name", "Image name").replace("container name", "image name")
        ) from None


def image_reference(value: str) -> str:
    """A Docker image reference such as `ipynbsrv/ipython3-notebook:latest`."""
    value = _string(value, "The image reference")
    value = (value or "").strip()
    if not value:
        raise ValidationError("An image reference is required, e.g. ipynbsrv/ipython3-notebook:latest.")
    if len(value) > 255 or not _REFERENCE.match(value):
        raise ValidationError(
            f"{value!r} is not a valid image reference: expected [registry/]name[:tag], lower-case "
            "name components, e.g. ipynbsrv/ipython3-notebook:latest."
        )
    return value


def split_reference(value: str) -> tuple[str, str]:
    """`repo:tag` → (repo, tag); the tag defaults to `latest`."""
    match = _REFERENCE.match(image_reference(value))
    assert match is not None
    return match.group("name"), match.group("tag") or "latest"


def port(value: int | str, *, what: str = "Port") -> int:
    """A TCP port number, 1–65535."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError(f"{what} {value!r} is not a number: expected 1-65535.") from None
    if not 1 <= number <= 65535:
        raise ValidationError(f"{what} {number} is out of range: expected 1-65535.")
    return number


def port_list(value: str | list[Any] | tuple[Any, ...]) -> tuple[int, ...]:
    """A comma-separated list of ports, e.g. `22, 8080`; empty is allowed."""
    items = (
        value if isinstance(value, list | tuple) else [p for p in str(value).replace(" ", "").split(",") if p]
    )
    return tuple(port(p, what="Public port") for p in items)


def port_range(value: list[Any] | tuple[Any, ...]) -> tuple[int, int]:
    """A `[first, last]` pair of ports with first ≤ last."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValidationError(f"{value!r} is not a port range: expected [first, last], e.g. [49152, 49999].")
    first, last = port(value[0]), port(value[1])
    if first > last:
        raise ValidationError(
            f"Port range [{first}, {last}] is empty: the first port must not exceed the last."
        )
    return first, last


def memory(value: str | int) -> int:
    """A memory size like `2g`, `512m`, `1.5G`, `1024k` or a byte count → bytes (at least 6 MiB)."""
    if isinstance(value, bool):
        raise ValidationError(f"Memory size {value!r} is not valid: expected e.g. 512m or 2g.")
    if isinstance(value, int):
        number = value
    elif not isinstance(value, str):
        raise ValidationError(f"Memory size must be text such as 2g, not {type(value).__name__}.")
    else:
        match = _SIZE.match(value) if len(value) <= 64 else None
        if not match:
            raise ValidationError(
                f"Memory size {value!r} is not valid: expected a number with an optional unit "
                "b, k, m, g or t, e.g. 512m or 2g."
            )
        number = int(Decimal(match.group(1)) * _UNITS[match.group(2).lower()])
    if number < 6 * 1024**2:
        raise ValidationError(f"Memory size {value!r} is too small: Docker needs at least 6m.")
    if number > MEMORY_MAX:
        raise ValidationError(f"Memory size {value!r} is larger than the engine can represent (8 EiB).")
    return number


def text(value: object, what: str, limit: int, *, single_line: bool = False) -> str:
    """Free text of at most `limit` characters (one line when `single_line`). The one validator of
    every text a person writes (descriptions, messages, commands, names shown to others): control
    characters are refused (a line break only where `single_line` is False), so no terminal
    escape is ever stored (DESIGN §8)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {type(value).__name__}.")
    if len(value) > limit:
        raise ValidationError(f"{what} is {len(value)} characters long; the most is {limit}. Shorten it.")
    return no_controls(value, what, allow_newline=not single_line)


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def no_controls(value: object, what: str = "The text", *, allow_newline: bool = False) -> str:
    """`value` when it is text holding no control character (C0, DEL, C1, the Unicode line
    separators; a newline only with `allow_newline`), else ValidationError naming the first one."""
    value = _string(value, what)
    for match in _CONTROLS.finditer(value):
        if allow_newline and match.group() == "\n":
            continue
        breaks = "" if allow_newline else "line breaks, "
        raise ValidationError(
            f"{what} must not contain {breaks}tabs or other control characters (found "
            f"U+{ord(match.group()):04X} at character {match.start() + 1}): remove it."
        )
    return value


def description(value: object) -> str:
    """A description: at most DESCRIPTION_MAX characters."""
    return text(value, "The description", DESCRIPTION_MAX)


def command(value: object) -> str:
    """An image's command template: one line of at most COMMAND_MAX characters."""
    return text(value, "The command", COMMAND_MAX, single_line=True)


def message(value: object) -> str:
    """A notification's message."""
    return text(value, "The message", MESSAGE_MAX)


def format_bytes(number: int | float) -> str:
    """Bytes as a short human size: 1.5G, 512M, 3.0K."""
    value = float(number)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}".replace(".0", "")
        value /= 1024
    return f"{value:.1f}T"


def cpus(value: float | str) -> float:
    """A CPU limit: a positive number of CPUs, e.g. 0.5 or 2."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(f"CPU limit must be a number such as 0.5 or 2, not {type(value).__name__}.")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValidationError(f"CPU limit {value!r} is not a number: expected e.g. 0.5 or 2.") from None
    if not 0.01 <= number <= 1024:
        raise ValidationError(f"CPU limit {number} is out of range: expected 0.01 to 1024.")
    return number


_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def build_args(value: str | dict[Any, Any]) -> dict[str, str]:
    """Build arguments as `KEY=VALUE` lines (blank lines and `#` comments skipped) → dict."""
    if isinstance(value, dict):
        items = [(str(k), str(v)) for k, v in value.items()]
    else:
        items = []
        for number, raw in enumerate(str(value).splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, arg = line.partition("=")
            if not sep:
                raise ValidationError(f"Build argument line {number} ({line!r}) has no '=': write KEY=VALUE.")
            items.append((key.strip(), arg.strip()))
    for key, _arg in items:
        if not _BUILD_ARG.match(key):
            raise ValidationError(
                f"Build argument name {key!r} is not valid: use letters, digits and '_', starting with a "
                "letter or '_'."
            )
    return dict(items)


def group_names(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """A comma-separated list of group names, e.g. `physics, chemistry`; empty is allowed."""
    items = (
        value if isinstance(value, list | tuple) else [p.strip() for p in str(value).split(",") if p.strip()]
    )
    return tuple(dict.fromkeys(group_name(p) for p in items))


PASSWORD_MIN = 8


def password(value: str) -> str:
    """A new password: at least 8 characters (the service's minimum), no NUL or line breaks."""
    value = _string(value, "The password")
    if not value or len(value) < PASSWORD_MIN:
        raise ValidationError(f"A password of at least {PASSWORD_MIN} characters is required.")
    if any(ch in value for ch in "\0\r\n"):
        raise ValidationError("The password must not contain NUL characters or line breaks.")
    return value


def in_range(value: int, low: int, high: int, unit: str) -> int:
    """A whole number between low and high (inclusive)."""
    _whole(value)
    if not low <= value <= high:
        raise ValidationError(f"expected {low} to {high} {unit}, got {value}")
    return value


def listen_address(value: str) -> str:
    """`host:port`, `[v6]:port` or a bare port (all addresses), as nginx's `listen` takes it."""
    value = _string(value, "The listen address")
    host, port_text = split_listen(value)
    if host and not re.fullmatch(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", host):
        raise ValidationError(f"expected host:port such as 127.0.0.1:8443 or [::1]:8443, got {value!r}")
    port(port_text, what="The listen port")
    return value


def split_listen(value: str) -> tuple[str, str]:
    """(host, port) of a listen address; host "" means every address."""
    value = _string(value, "The listen address")
    value = value.strip()
    if value.isdigit():
        return "", value
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValidationError(f"expected host:port such as 0.0.0.0:443, got {value!r}")
    return host, port_text


def public_url(value: str) -> str:
    """"" or an https:// (or http://) URL without a path, query or fragment, e.g. https://nb.example.org."""
    value = _string(value, "The URL")
    if value == "":
        return value
    match = re.fullmatch(r"(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?/?", value)
    if not match:
        raise ValidationError(
            f"expected a URL such as https://notebooks.example.org (no path), got {value!r}"
        )
    return value.rstrip("/")


# --------------------------------------------------------------------------- configuration


def one_of(value: str, allowed: tuple[str, ...]) -> str:
    """One of the `allowed` words (a config key such as [directory] backend)."""
    if value not in allowed:
        raise ValidationError(f"expected one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def id_range(value: Any) -> tuple[int, int]:
    """A [first, last] range of uids or gids, 1 <= first <= last."""
    if not isinstance(value, list | tuple) or len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value) or not 1 <= value[0] <= value[1]:
        raise ValidationError(f"expected [first, last] with 1 <= first <= last, got {value!r}")
    return (value[0], value[1])


def seconds(value: int) -> int:
    """A duration in seconds from 0 (off) to a year."""
    _whole(value, "A number of seconds")
    if not 0 <= value <= 31_536_000:
        raise ValidationError(f"expected seconds from 0 (off) to 31536000 (a year), got {value}")
    return value


def _text_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(entry, str) for entry in value):
        raise ValidationError(f"expected a list of {what}, got {value!r}")
    return tuple(value)


def node_engines(value: Any) -> tuple[str, ...]:
    """[swarm] node_engines: "NODE=URL" entries with a unix://, tcp:// or ssh:// engine URL."""
    entries = _text_list(value, '"NODE=URL" strings')
    for entry in entries:
        node, _, url = entry.partition("=")
        if not node or not re.match(r"^(unix|tcp|ssh)://", url):
            raise ValidationError(
                f'expected "NODE=URL" entries with a unix://, tcp:// or ssh:// URL, got {entry!r}'
            )
    return entries


def swarm_constraints(value: Any) -> tuple[str, ...]:
    """Swarm placement constraints: `node.labels.KEY==VALUE`, `node.role!=manager` …"""
    entries = _text_list(value, "Swarm constraints")
    for entry in entries:
        if not re.match(r"^[\w.-]+\s*(==|!=)\s*\S+$", entry):
            raise ValidationError(
                f'expected Swarm constraints like "node.labels.ipynbsrv.notebooks==true", got {entry!r}'
            )
    return entries


def fraction(value: Any) -> float:
    """A number from 0.0 to 1.0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValidationError(f"expected a fraction from 0.0 to 1.0, got {value!r}")
    return float(value)


def registry_address(value: Any) -> str:
    """"" or HOST:PORT of a Docker registry (no scheme, no path)."""
    if not isinstance(value, str) or (value and not re.fullmatch(r"[a-zA-Z0-9.-]+(:\d{1,5})?", value)):
        raise ValidationError(
            'expected HOST:PORT of a registry (no scheme, no path), e.g. "registry.example.org:5000", got '
            f'{value!r}'
        )
    return value


# --------------------------------------------------------------------------- directory entries

DISPLAY_NAME_MAX = 128
EMAIL_MAX = 254
PASSWORD_MAX = 1024


def directory_password(password: str) -> str:
    """A password the directory stores: not empty, at most 1024 characters, no NUL or line breaks."""
    if not isinstance(password, str) or not password:
        raise ValidationError("A password is required.")
    if len(password) > PASSWORD_MAX:
        raise ValidationError(f"The password is longer than {PASSWORD_MAX} characters.")
    if any(ch in password for ch in "\0\r\n"):
        raise ValidationError("The password must not contain NUL characters or line breaks.")
    return password


def display_name(value: str, fallback: str) -> str:
    """A one-line display name (the username when empty)."""
    value = _string(value, "The display name")
    text = " ".join((value or "").split())
    if len(text) > DISPLAY_NAME_MAX:
        raise ValidationError(f"The display name is longer than {DISPLAY_NAME_MAX} characters.")
    return no_controls(text, "The display name") or fallback


def email(value: str) -> str:
    """An email address of the form name@domain, or empty."""
    value = _string(value, "The e-mail address")
    text = (value or "").strip()
    if not text:
        return ""
    name, at, domain = text.partition("@")
    if (
        not at
        or not name
        or "." not in domain
        or len(text) > EMAIL_MAX
        or any(ch.isspace() or ch in "<>()," for ch in text)
        or "@" in domain
    ):
        raise ValidationError(f"{text!r} is not an email address: expected name@domain.example.")
    return no_controls(text, "The e-mail address")


def group_id(value: int | None) -> int | None:
    """An explicit gid for a new group: a whole number from 1 to 2**31-1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
        raise ValidationError(f"gid {value!r} is not valid: expected a whole number from 1 to 2147483647.")
    return value


def page_size(value: int) -> int:
    """A page size for paged listings: 1 to 10000."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10000:
        raise ValidationError(f"page_size {value!r} is not valid: expected 1 to 10000.")
    return value


SHARE_PREFIX = "share-"
SHARE_NAME_MAX = USERNAME_MAX - len(SHARE_PREFIX)
NOTIFICATION_MAX = 1000
TARGET_MAX = 128


def share_name(value: str) -> str:
    """A share name: group-name rules, short enough for its group `share-<name>` (26 characters)."""
    value = (_string(value, "The share name") or "").strip()
    if len(value) > SHARE_NAME_MAX:
        raise ValidationError(f"Share name {value!r} is longer than {SHARE_NAME_MAX} characters.")
    try:
        return username(value)
    except ValidationError as exc:
        raise ValidationError(
            str(exc).replace("Username", "Share name").replace("username", "share name")
        ) from None


def notification_message(value: str) -> str:
    """A notification message: 1 to 1000 characters; line breaks allowed, other control characters
    (ANSI escapes included) not, so it shows literally in every list."""
    text = (_string(value, "The message") or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError("A message is required.")
    if len(text) > NOTIFICATION_MAX:
        raise ValidationError(
            f"The message is longer than {NOTIFICATION_MAX} characters ({len(text)}): shorten it."
        )
    return no_controls(text, "The message", allow_newline=True)


def notification_target(value: str) -> str:
    """What a notification is about (a name), at most 128 characters, one line."""
    text = (_string(value, "The subject") or "").strip()
    if len(text) > TARGET_MAX:
        raise ValidationError(f"The notification's subject is longer than {TARGET_MAX} characters.")
    return no_controls(text, "The notification's subject")


# --------------------------------------------------------------------------- backups (DESIGN §17)

RESTIC_BACKENDS = ("local:", "sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:")


def restic_repository(value: Any) -> str:
    """"" or a restic repository: an absolute path, or one of restic's backend prefixes."""
    if (
        not isinstance(value, str)
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
        or value.startswith("-")
    ):
        raise ValidationError(f"expected a restic repository (a path, sftp:…, rest:…), got {value!r}")
    if value and not value.startswith("/") and not value.startswith(RESTIC_BACKENDS):
        raise ValidationError(
            f'expected an absolute path or a restic backend such as "sftp:user@host:/srv/restic" or '
            f'"rest:https://host:8000/", got {value!r}')
    return value


def absolute_path_or_empty(value: Any) -> str:
    """"" or an absolute path (no control characters)."""
    if not isinstance(value, str) or any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or (
            value and not value.startswith("/")):
        raise ValidationError(
            f'expected an absolute path such as "/etc/ipynbsrv/restic-password", got {value!r}'
        )
    return value


_DAILY = re.compile(r"daily (\d{2}):(\d{2})")
_EVERY = re.compile(r"every (\d+) ?(m|min|minutes?|h|hours?)")


def parse_schedule(value: str) -> tuple[str, int]:
    """A backup schedule: ("daily", minute of the day) for "daily HH:MM" (local time), or
    ("every", seconds) for "every N minutes" / "every N hours" (5 minutes to 7 days)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    daily = _DAILY.fullmatch(text)
    if daily and int(daily.group(1)) < 24 and int(daily.group(2)) < 60:
        return "daily", int(daily.group(1)) * 60 + int(daily.group(2))
    every = _EVERY.fullmatch(text)
    if every:
        seconds = int(every.group(1)) * (3600 if every.group(2).startswith("h") else 60)
        if 300 <= seconds <= 7 * 86_400:
            return "every", seconds
    raise ValidationError(
        f'expected "daily HH:MM" (e.g. "daily 02:30") or "every N hours" / "every N minutes" '
        f"(5 minutes to 7 days), got {value!r}")


def backup_schedule(value: Any) -> str:
    """A schedule `parse_schedule` accepts, kept as written."""
    parse_schedule(value)
    return str(value)


def command_line(value: Any) -> str:
    """"" or one command line (no control characters, at most 1024 characters)."""
    if not isinstance(value, str) or len(value) > 1024 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError(f"expected one command line without control characters, got {value!r}")
    return value
