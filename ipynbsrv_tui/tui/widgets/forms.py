"""Form building blocks: inputs checked as you type by the rules in ipynbsrv_tui.validation.

The rules live in `ipynbsrv_tui.validation` only; this module adapts them to Textual's
Validator protocol and lays a labelled field out with its error line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Label, Static, Switch, TextArea

from ... import validation
from ...domain import ValidationError


class Rule(Validator):
    """A Textual Validator that runs one `ipynbsrv_tui.validation` function.

    The failure text is the ValidationError's message, which says what is expected.
    """

    def __init__(self, check: Callable[[str], object]) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        try:
            self.check(value)
        except ValidationError as exc:
            return self.failure(str(exc))
        return self.success()


def reference_rule() -> Rule:
    """Docker reference grammar, e.g. `ipynbsrv/ipython3-notebook:latest`."""
    return Rule(validation.image_reference)


def image_name_rule() -> Rule:
    return Rule(validation.image_name)


def username_rule() -> Rule:
    return Rule(validation.username)


def port_rule(what: str = "Port") -> Rule:
    return Rule(lambda value: validation.port(value, what=what))


def port_list_rule() -> Rule:
    return Rule(validation.port_list)


def memory_rule() -> Rule:
    """Sizes like `2g` or `512m`."""
    return Rule(validation.memory)


def cpus_rule() -> Rule:
    return Rule(validation.cpus)


def group_names_rule() -> Rule:
    return Rule(validation.group_names)


def password_rule() -> Rule:
    return Rule(validation.password)


class FormSwitch(Switch):
    """A Switch that toggles with space only, so Enter reaches the form and saves it."""

    inherit_bindings = False
    BINDINGS = [Binding("space", "toggle_switch", "Toggle", show=False)]


class Field(Vertical):
    """A labelled form row: the label, one input widget, a hint and an error line under it.

    `check()` validates the widget (Input validators, or `rule` for a TextArea) and shows the
    first failure; Input fields are also checked as you type.
    """

    DEFAULT_CSS = """
    Field { height: auto; margin-bottom: 0; }
    Field > Horizontal { height: auto; }
    Field > Horizontal > Label { width: 18; padding: 0 1 0 0; color: $text-muted; }
    Field > Horizontal > Input { width: 1fr; }
    Field > Horizontal > TextArea { width: 1fr; height: 5; }
    Field > Horizontal > Switch { width: auto; height: 1; border: none; padding: 0; }
    Field > Horizontal > .switch-state { width: auto; padding: 0 1; }
    Field .hint { padding-left: 18; color: $text-muted; height: auto; }
    Field .error { padding-left: 18; color: $error; height: auto; }
    Field .hint.-empty, Field .error.-empty { display: none; }
    """

    def __init__(self, label: str, widget: Widget, *, hint: str = "", rule: Rule | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.widget = widget
        self.rule = rule
        self._hint = hint
        self._error = ""

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(Text(self.label))
            yield self.widget
            if isinstance(self.widget, Switch):
                yield Static(_yes_no(self.widget.value), classes="switch-state")
        yield Static(Text(self._hint), classes="hint" + ("" if self._hint else " -empty"))
        yield Static("", classes="error -empty")

    def set_hint(self, text: str) -> None:
        hint = self.query_one(".hint", Static)
        hint.update(Text(text))
        hint.set_class(not text, "-empty")

    @property
    def failed(self) -> bool:
        """Whether the field shows an error now."""
        return bool(self._error)

    def set_error(self, text: str) -> None:
        self._error = text
        error = self.query_one(".error", Static)
        error.update(Text(text))
        error.set_class(not text, "-empty")

    def check(self) -> bool:
        """Validate now (as on submit); show the first failure and return whether it passed."""
        if isinstance(self.widget, Input):
            result = self.widget.validate(self.widget.value)
            ok = result is None or result.is_valid
            self.set_error("" if ok or result is None else result.failure_descriptions[0])
            return ok
        if isinstance(self.widget, TextArea) and self.rule is not None:
            result = self.rule.validate(self.widget.text)
            self.set_error("" if result.is_valid else result.failure_descriptions[0])
            return result.is_valid
        return True

    @on(Input.Changed)
    def _show_input_result(self, event: Input.Changed) -> None:
        if event.input is not self.widget:
            return
        result = event.validation_result
        if result is None or result.is_valid:
            self.set_error("")
        else:
            self.set_error(result.failure_descriptions[0])

    @on(Switch.Changed)
    def _show_switch_state(self, event: Switch.Changed) -> None:
        if event.switch is self.widget:
            self.query_one(".switch-state", Static).update(_yes_no(event.value))

    @on(TextArea.Changed)
    def _check_text_area(self, event: TextArea.Changed) -> None:
        if event.text_area is self.widget:
            self.check()


def _yes_no(value: bool) -> str:
    """The state of a switch in words, for terminals without colour (NO_COLOR) and for snapshots."""
    return "yes" if value else "no"


def text_input(value: str = "", *, id: str, validators: Iterable[Validator] = (), optional: bool = False,
               password: bool = False, placeholder: str = "", suggester=None) -> Input:
    """A compact Input, validated on every change; `optional` fields accept an empty value."""
    return Input(
        value, placeholder=placeholder, id=id, validators=list(validators), valid_empty=optional,
        password=password, compact=True, suggester=suggester,
    )


def first_invalid(fields: Iterable[Field]) -> Field | None:
    """Check every field (so all errors show) and return the first that failed."""
    failed = None
    for field in fields:
        if not field.check() and failed is None:
            failed = field
    return failed
