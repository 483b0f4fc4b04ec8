"""The footer: the screen's keys, with "? Help" (and a list's reload key) pinned to the right so a
narrow terminal never cuts them; and `KeyHints`: the screen's other keys as bare keys with one-word
labels (as k9s's key-hint area)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_KEY = "question_mark"
RELOAD_KEY = "f5"  # every list that does not follow changes live reloads with it
PINNED_KEYS = (RELOAD_KEY, HELP_KEY)  # kept on the right, in this order
# One word per action where the first word of its description would not do.
HINT_WORDS = {
    "copy_url": "copy-url",
    "copy_tunnel": "copy-ssh",
    "show_url": "show-url",
    "clear_filter": "unfilter",
    "mark_all": "mark-all",
    "sort_reverse": "reverse",
    "stop_suspended": "stop-paused",
}


class KeysFooter(Footer):
    """Textual's Footer, except that the help key and the reload key are docked right (where the
    palette key was): the screen's other keys fill the rest, and those that do not fit are left out
    whole, from the end; ctrl+p stays listed in `?`."""

    DEFAULT_CSS = """
    KeysFooter #pinned-keys {
        dock: right;
        width: auto;
        height: 1;
    }
    KeysFooter FooterKey.-help {
        padding-right: 1;
        border-left: vkey $foreground 20%;
    }
    """

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)

    def compose(self) -> ComposeResult:
        pinned: dict[str, FooterKey] = {}
        others: list[Widget] = []
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.key in PINNED_KEYS:
                pinned[widget.key] = widget
            else:
                others.append(widget)
        # A key that would be cut is left out whole ("d Dele" told nothing); `?` lists it. Its
        # trailing blank may go: the pinned keys begin with one.
        help_frame = 2 if HELP_KEY in pinned else 0  # its border and padding
        room = self.size.width - sum(key_width(key) for key in pinned.values()) - help_frame
        for widget in others:
            width = key_width(widget) if isinstance(widget, FooterKey) else 0
            if self.size.width and width - 1 > room:
                break
            room -= width
            yield widget
        if pinned:
            if HELP_KEY in pinned:
                pinned[HELP_KEY].add_class("-help")
            yield HorizontalGroup(*(pinned[key] for key in PINNED_KEYS if key in pinned), id="pinned-keys")

    def on_resize(self) -> None:
        self.call_after_refresh(self.recompose)


def key_width(key: FooterKey) -> int:
    """Columns a footer key takes: " k Description "."""
    return cell_len(key.key_display) + cell_len(key.description) + 3


def hint_word(binding: Binding) -> str:
    """The one-word label of a key hint: `Commit to image` is `commit`."""
    return HINT_WORDS.get(binding.action) or binding.description.split(" ", 1)[0].lower()


class KeyHints(Widget):
    """The screen's own keys that the footer does not list (`show=False`), as `l logs  p suspend …`,
    wrapped between hints over as many lines as the width needs: at 80 columns every action key of
    the screen is on it without `?` (issue 28, item 11). The keys of the focused widget (j/k, …),
    Textual's own (tab, ctrl+c) and the app's stay in `?`."""

    DEFAULT_CSS = """
    KeyHints {
        height: auto;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    def hints(self) -> list[tuple[str, str]]:
        """(key, word) for each of the screen's unlisted actions the actor may take, in the order
        they were bound."""
        pairs: list[tuple[str, str]] = []
        seen: set[str] = set()
        # The screen's own map, not `active_bindings`: that one is the current screen's, and this
        # widget is measured before its screen becomes current.
        for bindings in self.screen._bindings.key_to_bindings.values():
            for binding in bindings:
                action = binding.action
                if binding.show or "." in action or action in seen:
                    continue
                if self.screen.check_action(action.partition("(")[0], ()) is False:
                    continue  # not for this actor (x shell for a user)
                seen.add(action)
                pairs.append((binding.key_display or self.app.get_key_display(binding), hint_word(binding)))
        return pairs

    def lines(self, width: int) -> list[Text]:
        """The hints broken between hints (never inside one) to fit `width` columns."""
        lines = [Text()]
        for key, word in self.hints():
            line = lines[-1]
            if line and line.cell_len + 2 + len(key) + 1 + len(word) > width:
                line = Text()
                lines.append(line)
            elif line:
                line.append("  ")
            line.append(key, style="bold")
            line.append(" " + word)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def on_resize(self) -> None:
        self.refresh(layout=True)

    def render(self) -> Text:
        return Text("\n").join(self.lines(self.content_size.width))
