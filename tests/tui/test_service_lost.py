"""The header when the broker stops answering (client mode), with a fake session (DESIGN §12)."""

from __future__ import annotations

from ipynbsrv_tui.broker.protocol import BrokerUnavailable
from ipynbsrv_tui.domain import ContainerState
from ipynbsrv_tui.tui.widgets.statusbar import StatusBar

from .conftest import FixedSession, make_app, wait_until


class FlakySession(FixedSession):
    """A client-mode session whose broker can be taken away and brought back."""

    mode = "client"

    def __init__(self) -> None:
        super().__init__()
        self.lost = False
        self.lists = 0

    def health(self):
        if self.lost:
            raise BrokerUnavailable(
                "Cannot reach the ipynbsrv broker at /run/ipynbsrv/ipynbsrv.sock: Connection refused."
            )
        return super().health()

    def list_containers(self, owner=None):
        self.lists += 1
        return super().list_containers(owner)


def _header(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_lost_broker_shows_in_the_header_and_up_stops_ticking():
    session = FlakySession()
    app = make_app(session)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "engine ✓" in _header(app) and app.book.loaded)
        running = next(v.id for v in session.views.values() if v.state == ContainerState.RUNNING)
        assert app.screen.row_cells(running)[7] not in ("", "?")
        session.lost = True
        await wait_until(pilot, lambda: "broker ✗" in _header(app), timeout=2.5)
        assert "engine ✓" not in _header(app) and "local ✓" not in _header(app)
        assert app.screen.row_cells(running)[7] == "?"
        assert any("Retrying every second" in note for note in app.notes)
        loaded = session.lists
        for watch in session.watches:
            watch.close()  # the broker's stream ends too; the feed waits to retry
        session.lost = False
        await wait_until(pilot, lambda: "engine ✓" in _header(app) and not app.book.stale, timeout=3)
        await wait_until(pilot, lambda: session.lists > loaded, timeout=2)
        assert app.screen.row_cells(running)[7] not in ("", "?")
        assert any("answers again" in note for note in app.notes)
