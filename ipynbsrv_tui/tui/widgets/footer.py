"""The footer: the screen's keys, with "? Help" pinned to the right so a narrow terminal never cuts it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_KEY = "question_mark"


class KeysFooter(Footer):
    """Textual's Footer, except that the help key is docked right (where the palette key was):
    the screen's keys fill the rest and are cut first; ctrl+p stays listed in `?`."""

    DEFAULT_CSS = """
    KeysFooter FooterKey.-help {
        dock: right;
        padding-right: 1;
        border-left: vkey $foreground 20%;
    }
    """

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)

    def compose(self) -> ComposeResult:
        help_key: FooterKey | None = None
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.key == HELP_KEY:
                help_key = widget
                continue
            yield widget
        if help_key is not None:
            help_key.add_class("-help")
            yield help_key
