"""Property-based tests (hypothesis): every validator, the config loader and the protocol decoder.

The validators are enumerated from `ipynbsrv_tui.validation` (every public function), not listed
by hand: whatever a person or a peer sends, a validator returns a value or raises ValidationError,
never another exception. The config loader turns any text or bytes into a Config or one
ConfigError; the broker's decoder turns any line into a message or a ProtocolError, and the
broker's argument checks refuse any wrongly typed argument with a domain error.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipynbsrv_tui import validation
from ipynbsrv_tui.broker import protocol
from ipynbsrv_tui.broker.arguments import compile_checks
from ipynbsrv_tui.config import _CHECKS, SECTIONS, Config, load_config, parse_config
from ipynbsrv_tui.domain import ConfigError, IpynbsrvError, ValidationError
from ipynbsrv_tui.interface import CALLS

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EACH = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Anything a config file, a form or a peer could hand a validator.
ANYTHING = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text()
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
# Extra arguments of the validators that take more than the value.
EXTRA = {
    "text": ("The text", 10),
    "in_range": (0, 10, "units"),
    "one_of": (("a", "b"),),
    "display_name": ("fallback",),
}
# Public functions of validation.py that format rather than validate.
FORMATTERS = {"format_bytes"}


def _validators() -> list[tuple[str, object]]:
    return [
        (name, function) for name, function in inspect.getmembers(validation, inspect.isfunction)
        if function.__module__ == validation.__name__ and not name.startswith("_") and name not in FORMATTERS
    ]


def test_the_suite_covers_every_validator():
    names = {name for name, _ in _validators()}
    assert {"username", "container_name", "memory", "cpus", "port", "description", "image_reference"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize(("name", "function"), _validators(), ids=[name for name, _ in _validators()])
@EACH
@given(value=ANYTHING)
def test_a_validator_returns_a_value_or_raises_validation_error(name, function, value):
    try:
        function(value, *EXTRA.get(name, ()))
    except ValidationError as exc:
        assert str(exc) and "\n" not in str(exc).strip("\n")


@FAST
@given(st.text(max_size=40))
def test_accepted_usernames_are_portable_and_stable(text):
    try:
        name = validation.username(text)
    except ValidationError:
        return
    assert re.fullmatch(r"[a-z_][a-z0-9_.-]{0,31}", name)
    assert validation.username(name) == name


@FAST
@given(st.text(max_size=80))
def test_accepted_container_names_are_engine_safe_and_stable(text):
    try:
        name = validation.container_name(text)
    except ValidationError:
        return
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}", name)
    assert validation.container_name(name) == name


@FAST
@given(st.one_of(st.text(max_size=30), st.from_regex(r"\A[0-9]{1,25}(\.[0-9]{1,5})?[bkmgtBKMGT]?\Z")))
def test_accepted_memory_sizes_are_ones_the_engine_can_represent(text):
    try:
        number = validation.memory(text)
    except ValidationError:
        return
    assert 6 * 1024**2 <= number <= validation.MEMORY_MAX
    assert validation.memory(number) == number


@FAST
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.integers()))
def test_accepted_cpu_limits_are_finite_and_in_range(value):
    try:
        number = validation.cpus(value)
    except ValidationError:
        return
    assert math.isfinite(number) and 0.01 <= number <= 1024


@FAST
@given(
    st.text(max_size=1200), st.sampled_from([validation.description, validation.command, validation.message])
)
def test_free_text_is_bounded(text, check):
    try:
        accepted = check(text)
    except ValidationError as exc:
        assert "most is" in str(exc) or "must not contain" in str(exc)
        return
    assert accepted == text and len(text) <= max(validation.DESCRIPTION_MAX, validation.MESSAGE_MAX)


@FAST
@given(st.lists(st.integers(min_value=1, max_value=65535), max_size=5))
def test_port_lists_round_trip(ports):
    assert validation.port_list(", ".join(map(str, ports))) == tuple(ports)


# --------------------------------------------------------------------------- config loader

TOML_VALUE = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False),
    st.text(max_size=20), st.lists(st.integers(min_value=-10, max_value=70000), max_size=3),
    st.lists(st.text(max_size=5), max_size=3),
)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


@st.composite
def config_texts(draw) -> str:
    lines = []
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=3, unique=True)):
        lines.append(f"[{section}]")
        keys = [f.name for f in __import__("dataclasses").fields(SECTIONS[section])]
        for key in draw(st.lists(st.sampled_from(keys + ["nonsense"]), max_size=4, unique=True)):
            lines.append(f"{key} = {_toml(draw(TOML_VALUE))}")
    return "\n".join(lines) + "\n"


@FAST
@given(config_texts())
def test_the_config_loader_gives_a_config_or_one_located_error(text):
    try:
        config = parse_config(text, Path("/etc/ipynbsrv/config.toml"))
    except ConfigError as exc:
        assert str(exc).startswith("/etc/ipynbsrv/config.toml:") and "Traceback" not in str(exc)
        return
    assert isinstance(config, Config)
    for (section, key), check in _CHECKS.items():  # whatever was accepted passes its own range check
        check(getattr(getattr(config, section), key))


@FAST
@given(st.text(max_size=200))
def test_any_text_is_a_config_or_a_config_error(text):
    try:
        parse_config(text)
    except ConfigError:
        pass


@FAST
@given(st.binary(max_size=200))
def test_any_file_bytes_are_a_config_or_a_config_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path))


@pytest.mark.parametrize("key", ["max_message_bytes", "reconcile_interval"])
@FAST
@given(number=st.integers(max_value=-1, min_value=-(2**63)))
def test_negative_broker_numbers_are_config_errors(key, number):
    with pytest.raises(ConfigError, match=f"broker.{key}"):
        parse_config(f"[broker]\n{key} = {number}\n")


# --------------------------------------------------------------------------- protocol decoder

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
TAGGED = st.builds(lambda tag, body: {tag: body}, st.sampled_from(["$t", "$e", "$dt", "$tu", "$d"]), JSON)


@FAST
@given(st.binary(max_size=300))
def test_any_line_is_a_message_or_a_protocol_error(line):
    try:
        message = protocol.parse_message(line)
    except protocol.ProtocolError:
        return
    assert isinstance(message, dict) and message["v"] == protocol.VERSION


@FAST
@given(st.one_of(JSON, TAGGED, st.lists(TAGGED, max_size=3)), st.booleans())
def test_any_json_value_decodes_or_is_a_protocol_error(value, strict):
    try:
        protocol.decode(value, strict)
    except protocol.ProtocolError:
        pass


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["id", "call", "args", "kwargs", "v", "x"]), st.one_of(JSON, TAGGED), max_size=5
    )
)
def test_any_request_object_gives_fields_or_a_protocol_error(message):
    try:
        protocol.request_fields(message)
    except protocol.ProtocolError:
        pass


CHECKS = compile_checks()


@FAST
@given(st.sampled_from(sorted(CALLS)), st.lists(ANYTHING, max_size=4),
       st.dictionaries(st.sampled_from(["container_id", "name", "tail", "owner", "memory", "cpus", "username",
                                        "since", "limit", "is_admin", "image"]), ANYTHING, max_size=3))
def test_the_broker_refuses_wrongly_typed_arguments_with_a_domain_error(call, args, kwargs):
    try:
        CHECKS[call](args, kwargs)
    except (protocol.ProtocolError, ValidationError) as exc:
        assert isinstance(exc, IpynbsrvError) and str(exc)


@FAST
@given(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=30))
def test_the_framing_reads_back_what_it_wrote(lengths):
    import io

    messages = [{"id": n, "ok": "x" * n} for n in lengths]
    stream = io.BytesIO(b"".join(protocol.dump_message(m) for m in messages))
    again = [protocol.read_message(stream) for _ in messages]
    assert [{k: v for k, v in m.items() if k != "v"} for m in again] == messages
    assert protocol.read_message(stream) is None
