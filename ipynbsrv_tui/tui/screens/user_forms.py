"""Forms of the Users section: create a user, reset a password, delete a user (and what happens
to their containers and data), and the report of a deletion."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from ...domain import DeleteUserReport, UserView, ValidationError
from ..background import Background, error_text
from ..widgets.dialog import Dialog
from ..widgets.forms import Field, FormSwitch, Rule, first_invalid, password_rule, text_input, username_rule
from ..widgets.report import ReportScreen

FORM_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 84; max-width: 100%; height: auto; max-height: 100%;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; height: auto; }}
{name} VerticalScroll {{ height: auto; max-height: 100%; }}
{name} .status {{ height: auto; color: $error; }}
{name} .status.-info {{ color: $text-muted; }}
{name} .help {{ height: 1; color: $text-muted; }}
"""

class Choice(RadioButton):
    """A radio button readable without colour: only the chosen one shows ● (Textual's shows it
    on every button and tells the choice by colour alone)."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 (Textual's name)
        return "●" if self.value else " "


class ChoiceSet(RadioSet, inherit_bindings=False):
    """A RadioSet moved with up / down only: left / right belong to the dialog's buttons (→ then
    Enter, meant for the Delete button, chose "delete" in the set instead)."""

    BINDINGS = [
        Binding("down", "next_button", "Next option", show=False),
        Binding("enter,space", "toggle_button", "Choose", show=False),
        Binding("up", "previous_button", "Previous option", show=False),
    ]


CHOICES = (
    ("keep", "keep"),
    ("archive", "archive"),
    ("delete", "delete"),
)


class _Form(Background):
    """What the user forms share: a status line, saving once at a time, Enter saves."""

    _saving = False

    def status(self, text: str, info: bool = False) -> None:
        line = self.query_one(".status", Static)  # type: ignore[attr-defined]
        line.update(Text(text))
        line.set_class(info, "-info")

    def validated(self) -> bool:
        bad = first_invalid(self.query(Field))  # type: ignore[attr-defined]
        if bad is not None:
            self.status(f"{bad.label}: fix the marked field first.")
            bad.widget.focus()
            return False
        return True

    def failed(self, exc: BaseException) -> None:
        self._saving = False
        self.status(error_text(exc))
        self.show_error(exc, "Not saved")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()  # type: ignore[attr-defined]


def _same_as(other_id: str, screen: Dialog) -> Rule:
    def check(value: str) -> None:
        if value != screen.query_one(f"#{other_id}", Input).value:
            raise ValidationError("The two passwords differ: type the same password twice.")

    return Rule(check)


class CreateUserScreen(_Form, Dialog[UserView | None]):
    """New directory user: username, display name, email, password twice, admin flag."""

    DEFAULT_CSS = FORM_CSS.format(name="CreateUserScreen")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("enter", "save", "Save")]
    AUTO_FOCUS = "#username"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Create a user", classes="title")
            with VerticalScroll():
                yield Field("Username", text_input(id="username", validators=[username_rule()]),
                            hint="lower case, e.g. alice")
                yield Field("Display name", text_input(id="display-name", optional=True))
                yield Field("Email", text_input(id="email", optional=True))
                yield Field(
                    "Password", text_input(id="password", password=True, validators=[password_rule()])
                )
                yield Field("Password again", text_input(id="password-again", password=True,
                                                         validators=[_same_as("password", self)]))
                yield Field("Admin", FormSwitch(value=False, id="admin"), hint="may manage images and users")
            yield Static("", classes="status")
            yield Static("Enter save · Esc cancel · Space toggles", classes="help")

    def action_save(self) -> None:
        if self._saving or not self.validated():
            return
        self._saving = True
        self.status("Creating…", info=True)

        def value(input_id: str) -> str:
            return self.query_one(f"#{input_id}", Input).value

        self.run_call(
            self.app.session.create_user, value("username").strip(), value("password"),
            display_name=value("display-name").strip(), email=value("email").strip(),
            is_admin=self.query_one("#admin", FormSwitch).value,
            then=self.dismiss, failed=self.failed,
        )


class ResetPasswordScreen(_Form, Dialog[bool]):
    """Set a user's password (typed twice)."""

    DEFAULT_CSS = FORM_CSS.format(name="ResetPasswordScreen")
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("enter", "save", "Save")]
    AUTO_FOCUS = "#password"

    def __init__(self, username: str) -> None:
        super().__init__()
        self.username = username

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"New password for {self.username}"), classes="title")
            yield Field("Password", text_input(id="password", password=True, validators=[password_rule()]))
            yield Field("Password again", text_input(id="password-again", password=True,
                                                     validators=[_same_as("password", self)]))
            yield Static("", classes="status")
            yield Static("Enter save · Esc cancel", classes="help")

    def action_save(self) -> None:
        if self._saving or not self.validated():
            return
        self._saving = True
        self.status("Saving…", info=True)
        self.run_call(self.app.session.set_password, self.username, self.query_one("#password", Input).value,
                  then=lambda _none: self.dismiss(True), failed=self.failed)


class DeleteUserScreen(Dialog[tuple[str, str] | None]):
    """Asks what to do with a user's containers and data (keep / archive / delete each) before
    deleting them; Cancel has the focus. Dismisses with (containers, data) or None."""

    DEFAULT_CSS = """
    DeleteUserScreen { align: center middle; }
    DeleteUserScreen > Vertical {
        width: 84; max-width: 100%; height: auto; max-height: 100%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    DeleteUserScreen .question { height: auto; margin-bottom: 1; }
    DeleteUserScreen Horizontal#choices { height: auto; }
    DeleteUserScreen Horizontal#choices > Vertical { width: 1fr; height: auto; }
    DeleteUserScreen RadioSet { width: 100%; }
    DeleteUserScreen .explain { color: $text-muted; height: auto; }
    DeleteUserScreen Horizontal#buttons { height: auto; align-horizontal: right; margin-top: 1; }
    DeleteUserScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    AUTO_FOCUS = "#cancel"

    def __init__(self, user: UserView, containers: str = "archive", data: str = "archive") -> None:
        super().__init__()
        self.user = user
        self.defaults = {"containers": containers, "data": data}

    def compose(self) -> ComposeResult:
        user = self.user
        who = f"{user.username} ({user.display_name}, uid {user.uid})" if user.display_name else \
            f"{user.username} (uid {user.uid})"
        with Vertical():
            yield Static(
                Text(f"Delete user {who}? They own {user.containers} container(s)."), classes="question"
            )
            with Horizontal(id="choices"):
                for kind, label in (("containers", "Containers, snapshots, own images"),
                                    ("data", "Home and public folder")):
                    with Vertical():
                        yield Label(label)
                        with ChoiceSet(id=f"{kind}-choice"):
                            for value, text in CHOICES:
                                yield Choice(text, value=value == self.defaults[kind], id=f"{kind}-{value}")
            yield Static(
                "keep: containers are stopped and stay listed under the disabled user · archive: saved as "
                ".tar.gz under the data root's archive/, then removed · delete: removed for good. "
                "Tab reaches each list, up / down and Enter choose.",
                classes="explain",
            )
            with Horizontal(id="buttons"):
                yield Button("Cancel · esc", id="cancel", variant="primary")
                yield Button("Delete user", id="confirm", variant="error")

    def on_mount(self) -> None:
        self.call_after_refresh(self._highlight_defaults)

    def _highlight_defaults(self) -> None:
        """Arrow keys start from the pressed choice (a RadioSet starts from its first button)."""
        for radio_set in self.query(RadioSet):
            radio_set._selected = radio_set.pressed_index

    def choice(self, kind: str) -> str:
        pressed = self.query_one(f"#{kind}-choice", RadioSet).pressed_button
        if pressed is None or pressed.id is None:
            return self.defaults[kind]
        return pressed.id.removeprefix(f"{kind}-")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.dismiss((self.choice("containers"), self.choice("data")))
        else:
            self.dismiss(None)


def delete_report(report: DeleteUserReport) -> ReportScreen:
    """What a user deletion archived, removed and kept, in a report modal."""
    summary = f"containers: {report.containers} · data: {report.data}"
    if not (report.archived or report.removed or report.kept):
        summary += " · there was nothing else to archive, remove or keep"
    return ReportScreen(
        f"User {report.username} deleted", summary,
        [("Archived", report.archived), ("Removed", report.removed), ("Kept", report.kept)],
    )
