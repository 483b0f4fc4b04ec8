"""config.toml → frozen dataclasses.

Lookup order (DESIGN §10): `--config PATH`, `$IPYNBSRV_CONFIG`, `/etc/ipynbsrv/config.toml`;
with no file the embedded defaults serve. Not `./config.toml`: an admin standing in a checkout
must not silently get another database. Every error names
the file, the line (where it can be found) and the key, and says what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import validation
from .domain import ConfigError, ValidationError

SYSTEM_CONFIG = Path("/etc/ipynbsrv/config.toml")
ENV_VAR = "IPYNBSRV_CONFIG"
DEFAULT_BROKER_SOCKET = "/run/ipynbsrv/ipynbsrv.sock"
BROKER_SOCKET_VAR = "IPYNBSRV_BROKER_SOCKET"


def user_data_dir() -> Path:
    """Where per-user state lives when the config does not say (the embedded default)."""
    given = os.environ.get("IPYNBSRV_DATA_DIR")
    if given:
        return Path(given)
    import platformdirs  # only here: a configured installation never needs it, and it loads slowly

    return Path(platformdirs.user_data_dir("ipynbsrv-tui"))


def default_broker_socket() -> str:
    """`[broker] socket` when the config names none: $IPYNBSRV_BROKER_SOCKET, else the installed
    path. The test session sets the variable, so no test's config can reach a live broker."""
    return os.environ.get(BROKER_SOCKET_VAR) or DEFAULT_BROKER_SOCKET


@dataclass(frozen=True)
class DatabaseConfig:
    """[database]"""

    path: str = ""

    @property
    def resolved_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else user_data_dir() / "ipynbsrv.db"


@dataclass(frozen=True)
class DockerConfig:
    """[docker]"""

    url: str = ""
    timeout: int = 120


@dataclass(frozen=True)
class DirectoryConfig:
    """[directory]"""

    backend: str = "local"
    uri: str = "ldap://127.0.0.1:389"
    start_tls: bool = False
    bind_dn: str = ""
    bind_password_file: str = ""
    bind_password: str = field(default="", repr=False)
    user_base: str = "ou=people,dc=example,dc=org"
    group_base: str = "ou=groups,dc=example,dc=org"
    user_object_classes: tuple[str, ...] = ("inetOrgPerson", "posixAccount")
    admin_group: str = "ipynbsrv-admins"
    users_group: str = "ipynbsrv-users"
    uid_range: tuple[int, int] = (2000, 59999)
    gid_range: tuple[int, int] = (2000, 59999)
    login_shell: str = "/bin/bash"
    timeout: int = 5
    sync_interval: int = 300

    def password(self) -> str:
        """The bind password: inline for tests, otherwise read from bind_password_file."""
        if self.bind_password:
            return self.bind_password
        if not self.bind_password_file:
            return ""
        try:
            return Path(self.bind_password_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"directory.bind_password_file: cannot read {self.bind_password_file}: {exc.strerror}. "
                "Create it (mode 0600) with the bind password on one line."
            ) from None


@dataclass(frozen=True)
class DataConfig:
    """[data]"""

    root: str = "/srv/ipynbsrv/data"

    @property
    def path(self) -> Path:
        return Path(self.root).expanduser()


@dataclass(frozen=True)
class NotebooksConfig:
    """[notebooks]"""

    bind_address: str = "127.0.0.1"
    public_host: str = ""
    port_range: tuple[int, int] = (49152, 49999)
    memory: str = "2g"
    cpus: float = 1.0
    pids: int = 512
    idle_timeout: int = 0
    idle_action: str = "stop"
    suspended_stop_after: int = 0
    stop_timeout: int = 10
    max_memory: str = "8g"
    max_cpus: float = 4.0
    ssh_port: int = 22

    @property
    def memory_bytes(self) -> int:
        return validation.memory(self.memory)

    @property
    def max_memory_bytes(self) -> int:
        return validation.memory(self.max_memory)


@dataclass(frozen=True)
class QuotasConfig:
    """[quotas]: what one non-admin user may have at once (admins are not limited)."""

    containers_per_user: int = 10
    running_per_user: int = 3


@dataclass(frozen=True)
class BuildConfig:
    """[build]"""

    dockerfiles: str = "dockerfiles"
    base_image: str = "debian:bookworm-slim"
    wheelhouse: bool = True
    image_prefix: str = "ipynbsrv"
    suite: str = "bookworm"
    mirror: str = ""


@dataclass(frozen=True)
class BrokerConfig:
    """[broker]"""

    socket: str = field(default_factory=default_broker_socket)
    reconcile_interval: int = 60
    max_message_bytes: int = 1048576


@dataclass(frozen=True)
class WebConfig:
    """[web]: nginx in front of the notebooks, run by the broker (DESIGN §16)."""

    enabled: bool = False
    listen: str = "0.0.0.0:443"
    tls_cert: str = ""
    tls_key: str = ""
    public_url: str = ""
    session_hours: int = 12
    max_connections: int = 4096
    connections_per_address: int = 256
    client_timeout: int = 15
    directory_check_seconds: int = 60
    public_folders: bool = False


@dataclass(frozen=True)
class EngineConfig:
    """[engine]"""

    mode: str = "docker"


@dataclass(frozen=True)
class SwarmConfig:
    """[swarm] (DESIGN §15)"""

    constraints: tuple[str, ...] = ("node.labels.ipynbsrv.notebooks==true",)
    node_engines: tuple[str, ...] = ()
    reserve: float = 0.25
    start_timeout: int = 120

    def node_engine_urls(self) -> dict[str, str]:
        """{node name, hostname or id: engine URL} from the "NODE=URL" entries."""
        return dict(entry.split("=", 1) for entry in self.node_engines)


@dataclass(frozen=True)
class RegistryConfig:
    """[registry]"""

    url: str = ""


@dataclass(frozen=True)
class BackupConfig:
    """[backup]: restic backups of homes, shares and the database, run by the broker (DESIGN §17)."""

    enabled: bool = False
    repository: str = ""
    password_file: str = ""
    schedule: str = "daily 02:30"
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    ssh_command: str = ""


@dataclass(frozen=True)
class Config:
    """The whole effective configuration; `source` is the file it came from (None = defaults)."""

    admins: tuple[str, ...] = ()
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    docker: DockerConfig = field(default_factory=DockerConfig)
    directory: DirectoryConfig = field(default_factory=DirectoryConfig)
    data: DataConfig = field(default_factory=DataConfig)
    notebooks: NotebooksConfig = field(default_factory=NotebooksConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    web: WebConfig = field(default_factory=WebConfig)
    quotas: QuotasConfig = field(default_factory=QuotasConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    swarm: SwarmConfig = field(default_factory=SwarmConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    source: Path | None = None

    def replace(self, **sections: Any) -> Config:
        """A copy with whole sections or keys replaced: `cfg.replace(data={"root": "/x"})`."""
        changes: dict[str, Any] = {}
        for name, value in sections.items():
            current = getattr(self, name)
            if (
                isinstance(value, dict)
                and dataclasses.is_dataclass(current)
                and not isinstance(current, type)
            ):
                changes[name] = dataclasses.replace(current, **value)
            else:
                changes[name] = value
        return dataclasses.replace(self, **changes)


SECTIONS: dict[str, type] = {
    "database": DatabaseConfig,
    "docker": DockerConfig,
    "directory": DirectoryConfig,
    "data": DataConfig,
    "notebooks": NotebooksConfig,
    "build": BuildConfig,
    "broker": BrokerConfig,
    "web": WebConfig,
    "quotas": QuotasConfig,
    "engine": EngineConfig,
    "swarm": SwarmConfig,
    "registry": RegistryConfig,
    "backup": BackupConfig,
}

def _memory(value: str) -> str:
    validation.memory(value)
    return value


def _within(low: int, high: int, unit: str = "") -> Callable[[int], int]:
    """A check that a whole number lies in [low, high]."""
    return lambda value: validation.in_range(value, low, high, unit)


# Every numeric key has a range (DESIGN §10): a value outside it is a config error.
_CHECKS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("directory", "backend"): lambda v: validation.one_of(v, ("local", "ldap")),
    ("directory", "uid_range"): validation.id_range,
    ("directory", "gid_range"): validation.id_range,
    ("notebooks", "port_range"): validation.port_range,
    ("notebooks", "memory"): _memory,
    ("notebooks", "cpus"): validation.cpus,
    ("notebooks", "idle_timeout"): validation.seconds,
    ("notebooks", "idle_action"): lambda v: validation.one_of(v, ("stop", "suspend")),
    ("notebooks", "suspended_stop_after"): validation.seconds,
    ("notebooks", "max_memory"): _memory,
    ("notebooks", "max_cpus"): validation.cpus,
    ("notebooks", "pids"): _within(16, 4_194_304, "processes"),
    ("notebooks", "stop_timeout"): _within(0, 3600, "seconds"),
    ("notebooks", "ssh_port"): _within(0, 65_535, "(0 = the Port of /etc/ssh/sshd_config)"),
    ("docker", "timeout"): _within(1, 3600, "seconds"),
    ("directory", "timeout"): _within(1, 600, "seconds"),
    ("directory", "sync_interval"): _within(0, 86_400, "seconds (0 = only at `users sync`)"),
    ("broker", "reconcile_interval"): _within(0, 86_400, "seconds (0 = only on request)"),
    ("broker", "max_message_bytes"): _within(65_536, 1 << 30, "bytes"),
    ("quotas", "containers_per_user"): _within(0, 100_000, "containers"),
    ("quotas", "running_per_user"): _within(0, 100_000, "containers"),
    ("build", "base_image"): validation.image_reference,
    ("web", "listen"): validation.listen_address,
    ("web", "public_url"): validation.public_url,
    ("web", "session_hours"): lambda v: validation.in_range(v, 1, 720, "hours"),
    ("web", "max_connections"): _within(256, 65_536, "connections"),
    ("web", "connections_per_address"): _within(8, 65_536, "connections"),
    ("web", "client_timeout"): _within(2, 600, "seconds"),
    ("web", "directory_check_seconds"): _within(1, 3600, "seconds"),
    ("engine", "mode"): lambda v: validation.one_of(v, ("docker", "swarm")),
    ("swarm", "constraints"): validation.swarm_constraints,
    ("swarm", "node_engines"): validation.node_engines,
    ("swarm", "reserve"): validation.fraction,
    ("swarm", "start_timeout"): lambda v: validation.in_range(v, 1, 3600, "seconds"),
    ("registry", "url"): validation.registry_address,
    ("backup", "repository"): validation.restic_repository,
    ("backup", "password_file"): validation.absolute_path_or_empty,
    ("backup", "schedule"): validation.backup_schedule,
    ("backup", "keep_daily"): _within(0, 3660, "daily snapshots"),
    ("backup", "keep_weekly"): _within(0, 520, "weekly snapshots"),
    ("backup", "keep_monthly"): _within(0, 1200, "monthly snapshots"),
    ("backup", "ssh_command"): validation.command_line,
}


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use, per the lookup order; None means embedded defaults."""
    if explicit:
        return _given_file(Path(explicit), "given with --config", "Check the path")
    env = os.environ.get(ENV_VAR)
    if env:
        return _given_file(Path(env), f"from ${ENV_VAR}", "Check the path or unset it")
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def _given_file(path: Path, origin: str, advice: str) -> Path:
    """`path` when it is a readable file; otherwise one line saying what is expected instead."""
    if path.is_dir():
        hint = f" (e.g. {path / 'config.toml'})" if (path / "config.toml").is_file() else ""
        raise ConfigError(
            f"{path}: is a folder ({origin}); a TOML file is expected{hint}. "
            "Give the file itself, e.g. --config /etc/ipynbsrv/config.toml."
        )
    if not path.is_file():
        raise ConfigError(f"{path}: no such file ({origin}). {advice}: a TOML file is expected.")
    return path


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Find and load the configuration (see the module docstring)."""
    path = find_config(explicit)
    if path is None:
        return Config()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read it: {exc.strerror or exc}. Check the path and its permissions."
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}). "
            "Save the file as UTF-8."
        ) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | None = None) -> Config:
    """Parse TOML text into a Config, validating every key."""
    where = str(path) if path else "<config>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_of_decode_error(exc, text)
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise ConfigError(f"{where}:{line}: invalid TOML: {reason}. Fix the syntax on that line.") from None

    sections: dict[str, Any] = {}
    admins: tuple[str, ...] = ()
    for key, value in raw.items():
        if key == "admins":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _key_error(where, text, None, "admins", "a list of usernames, e.g. [\"alice\"]", value)
            admins = tuple(value)
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise _key_error(where, text, None, key, f"a [{key}] table", value)
            sections[key] = _section(where, text, key, SECTIONS[key], value)
        else:
            known = ", ".join(["admins", *SECTIONS])
            raise ConfigError(
                f"{where}:{_line_of_key(text, None, key)}: unknown key {key!r}; known: {known}."
            )
    config = Config(admins=admins, source=path, **sections)
    _check_backup(where, text, config.backup)
    return config


def _check_backup(where: str, text: str, backup: BackupConfig) -> None:
    """[backup] enabled needs a repository and a password file, and keeps at least one snapshot."""
    if not backup.enabled:
        return
    for key in ("repository", "password_file"):
        if not getattr(backup, key):
            raise ConfigError(
                f"{where}:{_line_of_key(text, 'backup', 'enabled')}: backup.{key} is empty but "
                f"backup.enabled = true: set backup.{key} (see the Backups page of the admins' guide)."
            )
    if backup.keep_daily + backup.keep_weekly + backup.keep_monthly == 0:
        raise ConfigError(
            f"{where}:{_line_of_key(text, 'backup', 'keep_daily')}: backup.keep_daily, keep_weekly and "
            "keep_monthly are all 0: restic would forget every snapshot. Keep at least one."
        )


def _section(where: str, text: str, name: str, cls: type, values: dict[str, Any]) -> Any:
    defaults = cls()
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"{where}:{_line_of_key(text, name, key)}: unknown key {name}.{key}; "
                f"known keys in [{name}]: {', '.join(k for k in known if k != 'bind_password')}."
            )
        default = getattr(defaults, key)
        try:
            value = _coerce(value, default)
            check = _CHECKS.get((name, key))
            if check is not None:
                value = check(value)
        except ValidationError as exc:
            raise _key_error(where, text, name, key, str(exc), value) from None
        except TypeError as exc:
            raise _key_error(where, text, name, key, str(exc), value) from None
        kwargs[key] = value
    return cls(**kwargs)


def _coerce(value: Any, default: Any) -> Any:
    """Check the TOML type against the default's type."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected a whole number")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("expected a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError("expected a string in quotes")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise TypeError("expected a list")
        if default and isinstance(default[0], int):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise TypeError("expected a list of whole numbers")
        elif default and isinstance(default[0], str):
            if not all(isinstance(v, str) for v in value):
                raise TypeError("expected a list of strings")
        return tuple(value)
    return value


def _key_error(
    where: str, text: str, section: str | None, key: str, expected: str, value: Any
) -> ConfigError:
    dotted = f"{section}.{key}" if section else key
    return ConfigError(
        f"{where}:{_line_of_key(text, section, key)}: {dotted} = {value!r}: {expected.rstrip('.')}."
    )


def _line_of_decode_error(exc: tomllib.TOMLDecodeError, text: str) -> int | str:
    lineno: int | None = getattr(exc, "lineno", None)
    if lineno:
        return lineno
    match = re.search(r"at line (\d+)", str(exc))
    if match:
        return int(match.group(1))
    return max(1, len(text.rstrip("\n").splitlines())) if "end of document" in str(exc) else "?"


def _line_of_key(text: str, section: str | None, key: str) -> int | str:
    """The 1-based line where `key` is set inside `[section]` (None = top level)."""
    current: str | None = None
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1).strip()
            if section is None and current == key:
                return number
            continue
        if current == section and pattern.match(line):
            return number
        if section is None and current is None and pattern.match(line):
            return number
    return "?"


def key_location(config: Config, section: str, key: str) -> str:
    """`FILE:LINE: section.key` for messages about a key's value (`<defaults>` without a file)."""
    if config.source is None:
        return f"<defaults>: {section}.{key}"
    try:
        text = config.source.read_text(encoding="utf-8")
    except OSError:
        return f"{config.source}: {section}.{key}"
    return f"{config.source}:{_line_of_key(text, section, key)}: {section}.{key}"


SECRET_KEYS = {"bind_password"}


def effective_toml(config: Config) -> str:
    """The effective configuration as TOML, secrets masked (for `check-config`)."""
    out = [f"# effective configuration from {config.source or 'embedded defaults'}"]
    out.append(f"admins = {_toml_value(list(config.admins))}")
    for name in SECTIONS:
        out.append("")
        out.append(f"[{name}]")
        section = getattr(config, name)
        for f in fields(section):
            value = getattr(section, f.name)
            if f.name in SECRET_KEYS:
                if not value:
                    continue
                value = "********"
            out.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(out) + "\n"


def _toml_value(value: Any) -> str:
    """One value in TOML: scalars written by tomli-w (which escapes what TOML requires), arrays
    kept on one line as config.toml writes them."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    import tomli_w  # only check-config writes TOML

    scalar = value if isinstance(value, bool | int | float) else str(value)
    return tomli_w.dumps({"v": scalar})[len("v = "):].rstrip("\n")


def web_base_url(config: Config) -> str:
    """The address users type for web access (DESIGN §16): `[web] public_url`, else
    https://<host>[:<port>]."""
    if config.web.public_url:
        return config.web.public_url.rstrip("/")
    host = config.notebooks.public_host or socket.gethostname()
    _, port = validation.split_listen(config.web.listen)
    return f"https://{host}" + ("" if port == "443" else f":{port}")


def web_notebook_url(config: Config, owner: str, name: str) -> str:
    """A notebook's address in the browser: <web base URL>/user/<owner>/<name>/."""
    return f"{web_base_url(config)}/user/{owner}/{name}/"

