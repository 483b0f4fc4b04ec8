"""The header's unread-notifications badge: the count is asked for once a second in a thread
worker (the service answers from memory and reads the database at most once a second)."""

from __future__ import annotations

UNREAD_SECONDS = 1.0


class UnreadBadge:
    """Mixin for the app (beside `Background`): keeps `app.unread`, a reactive the header watches."""

    def start_unread_badge(self) -> None:
        self.check_unread()
        self.set_interval(UNREAD_SECONDS, self.check_unread)  # type: ignore[attr-defined]

    def check_unread(self) -> None:
        # A failure keeps the last value: the header's health and broker signals report the cause.
        self.run_call(self.read_unread, then=self._set_unread,  # type: ignore[attr-defined]
                      failed=lambda _exc: None, group="unread", exclusive=True)

    def read_unread(self) -> int:
        """The count from the session (in the worker thread: a session without it fails there)."""
        return int(self.session.unread_count())  # type: ignore[attr-defined]

    def _set_unread(self, count: int) -> None:
        if self.unread != count:  # type: ignore[has-type]
            self.unread = count
