"""Choose one item from a list in a modal (e.g. the snapshot to restore)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from .dialog import Dialog


class PickerScreen(Dialog[Any]):
    """Dismisses with the value of the chosen option, or None on Escape."""

    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical {
        width: 72; max-width: 100%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    PickerScreen .picker-title { text-style: bold; margin-bottom: 1; }
    PickerScreen OptionList { height: auto; max-height: 16; }
    PickerScreen .picker-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    AUTO_FOCUS = "OptionList"

    def __init__(
        self, title: str, options: Sequence[tuple[str, Any]], hint: str = "Enter chooses · Escape cancels"
    ) -> None:
        super().__init__()
        self.picker_title = title
        self.choices = list(options)
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.picker_title), classes="picker-title")
            yield OptionList(
                *[Option(Text(label), id=str(i)) for i, (label, _value) in enumerate(self.choices)]
            )
            yield Static(Text(self.hint), classes="picker-hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[int(event.option.id or 0)][1])
