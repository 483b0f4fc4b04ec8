"""The typed service interface: the call list derived from it, its implementations, and the
argument checks the broker compiles from its annotations."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator

import pytest

from ipynbsrv_tui.broker.arguments import CallCheck, compile_check, compile_checks
from ipynbsrv_tui.broker.client import RemoteSession
from ipynbsrv_tui.broker.protocol import ProtocolError
from ipynbsrv_tui.domain import Actor, ContainerState, ValidationError
from ipynbsrv_tui.interface import (
    CALLS,
    STREAM_CALLS,
    BuildStream,
    ServiceCalls,
    ServiceSession,
    Stream,
    derive_calls,
)
from ipynbsrv_tui.service.core import NotebookService
from ipynbsrv_tui.service.session import Session


class Toy(typing.Protocol):
    limit: int

    def plain(self, name: str) -> list[str]: ...

    def lines(self) -> Stream[str]: ...

    def build(self) -> BuildStream: ...

    def _private(self) -> None: ...


class MoreToy(Toy, typing.Protocol):
    def extra(self, flag: bool = False) -> None: ...


def test_the_calls_are_the_public_methods_and_streams_are_told_by_their_return_type():
    calls = derive_calls(MoreToy)
    assert list(calls) == ["plain", "lines", "build", "extra"]
    assert {name for name, call in calls.items() if call.stream} == {"lines", "build"}
    assert calls["extra"].declaration is MoreToy.extra


def test_the_service_calls_and_their_streams():
    declared = [
        name for name, value in vars(ServiceCalls).items() if inspect.isfunction(value) and name[0] != "_"
    ]
    assert list(CALLS) == declared
    assert STREAM_CALLS == {"watch_containers", "watch_rights", "follow_logs", "build_image"}
    assert "close" not in CALLS and "actor" not in CALLS  # session members, not service calls


def _without_self(function) -> list[inspect.Parameter]:
    return list(inspect.signature(function).parameters.values())[1:]


def _shape(function) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in _without_self(function)]


def _hints(function) -> dict[str, object]:
    return typing.get_type_hints(function)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_call_is_a_use_case_with_the_actor_first_and_the_same_signature(name):
    declaration = CALLS[name].declaration
    use_case = getattr(NotebookService, name)
    actor, *rest = _without_self(use_case)
    assert actor.name == "actor" and _hints(use_case)["actor"] is Actor
    assert [(p.name, p.kind, p.default) for p in rest] == _shape(declaration)
    declared, used = _hints(declaration), _hints(use_case)
    for parameter in rest:
        assert used.get(parameter.name) == declared[parameter.name], parameter.name


@pytest.mark.parametrize("name", sorted(CALLS))
def test_both_sessions_implement_every_call_themselves(name):
    for session_class in (Session, RemoteSession):
        own = vars(session_class).get(name)
        assert own is not None and own is not getattr(ServiceCalls, name), f"{session_class.__name__}.{name}"
        assert _shape(own) == _shape(CALLS[name].declaration)  # the types: mypy checks them


def test_no_session_answers_an_undeclared_name():
    assert not hasattr(Session, "__getattr__") and not hasattr(RemoteSession, "__getattr__")
    with pytest.raises(AttributeError):
        Session(object(), Actor("a", 1, False)).actor_for_uid  # noqa: B018  a service method, not a call


def test_the_embedded_session_forwards_with_its_actor():
    seen = []

    class Recorder:
        def get_container(self, actor, container_id):
            seen.append((actor, container_id))
            return "view"

    actor = Actor("carol", 2001, False)
    session: ServiceSession = Session(Recorder(), actor)  # type: ignore[arg-type]
    assert session.get_container(7) == "view" and seen == [(actor, 7)]
    assert session.actor == actor and session.mode == "embedded"


# --------------------------------------------------------------------------- argument checks


def test_every_declared_call_compiles_to_a_check():
    checks = compile_checks()
    assert checks.keys() == CALLS.keys()


@pytest.mark.parametrize(
    ("annotation", "good", "bad"),
    [
        (int, [0, 7, -1], [[1], "7", 7.0, True, None]),
        (float, [1.5, 2], ["1.5", True, None]),
        (bool, [True, False], [1, "yes"]),
        (str, ["", "x"], [1, b"x", None, ["x"]]),
        (str | None, ["x", None], [1]),
        (list[str], [[], ["a"]], [("a",), ["a", 1], "a"]),
        (tuple[int, ...], [(), (1, 2), [1, 2]], [(1, "2"), "1,2"]),
        (str | tuple[int, ...], ["22", (22,)], [22, (22.5,)]),
        (dict[str, str], [{}, {"A": "b"}], [{"A": 1}, [("A", "b")]]),
        (Actor, [Actor("a", 1, False)], [{"username": "a"}]),
        (ContainerState, [ContainerState.RUNNING], ["running"]),
        (typing.Literal["keep", "delete"], ["keep"], ["archive", 1]),
        (typing.Any, [1, None, [object()]], []),
    ],
)
def test_value_checks(annotation, good, bad):
    check = compile_check(annotation)
    assert all(check(value) for value in good)
    assert not any(check(value) for value in bad)


def test_an_annotation_that_cannot_be_checked_is_refused_when_compiling():
    with pytest.raises(TypeError, match="cannot check"):
        compile_check(Iterator[int])


def test_a_list_as_a_container_id_is_a_validation_error_naming_the_argument():
    check = CallCheck(CALLS["get_container"])
    check([5], {})
    with pytest.raises(ValidationError, match=r"get_container: container_id must be int, not list"):
        check([[1, 2]], {})
    with pytest.raises(ValidationError, match=r"tail must be int, not str"):
        CallCheck(CALLS["container_logs"])([1], {"tail": "50"})
    with pytest.raises(ValidationError, match=r"build_args must be dict\[str, str\] or None, not dict"):
        CallCheck(CALLS["build_image"])(["base"], {"build_args": {"A": 1}})


def test_arity_and_names_are_protocol_errors_and_open_keywords_are_accepted():
    with pytest.raises(ProtocolError, match="Wrong arguments for get_container"):
        CallCheck(CALLS["get_container"])([1, 2], {})
    with pytest.raises(ProtocolError, match="Wrong arguments for list_users"):
        CallCheck(CALLS["list_users"])([], {"nope": 1})
    CallCheck(CALLS["update_image"])(["python3"], {"description": "x", "notebook_port": 8888})


def test_declared_keywords_are_checked_one_by_one():
    """update_image(**changes: Unpack[ImageChanges]): each keyword has its own type, no other is taken."""
    check = CallCheck(CALLS["update_image"])
    with pytest.raises(ValidationError, match=r"update_image: is_public must be bool, not str"):
        check(["python3"], {"is_public": "yes"})
    with pytest.raises(ValidationError, match=r"update_image: notebook_port must be int, not str"):
        check(["python3"], {"notebook_port": "8888"})
    with pytest.raises(ProtocolError, match=r"unexpected keyword 'owner'"):
        check(["python3"], {"owner": "mallory"})
