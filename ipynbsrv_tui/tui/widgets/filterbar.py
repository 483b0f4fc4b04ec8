"""A one-line filter for a table: `/` opens it, Escape clears it, Enter goes back to the table."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


def matches(query: str, *fields: object) -> bool:
    """Case-insensitive: every word of `query` occurs in one of `fields`."""
    words = query.lower().split()
    if not words:
        return True
    haystack = " ".join(str(f) for f in fields if f is not None).lower()
    return all(word in haystack for word in words)


class FilterBar(Input):
    """Hidden until `open()`; its value filters the screen's table as you type.

    Posts `FilterBar.Done` on Enter or Escape (Escape also clears it) so the screen can give the
    focus back to its table.
    """

    DEFAULT_CSS = """
    FilterBar { display: none; margin: 0 1; }
    FilterBar.-open { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "Clear filter", show=False)]

    class Done(Message):
        """The person finished filtering."""

    def __init__(self, placeholder: str = "filter", *, id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True)

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def action_close(self) -> None:
        self.value = ""
        self.remove_class("-open")
        self.post_message(self.Done())

    async def action_submit(self) -> None:
        if not self.value:
            self.remove_class("-open")
        self.post_message(self.Done())
