"""The broker's wire format: value codec, errors, framing, size limit and version."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ipynbsrv_tui.broker import protocol
from ipynbsrv_tui.broker.protocol import (
    MessageTooLarge,
    ProtocolError,
    Record,
    decode,
    dump_message,
    encode,
    error_from_payload,
    error_payload,
    read_message,
    request_fields,
)
from ipynbsrv_tui.domain import (
    Actor,
    BuildEvent,
    BuildEventKind,
    ContainerSpec,
    ContainerState,
    ContainerView,
    EngineUnavailable,
    IpynbsrvError,
    Mount,
    NotAuthorized,
    NotFound,
    ReconcileReport,
)


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(value))))


def test_domain_values_survive_the_wire_with_their_types():
    view = ContainerView(
        id=3, name="nb", owner="alice", image="py3", image_ref="ipynbsrv/py3:latest",
        state=ContainerState.RUNNING, host_port=49152, url="http://127.0.0.1:49152/x/?token=t", token="t",
        created=datetime(2024, 5, 1, 12, 0, 0), last_activity=datetime(2024, 5, 1, 13, 0, tzinfo=UTC),
        public_ports={"22": 49153},
    )
    back = roundtrip(view)
    assert back == view
    assert type(back.state) is ContainerState
    assert back.last_activity.tzinfo is not None and back.created.tzinfo is None

    spec = ContainerSpec(
        name="n",
        image="i",
        labels={"a": "b"},
        environment={},
        mounts=(Mount("/s", "/t", True),),
        public_ports={22: 49153},
    )
    assert roundtrip(spec) == spec  # tuples of dataclasses, dicts with int keys

    events = [BuildEvent(BuildEventKind.STEP, "Step 1/2 : FROM x", step=1, total_steps=2), "plain", None, 1.5]
    assert roundtrip(events) == events
    assert roundtrip(Actor("bob", 2001, False, ("users",))) == Actor("bob", 2001, False, ("users",))
    assert roundtrip(ReconcileReport(3, ("a",), ())) == ReconcileReport(3, ("a",), ())


def test_plain_dicts_that_look_like_tags_are_kept_apart():
    for value in ({"$t": ["ContainerView", {}]}, {"$dt": "not a date"}, {"$tu": 1, "other": 2}, {}):
        assert roundtrip(value) == value


def test_a_dataclass_the_client_does_not_know_arrives_as_a_frozen_record_dataclass():
    @dataclass(frozen=True)
    class PluginReport:
        added: tuple[str, ...]
        seconds: float

    back = roundtrip(PluginReport(("alice",), 0.5))
    assert isinstance(back, Record) and dataclasses.is_dataclass(back)
    assert back.added == ("alice",) and back.seconds == 0.5
    assert repr(back) == "PluginReport(added=('alice',), seconds=0.5)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.added = ()
    assert roundtrip(back) == back
    with pytest.raises(ProtocolError, match="not accepted in a request"):
        request_fields({"id": 1, "call": "x", "args": [encode(PluginReport((), 0.0))]})
    with pytest.raises(ProtocolError, match="Unknown type"):
        decode({"$t": ["not a name", {}]})


def test_values_that_cannot_be_sent_are_refused_clearly():
    with pytest.raises(ProtocolError, match="type set"):
        encode({1, 2})
    with pytest.raises(ProtocolError, match="Unknown enum"):
        decode({"$e": ["NoSuchEnum", "x"]})
    with pytest.raises(ProtocolError, match="malformed"):
        decode({"$dt": "yesterday"})


def test_errors_travel_as_their_domain_class_or_the_nearest_one_known():
    again = error_from_payload(
        json.loads(json.dumps(error_payload(NotAuthorized("That container belongs to another user."))))
    )
    assert type(again) is NotAuthorized and str(again) == "That container belongs to another user."

    class DaemonGone(EngineUnavailable):
        """A subclass only the broker knows."""

    assert error_payload(DaemonGone("engine gone")) == {"type": "EngineUnavailable", "message": "engine gone"}
    assert type(error_from_payload({"type": "SomethingNew", "message": "m"})) is IpynbsrvError
    assert type(error_from_payload({"type": "ValueError", "message": "m"})) is IpynbsrvError
    assert isinstance(error_from_payload("garbage"), ProtocolError)


def test_a_message_is_one_versioned_json_line():
    data = dump_message({"id": 1, "call": "ping"})
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert json.loads(data) == {"v": protocol.VERSION, "id": 1, "call": "ping"}
    assert b"\n" not in dump_message({"id": 2, "ok": "two\nlines"})[:-1]


def test_the_size_limit_holds_in_both_directions():
    message = dump_message({"id": 1, "ok": "x" * 100}, limit=200)
    exact = len(message) - 1
    assert read_message(io.BytesIO(message), limit=exact)["ok"] == "x" * 100
    with pytest.raises(MessageTooLarge):
        read_message(io.BytesIO(message), limit=exact - 1)
    with pytest.raises(MessageTooLarge, match="exceeds"):
        dump_message({"id": 1, "ok": "x" * 300}, limit=200)


def test_bad_lines_are_refused_and_the_next_line_is_still_read():
    stream = io.BytesIO(b'not json\n"a string"\n{"v": 2, "id": 1}\n{"v": 1, "id": 7, "call": "ping"}\n')
    with pytest.raises(ProtocolError, match="Not a JSON message"):
        read_message(stream)
    with pytest.raises(ProtocolError, match="JSON object"):
        read_message(stream)
    with pytest.raises(ProtocolError, match="version 2"):
        read_message(stream)
    assert read_message(stream) == {"v": 1, "id": 7, "call": "ping"}
    assert read_message(stream) is None


def test_requests_cannot_smuggle_an_actor_or_odd_arguments():
    ok = request_fields({"v": 1, "id": 4, "call": "get_container", "args": [3], "kwargs": {"tail": 5}})
    assert ok == (4, "get_container", [3], {"tail": 5})
    for bad in (
        {"id": 1},
        {"id": 1, "call": "x", "kwargs": {"actor": {"$t": ["Actor", {}]}}},
        {"id": 1, "call": "x", "args": {"a": 1}},
        {"id": 1, "call": "x", "kwargs": {"not an identifier": 1}},
        {"id": 1, "call": "x", "kwargs": {"_private": 1}},
        {"id": [1], "call": "x"},
    ):
        with pytest.raises(ProtocolError):
            request_fields(bad)


def test_deeply_nested_values_are_refused_as_bad_messages():
    with pytest.raises(ProtocolError):
        read_message(io.BytesIO(b"[" * 100_000 + b"\n"))
    nested: list = []
    for _ in range(900):  # still parses as JSON, but too deep to decode
        nested = [nested]
    with pytest.raises(ProtocolError):
        request_fields({"v": 1, "id": 1, "call": "get_container", "args": [nested]})


def test_the_broker_control_calls_are_not_service_calls():
    from ipynbsrv_tui.interface import CALLS

    assert not protocol.CONTROL_CALLS & CALLS.keys()


def test_the_client_side_imports_no_docker_database_or_ldap_library():
    code = (
        "import sys, ipynbsrv_tui.broker.client\n"
        "heavy = {'docker', 'peewee', 'ldap3', 'requests', 'ipynbsrv_tui.service'}\n"
        "print(sorted(heavy & ({m.split('.')[0] for m in sys.modules} | set(sys.modules))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_not_found_keeps_its_class():
    assert type(error_from_payload(error_payload(NotFound("gone")))) is NotFound
