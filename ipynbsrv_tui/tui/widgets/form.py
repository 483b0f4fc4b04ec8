"""A small keyboard form in a modal: fields validated as you type, Enter saves, Escape cancels.

Fields are declared with `Field`; a field's `check` is a function that returns the normalised
value or raises `ValidationError` (the functions in `ipynbsrv_tui.validation` fit). The form
dismisses with a dict of field name → value (str for text, the option value for a choice,
bool for a switch), or None when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static, Switch

from ...domain import IpynbsrvError
from .dialog import Dialog


@dataclass(frozen=True)
class Field:
    """One form field: `kind` is "text", "choice" (with `options` as (label, value)) or "switch"."""

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
    extra: dict = field(default_factory=dict)


class FormScreen(Dialog[dict | None]):
    """A modal form; subclasses may override `validate_all` for checks across fields."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    FormScreen .form-title { text-style: bold; margin-bottom: 1; }
    FormScreen VerticalScroll { height: auto; max-height: 1fr; }
    FormScreen .field-row { height: auto; margin-bottom: 1; }
    FormScreen .field-line { height: auto; }
    FormScreen .field-label { width: 20; color: $text-muted; }
    FormScreen .field-row > Input, FormScreen .field-row > Select { width: 1fr; }
    FormScreen .field-error { color: $error; height: auto; padding-left: 20; }
    FormScreen .field-hint { color: $text-muted; height: auto; padding-left: 20; }
    FormScreen .form-buttons { height: auto; align-horizontal: right; }
    FormScreen .form-buttons Button { margin-left: 2; }
    FormScreen .form-error { color: $error; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save"),
    ]
    AUTO_FOCUS = ".field-line > *"

    def __init__(self, title: str, fields: Sequence[Field], submit_label: str = "Save") -> None:
        super().__init__()
        self.form_title = title
        self.fields = list(fields)
        self.submit_label = submit_label
        self._errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.form_title), classes="form-title")
            with VerticalScroll():
                for spec in self.fields:
                    with Vertical(classes="field-row"):
                        with Horizontal(classes="field-line"):
                            yield Label(Text(spec.label + (" *" if spec.required else "")), classes="field-label")
                            yield self._widget(spec)
                        if spec.hint:
                            yield Static(Text(spec.hint), classes="field-hint")
                        error = Static("", id=f"error-{spec.name}", classes="field-error", markup=False)
                        error.display = False
                        yield error
            form_error = Static("", id="form-error", classes="form-error", markup=False)
            form_error.display = False
            yield form_error
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(Text(self.submit_label), id="submit", variant="primary")

    def _widget(self, spec: Field):
        wid = f"field-{spec.name}"
        if spec.kind == "choice":
            options = [(Text(label), value) for label, value in spec.options]
            allow_blank = not spec.required or not options
            value = spec.value if spec.value not in ("", None) else Select.NULL
            if not allow_blank and value is Select.NULL:
                value = options[0][1]
            return Select(options, value=value, allow_blank=allow_blank, id=wid, disabled=spec.disabled,
                          prompt=spec.placeholder or "Select", compact=True)
        if spec.kind == "switch":
            return Switch(value=bool(spec.value), id=wid, disabled=spec.disabled)
        return Input(value=str(spec.value or ""), placeholder=spec.placeholder, id=wid, disabled=spec.disabled,
                     compact=True)

    # ------------------------------------------------------------------ values

    def value_of(self, name: str) -> Any:
        widget = self.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else widget.value
        if isinstance(widget, Switch):
            return widget.value
        return widget.value

    def values(self) -> dict[str, Any]:
        return {spec.name: self.value_of(spec.name) for spec in self.fields}

    def check_field(self, spec: Field) -> str | None:
        """The error of one field, or None; also shows it under the field."""
        value = self.value_of(spec.name)
        error = None
        if spec.required and (value is None or (isinstance(value, str) and not value.strip())):
            error = f"{spec.label} is required."
        elif spec.check is not None and value not in (None, ""):
            try:
                spec.check(value)
            except IpynbsrvError as exc:
                error = str(exc)
        self._show_error(spec.name, error)
        return error

    def _show_error(self, name: str, error: str | None) -> None:
        if error:
            self._errors[name] = error
        else:
            self._errors.pop(name, None)
        label = self.query_one(f"#error-{name}", Static)
        label.update(Text(error or ""))
        label.display = bool(error)
        widget = self.query_one(f"#field-{name}")
        widget.set_class(bool(error), "-invalid")

    def validate_all(self, values: dict[str, Any]) -> str | None:
        """Checks across fields; return a message to refuse the submission."""
        return None

    def show_form_error(self, message: str) -> None:
        label = self.query_one("#form-error", Static)
        label.update(Text(message))
        label.display = bool(message)

    # ------------------------------------------------------------------ events

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("field-")
        spec = next((f for f in self.fields if f.name == name), None)
        if spec is not None:
            self.check_field(spec)

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
        errors = [spec for spec in self.fields if not self.query_one(f"#field-{spec.name}").disabled
                  and self.check_field(spec)]
        if errors:
            self.show_form_error("Fix the marked fields, then press Enter.")
            self.query_one(f"#field-{errors[0].name}").focus()
            return
        values = self.values()
        problem = self.validate_all(values)
        if problem:
            self.show_form_error(problem)
            return
        self.dismiss(values)
