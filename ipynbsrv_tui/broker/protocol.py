"""The broker's wire format: newline-delimited JSON messages with a version and a size limit.

One message is one JSON object on one line (JSON never needs a raw newline), at most
`max_message_bytes` bytes before the newline. Every message carries `"v": VERSION`.

Requests (client → broker)::

    {"v": 1, "id": 7, "call": "list_containers", "args": [], "kwargs": {}}
    {"v": 1, "id": 6, "call": "hello"}                  # which installation the broker serves
    {"v": 1, "id": 8, "call": "whoami"}                 # the Actor the broker sees
    {"v": 1, "id": 9, "call": "cancel"}                 # on a stream's connection: cancel it

Replies (broker → client), each with the request's id::

    {"v": 1, "id": 7, "ok": <value>}                    # the result
    {"v": 1, "id": 7, "part": [<items>]}                # a long list, sent in pieces before "ok"
    {"v": 1, "id": 7, "error": {"type": "NotFound", "message": "..."}}
    {"v": 1, "id": 7, "stream": {"build_id": 3}}        # a stream starts (its attributes)
    {"v": 1, "id": 7, "item": <value>}                  # one item of the stream
    {"v": 1, "id": 7, "end": {"summary": <value>}}      # the stream ended

Values are JSON plus tagged objects for what JSON lacks: the dataclasses and enums of
`ipynbsrv_tui.domain`, datetimes, tuples and dicts with non-string keys. Errors travel as their
class name and message and are raised again on the other side as the same domain class.

This module is imported by ordinary users' processes: stdlib and `ipynbsrv_tui.domain` only.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import keyword
import os
import socket
from datetime import datetime
from typing import Any, BinaryIO

from .. import domain
from ..domain import IpynbsrvError

VERSION = 1
DEFAULT_MAX_MESSAGE_BYTES = 1_048_576

# Calls the broker answers itself, without the service.
CONTROL_CALLS: frozenset[str] = frozenset({"hello", "whoami", "ping", "cancel"})


class ProtocolError(IpynbsrvError):
    """A message on the broker socket is not valid JSON, not a request, of another version, or too large."""


class MessageTooLarge(ProtocolError):
    """A message exceeds the size limit; the connection cannot be read further."""


class BrokerUnavailable(IpynbsrvError):
    """The broker socket is absent, refuses connections, or closed the connection mid-call."""


class BrokerBusy(BrokerUnavailable):
    """The broker serves its maximum of connections; the request was not run (try again)."""


class WrongInstallation(IpynbsrvError):
    """The broker at the configured socket serves another installation than the config names."""


# --------------------------------------------------------------------------- installation identity


def installation(
    database: str | os.PathLike[str], config: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """What names an installation (DESIGN §2): its database, as written and with links resolved,
    and the config file that names it (None: the embedded defaults). The broker's `hello` answers it."""
    return {
        "database": os.path.abspath(database),
        "resolved": os.path.realpath(database),
        "config": os.fspath(config) if config is not None else None,
    }


def same_installation(ours: dict[str, Any], served: dict[str, Any]) -> bool:
    """Whether a broker that answered `served` to hello serves the installation `ours` names."""
    mine = {ours.get("database"), ours.get("resolved")} - {None}
    theirs = {served.get("database"), served.get("resolved")} - {None}
    return bool(mine & theirs)


# --------------------------------------------------------------------------- value codec

_TAGS = ("$t", "$e", "$dt", "$tu", "$d")


def _registry() -> tuple[dict[str, type], dict[str, type[enum.Enum]], dict[str, type[IpynbsrvError]]]:
    dataclass_types: dict[str, type] = {}
    enum_types: dict[str, type[enum.Enum]] = {}
    error_types: dict[str, type[IpynbsrvError]] = {}
    for name, value in vars(domain).items():
        if not isinstance(value, type):
            continue
        if dataclasses.is_dataclass(value):
            dataclass_types[name] = value
        elif issubclass(value, enum.Enum):
            enum_types[name] = value
        elif issubclass(value, IpynbsrvError):
            error_types[name] = value
    for error in (ProtocolError, MessageTooLarge, BrokerUnavailable, BrokerBusy):
        error_types[error.__name__] = error
    return dataclass_types, enum_types, error_types


_DATACLASSES, _ENUMS, _ERRORS = _registry()


class Record:
    """Base of the dataclasses made up for types the client does not know (e.g. a report type outside
    `domain`): same name and fields, frozen, no methods."""


_RECORD_TYPES: dict[tuple[str, tuple[str, ...]], type] = {}
_MAX_RECORD_TYPES = 64


def _record_type(name: str, field_names: tuple[str, ...]) -> type:
    key = (name, field_names)
    cls = _RECORD_TYPES.get(key)
    if cls is None:
        valid = all(n.isidentifier() and not keyword.iskeyword(n) for n in (name, *field_names))
        if not valid or len(_RECORD_TYPES) >= _MAX_RECORD_TYPES:
            raise ProtocolError(
                f"Unknown type {name!r} on the broker socket; client and broker versions differ."
            )
        cls = _RECORD_TYPES[key] = dataclasses.make_dataclass(name, field_names, bases=(Record,), frozen=True)
    return cls


_SCALARS = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}  # dataclass type -> field names, filled on first use


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def encode(value: Any) -> Any:
    """A JSON-able form of `value` (see the module docstring); ProtocolError for a type it cannot send."""
    kind = type(value)
    if kind in _SCALARS:  # exact types: a StrEnum is not a str here
        return value
    if kind is list:
        return [encode(v) for v in value]
    names = _FIELDS.get(kind)
    if names is not None or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        names = names or _field_names(kind)
        return {"$t": [kind.__name__, {name: encode(getattr(value, name)) for name in names}]}
    if isinstance(value, enum.Enum):
        return {"$e": [kind.__name__, value.value]}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return {k: encode(v) for k, v in value.items()}
        return {"$d": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tu": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, _SCALARS):  # subclasses of str / int / float
        return value
    raise ProtocolError(f"A value of type {kind.__name__} cannot be sent over the broker socket.")


def decode(value: Any, strict: bool = False) -> Any:
    """The inverse of `encode`; ProtocolError for a tagged object it cannot rebuild.

    A dataclass not in `domain` becomes a made-up Record dataclass, unless `strict` (the broker
    decoding requests accepts domain types only).
    """
    kind = type(value)
    if kind is list:
        return [decode(v, strict) for v in value]
    if kind is not dict:
        return value
    if len(value) == 1:
        tag, body = next(iter(value.items()))
        if tag in _TAGS:
            try:
                return _decode_tagged(tag, body, strict)
            except ProtocolError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
                raise ProtocolError(f"A {tag} value on the broker socket is malformed: {exc}") from None
    return {k: decode(v, strict) for k, v in value.items()}


def _decode_tagged(tag: str, body: Any, strict: bool) -> Any:
    if tag == "$dt":
        return datetime.fromisoformat(body)
    if tag == "$tu":
        return tuple(decode(v, strict) for v in body)
    if tag == "$d":
        return {_hashable(decode(k, strict)): decode(v, strict) for k, v in body}
    name, payload = body
    if tag == "$e":
        cls = _ENUMS.get(name)
        if cls is None:
            raise ProtocolError(
                f"Unknown enum {name!r} on the broker socket; client and broker versions differ."
            )
        return cls(payload)
    fields = {k: decode(v, strict) for k, v in payload.items()}
    cls = _DATACLASSES.get(name)
    if cls is None:
        if strict:
            raise ProtocolError(f"Type {name!r} is not accepted in a request.")
        return _record_type(name, tuple(fields))(**fields)
    known = _field_names(cls)
    if not fields.keys() <= set(known):  # a newer broker's extra fields
        fields = {k: v for k, v in fields.items() if k in known}
    return cls(**fields)


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


# --------------------------------------------------------------------------- errors


def error_payload(exc: BaseException) -> dict[str, str]:
    """`{"type", "message"}` for an error: the nearest class the other side knows, and its message."""
    for cls in type(exc).__mro__:
        if _ERRORS.get(cls.__name__) is cls:
            return {"type": cls.__name__, "message": str(exc)}
    return {"type": "IpynbsrvError", "message": str(exc)}


def error_from_payload(payload: Any) -> IpynbsrvError:
    """The domain error described by an error payload (IpynbsrvError for an unknown type)."""
    if not isinstance(payload, dict):
        return ProtocolError("The broker sent a malformed error.")
    cls = _ERRORS.get(str(payload.get("type")), IpynbsrvError)
    return cls(str(payload.get("message", "")))


# --------------------------------------------------------------------------- framing


def dump_message(message: dict[str, Any], limit: int = DEFAULT_MAX_MESSAGE_BYTES) -> bytes:
    """One framed message (the version added); MessageTooLarge when it exceeds `limit`."""
    data = json.dumps({"v": VERSION, **message}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > limit:
        raise MessageTooLarge(
            f"A message of {len(data)} bytes exceeds the broker's limit of {limit} bytes "
            "([broker] max_message_bytes)."
        )
    return data + b"\n"


def parse_message(line: bytes) -> dict[str, Any]:
    """A message from one line; ProtocolError for bad JSON, a non-object or another version."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"Not a JSON message: {exc}. Send one JSON object per line.") from None
    if not isinstance(message, dict):
        raise ProtocolError('A message must be a JSON object, e.g. {"v": 1, "id": 1, "call": "ping"}.')
    version = message.get("v")
    if version != VERSION:
        raise ProtocolError(
            f"Protocol version {version!r} is not spoken here (this side speaks version {VERSION}). "
            "Use the ipynbsrv-tui of the same installation as the broker."
        )
    return message


def read_message(stream: BinaryIO, limit: int = DEFAULT_MAX_MESSAGE_BYTES) -> dict[str, Any] | None:
    """The next message from a buffered binary stream; None at the end of the stream.

    MessageTooLarge when a line exceeds `limit` (the stream cannot be resynchronised after it);
    ProtocolError for a line that is not a valid message (the next line can still be read).
    """
    line = stream.readline(limit + 1)
    if not line:
        return None
    if len(line) > limit and not (len(line) == limit + 1 and line.endswith(b"\n")):
        raise MessageTooLarge(
            f"A message longer than {limit} bytes was refused ([broker] max_message_bytes)."
        )
    return parse_message(line)


def request_fields(message: dict[str, Any]) -> tuple[Any, str, list[Any], dict[str, Any]]:
    """`(id, call, args, kwargs)` of a request, decoded; ProtocolError when it is not a request."""
    msg_id = message.get("id")
    if msg_id is not None and not isinstance(msg_id, int | str):
        raise ProtocolError("A request's id must be a number or a string.")
    call = message.get("call")
    if not isinstance(call, str) or not call:
        raise ProtocolError("A request needs a \"call\": the name of a service method.")
    args = message.get("args", [])
    kwargs = message.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ProtocolError("A request's args must be a list and its kwargs an object.")
    if not all(isinstance(k, str) and k.isidentifier() and not k.startswith("_") for k in kwargs):
        raise ProtocolError("A request's kwargs must be argument names.")
    if "actor" in kwargs:
        raise ProtocolError("The actor is not an argument: the broker takes it from the connection.")
    try:
        return msg_id, call, decode(args, strict=True), {k: decode(v, strict=True) for k, v in kwargs.items()}
    except RecursionError:
        raise ProtocolError("A request's arguments are nested too deeply.") from None


class SocketChannel:
    """A connected Unix socket and its buffered reader: the broker's and the client's connections."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def shutdown(self) -> None:
        """Wake a thread blocked reading this connection (it then reads the end of the stream)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self.shutdown()
        try:
            self.rfile.close()
        finally:
            self.sock.close()
