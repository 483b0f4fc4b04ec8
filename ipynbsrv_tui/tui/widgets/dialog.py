"""The base of every dialog: a modal screen whose buttons are reached with the left / right arrows."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Button

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A ModalScreen where left / right move between the buttons of a row while one has the focus
    (elsewhere the arrows stay with the focused widget, e.g. an Input's cursor)."""

    BINDINGS = [
        Binding("left", "between_buttons(-1)", show=False),
        Binding("right", "between_buttons(1)", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "between_buttons":
            return isinstance(self.focused, Button)
        return True

    def action_between_buttons(self, step: int) -> None:
        focused = self.focused
        if not isinstance(focused, Button) or focused.parent is None:
            return
        buttons = [
            child for child in focused.parent.children if isinstance(child, Button) and child.focusable
        ]
        index = max(0, min(len(buttons) - 1, buttons.index(focused) + step))
        buttons[index].focus()
