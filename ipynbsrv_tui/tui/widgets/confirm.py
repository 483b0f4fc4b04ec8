"""A yes/no confirmation whose default is the safe answer, buttons named by what they do (DESIGN §9)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from .dialog import Dialog


class ConfirmScreen(Dialog[bool]):
    """Asks before a destructive action; the safe button (`cancel_label`, e.g. "Keep building") has
    the focus, Escape answers it; left/right move between the buttons (an app-wide key). Each
    button names its key ("Delete · y", "Cancel · esc"): no accelerator is hidden."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64; max-width: 90%; height: auto; max-height: 90%;
        border: thick $error; background: $surface; padding: 1 2;
    }
    ConfirmScreen .question { margin-bottom: 1; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("y", "confirm", "Yes", show=False)]
    AUTO_FOCUS = "#cancel"

    def __init__(self, question: str, confirm_label: str = "Delete", cancel_label: str = "Cancel") -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), classes="question")
            with Horizontal():
                yield Button(Text(f"{self.cancel_label} · esc"), id="cancel", variant="primary")
                yield Button(Text(f"{self.confirm_label} · y"), id="confirm", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        self.dismiss(True)
