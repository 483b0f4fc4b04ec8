"""Checking a request's arguments against the interface's annotations, at the broker boundary.

A caller of the broker is any local process, not only our client: a wrongly typed value (a list
as a container id, a string as a port) is refused here with a ValidationError that names the
argument, before it reaches the service, the store or the engine. The checks are compiled once
per call from `interface.ServiceCalls`.

JSON has no tuple: a list is accepted where a tuple is declared (our client sends tuples tagged).
An int is accepted where a float is declared (PEP 484's numeric tower); a bool is not an int here.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..domain import ValidationError
from ..interface import CALLS, Call
from .protocol import ProtocolError

Check = Callable[[Any], bool]


def _always(value: Any) -> bool:
    return True


INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # SQLite's INTEGER: what the store can hold


def _is_int(value: Any) -> bool:
    """A whole number within 64 bits: integers are range-checked here as strings are length-checked
    in the service (10**30 would overflow SQLite)."""
    return isinstance(value, int) and not isinstance(value, bool) and INT_MIN <= value <= INT_MAX


def _is_float(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) if isinstance(value, float) else INT_MIN <= value <= INT_MAX


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_none(value: Any) -> bool:
    return value is None


_SCALARS: dict[Any, Check] = {
    Any: _always, object: _always, int: _is_int, float: _is_float, bool: _is_bool, str: _is_str,
    None: _is_none, type(None): _is_none,
}


def compile_check(annotation: Any) -> Check:
    """A predicate for values of `annotation`; TypeError for an annotation it cannot check."""
    scalar = _SCALARS.get(annotation)
    if scalar is not None:
        return scalar
    origin = typing.get_origin(annotation)
    params = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        options = tuple(compile_check(p) for p in params)
        return lambda value: any(check(value) for check in options)
    if origin is typing.Literal:
        allowed = params
        return lambda value: any(type(value) is type(a) and value == a for a in allowed)
    if origin is list:
        (item,) = params
        each = compile_check(item)
        return lambda value: isinstance(value, list) and all(each(v) for v in value)
    if origin is tuple:
        if len(params) == 2 and params[1] is Ellipsis:
            each = compile_check(params[0])
            return lambda value: isinstance(value, tuple | list) and all(each(v) for v in value)
        positions = tuple(compile_check(p) for p in params)
        return lambda value: (isinstance(value, tuple | list) and len(value) == len(positions)
                              and all(check(v) for check, v in zip(positions, value, strict=True)))
    if origin is dict:
        key_check, value_check = (compile_check(p) for p in params)
        return lambda value: isinstance(value, dict) and all(
            key_check(k) and value_check(v) for k, v in value.items()
        )
    if origin is None and isinstance(annotation, type) and (
        dataclasses.is_dataclass(annotation) or issubclass(annotation, enum.Enum)
    ):
        return lambda value: isinstance(value, annotation)
    raise TypeError(f"cannot check arguments annotated {annotation!r}: use a plain, list, tuple, dict, "
                    "union, Literal, enum or domain dataclass type")


def describe(annotation: Any) -> str:
    """How an annotation reads in a message: `int`, `str or None`, `list[str]`."""
    if annotation in (None, type(None)):
        return "None"
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(describe(p) for p in typing.get_args(annotation))
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("ipynbsrv_tui.domain.", "")


def _kind(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
        return "a whole number outside the 64-bit range"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} (not a finite number)"
    return "None" if value is None else type(value).__name__


class CallCheck:
    """The compiled argument check of one call: arity from its signature, types from its annotations."""

    def __init__(self, call: Call) -> None:
        self.name = call.name
        signature = inspect.signature(call.declaration)
        hints = typing.get_type_hints(call.declaration)
        parameters = list(signature.parameters.values())[1:]  # without self
        self.signature = signature.replace(parameters=parameters)
        self.annotations = {p.name: hints.get(p.name, Any) for p in parameters}
        self.var_keyword = {p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD}
        # `**changes: Unpack[SomeTypedDict]`: each keyword is checked against the dict's own field
        self.keywords = {name: fields for name in self.var_keyword
                         if (fields := _unpacked_fields(self.annotations[name])) is not None}
        self.checks = {name: compile_check(annotation) for name, annotation in self.annotations.items()
                       if name not in self.keywords}
        self.keyword_checks = {name: {key: compile_check(kind) for key, kind in fields.items()}
                               for name, fields in self.keywords.items()}

    def __call__(self, args: list[Any] | tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """ProtocolError for a wrong number or name of arguments, ValidationError for a wrong type."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ProtocolError(f"Wrong arguments for {self.name}: {exc}.") from None
        for name, value in bound.arguments.items():
            fields = self.keywords.get(name)
            if fields is not None:
                unknown = sorted(set(value) - set(fields))
                if unknown:
                    raise ProtocolError(
                        f"Wrong arguments for {self.name}: unexpected keyword {unknown[0]!r}."
                    )
                for label, item in value.items():
                    self._check(label, fields[label], self.keyword_checks[name][label], item)
                continue
            check = self.checks[name]
            values = value.items() if name in self.var_keyword else ((name, value),)
            for label, item in values:
                self._check(label, self.annotations[name], check, item)

    def _check(self, label: str, annotation: Any, check: Check, item: Any) -> None:
        if not check(item):
            raise ValidationError(
                f"{self.name}: {label} must be {describe(annotation)}, not {_kind(item)}. "
                "Send the value with the type the service interface declares."
            )


def _unpacked_fields(annotation: Any) -> dict[str, Any] | None:
    """The fields of `Unpack[SomeTypedDict]` with their types, or None for another annotation."""
    if typing.get_origin(annotation) is not typing.Unpack:
        return None
    (typed_dict,) = typing.get_args(annotation)
    return typing.get_type_hints(typed_dict)


def compile_checks(calls: Mapping[str, Call] = CALLS) -> dict[str, CallCheck]:
    """The argument check of every call (TypeError names a declaration that cannot be checked)."""
    return {name: CallCheck(call) for name, call in calls.items()}
