"""The one form kit: inputs checked as you type by the rules in ipynbsrv_tui.validation.

The rules live in `ipynbsrv_tui.validation` only; this module adapts them to Textual's
Validator protocol (`Rule`), lays a labelled field out with its hint and error line (`Field`),
and builds whole small forms from declarations (`FieldSpec` + `FormScreen`, which dismisses with
a dict of field name → value, or None when cancelled). Hand-laid forms (register, build, users)
use `Field` and `first_invalid` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, Switch, TextArea

from ... import validation
from ...domain import IpynbsrvError, ValidationError
from .dialog import Dialog


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
        except IpynbsrvError as exc:
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
    """A labelled form row: the label, one input widget, a hint and an error line under it (the
    error replaces the hint while it shows).

    `check()` validates the widget (Input validators, or `rule` for a TextArea) and shows the
    first failure; Input fields are also checked as you type.
    """

    DEFAULT_CSS = """
    Field { height: auto; margin-bottom: 0; }
    Field > Horizontal { height: auto; }
    Field > Horizontal > Label { width: 18; padding: 0 1 0 0; color: $text-muted; }
    Field > Horizontal > Input, Field > Horizontal > Select { width: 1fr; }
    Field > Horizontal > TextArea { width: 1fr; height: 5; }
    Field > Horizontal > Switch { width: auto; height: 1; border: none; padding: 0; }
    Field > Horizontal > .switch-state { width: auto; padding: 0 1; }
    Field .hint { padding-left: 18; color: $text-muted; height: auto; }
    Field .error { padding-left: 18; color: $error; height: auto; }
    Field .hint.-empty, Field .error.-empty { display: none; }
    Field.-failed .hint { display: none; }
    Field.-focused > Horizontal > Label { color: $accent; text-style: bold; }
    Field > Horizontal > Input.-textual-compact:focus { background: $accent 25%; }
    Field > Horizontal > TextArea:blur > .text-area--cursor-line { background: transparent; }
    """

    def __init__(self, label: str, widget: Widget, *, hint: str = "", rule: Rule | None = None,
                 id: str | None = None, error_id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.widget = widget
        self.rule = rule
        self._hint = hint
        self._error = ""
        self._error_id = error_id

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(Text(self.label))
            yield self.widget
            if isinstance(self.widget, Switch):
                yield Static(_yes_no(self.widget.value), classes="switch-state")
        yield Static(Text(self._hint), classes="hint" + ("" if self._hint else " -empty"))
        yield Static("", classes="error -empty", id=self._error_id)

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
        # The error stands in for the hint while it shows, so a form with errors keeps its height.
        self.set_class(bool(text), "-failed")

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
        if isinstance(self.widget, Select) and self.rule is not None:
            result = self.rule.validate("" if self.widget.value is Select.NULL else str(self.widget.value))
            self.set_error("" if result.is_valid else result.failure_descriptions[0])
            return result.is_valid
        return True

    def on_descendant_focus(self, _event: events.DescendantFocus) -> None:
        self.add_class("-focused")  # the label of the field being typed in stands out

    def on_descendant_blur(self, _event: events.DescendantBlur) -> None:
        self.remove_class("-focused")

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


def text_input(
    value: str = "",
    *,
    id: str,
    validators: Iterable[Validator] = (),
    optional: bool = False,
    password: bool = False,
    placeholder: str = "",
    suggester=None,
    select_on_focus: bool = True,
) -> Input:
    """A compact Input, validated on every change; `optional` fields accept an empty value.
    `select_on_focus=False` keeps a prefilled value from being replaced by the first key typed."""
    return Input(
        value, placeholder=placeholder, id=id, validators=list(validators), valid_empty=optional,
        password=password, compact=True, suggester=suggester, select_on_focus=select_on_focus,
    )


def first_invalid(fields: Iterable[Field]) -> Field | None:
    """Check every field (so all errors show) and return the first that failed."""
    failed = None
    for field in fields:
        if not field.check() and failed is None:
            failed = field
    return failed


# ---------------------------------------------------------------------- declared forms


@dataclass(frozen=True)
class FieldSpec:
    """One declared field: `kind` is "text", "choice" (with `options` as (label, value)) or "switch";
    `check` returns the normalised value or raises ValidationError (the validation functions fit)."""

    name: str
    label: str
    kind: str = "text"
    value: Any = ""
    placeholder: str = ""
    options: Sequence[tuple[str, Any]] = ()
    check: Callable[[str], Any] | None = None
    required: bool = False
    hint: str = ""
    disabled: bool = False


def _required(label: str) -> Rule:
    def present(value: str) -> None:
        if not str(value).strip():
            raise ValidationError(f"{label} is required.")

    return Rule(present)


class FormScreen(Dialog[dict | None]):
    """A modal form built from FieldSpecs: fields checked as you type, Enter or ctrl+s saves,
    Escape cancels; subclasses may override `validate_all` for checks across fields."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    FormScreen .form-title { text-style: bold; margin-bottom: 1; }
    FormScreen VerticalScroll { height: auto; max-height: 1fr; }
    FormScreen Field { margin-bottom: 1; }
    FormScreen .form-buttons { height: auto; align-horizontal: right; }
    FormScreen .form-buttons Button { margin-left: 2; }
    FormScreen .form-error { color: $error; height: auto; }
    FormScreen Select.-textual-compact > SelectOverlay {
        border: round $accent !important; background: $panel;
    }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save"),
    ]
    AUTO_FOCUS = "Field Horizontal > *"

    def __init__(self, title: str, fields: Sequence[FieldSpec], submit_label: str = "Save") -> None:
        super().__init__()
        self.form_title = title
        self.fields = list(fields)
        self.submit_label = submit_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.form_title), classes="form-title")
            with VerticalScroll():
                for spec in self.fields:
                    label = spec.label + (" *" if spec.required else "")
                    rule = _required(spec.label) if spec.required and spec.kind == "choice" else None
                    yield Field(label, self._widget(spec), hint=spec.hint, rule=rule, id=f"row-{spec.name}",
                                error_id=f"error-{spec.name}")
            form_error = Static("", id="form-error", classes="form-error", markup=False)
            form_error.display = False
            yield form_error
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(Text(self.submit_label), id="submit", variant="primary")

    def _widget(self, spec: FieldSpec) -> Widget:
        wid = f"field-{spec.name}"
        if spec.kind == "choice":
            options = [(Text(label), value) for label, value in spec.options]
            value = spec.value if spec.value not in ("", None) else Select.NULL
            allow_blank = not spec.required or value is Select.NULL  # a required choice left open is refused
            return Select(options, value=value, allow_blank=allow_blank, id=wid, disabled=spec.disabled,
                          prompt=spec.placeholder or "Select", compact=True)
        if spec.kind == "switch":
            return FormSwitch(value=bool(spec.value), id=wid, disabled=spec.disabled)
        rules = ([_required(spec.label)] if spec.required else []) + (
            [Rule(spec.check)] if spec.check else []
        )
        widget = text_input(str(spec.value or ""), id=wid, validators=rules, optional=not spec.required,
                            placeholder=spec.placeholder)
        widget.disabled = spec.disabled
        return widget

    # ------------------------------------------------------------------ values

    def field(self, name: str) -> Field:
        return self.query_one(f"#row-{name}", Field)

    def value_of(self, name: str) -> Any:
        widget = self.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else widget.value
        return widget.value  # type: ignore[attr-defined]

    def values(self) -> dict[str, Any]:
        return {spec.name: self.value_of(spec.name) for spec in self.fields}

    def validate_all(self, values: dict[str, Any]) -> str | None:
        """Checks across fields; return a message to refuse the submission."""
        return None

    def show_form_error(self, message: str) -> None:
        label = self.query_one("#form-error", Static)
        label.update(Text(message))
        label.display = bool(message)

    # ------------------------------------------------------------------ events

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Input.Changed | Select.Changed) -> None:
        if isinstance(event, Select.Changed):
            for field in self.query(Field):
                if field.widget is event.select and field.failed:
                    field.check()
        if not any(field.failed for field in self.query(Field)):
            self.show_form_error("")  # the marked fields are fixed: the note goes too

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#submit")
    def _submit_button(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_button(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        bad = first_invalid(field for field in self.query(Field) if not field.widget.disabled)
        if bad is not None:
            self.show_form_error("Fix the marked fields, then press Enter.")
            bad.widget.focus()
            return
        values = self.values()
        problem = self.validate_all(values)
        if problem:
            self.show_form_error(problem)
            return
        self.dismiss(values)
