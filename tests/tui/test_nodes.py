"""Swarm mode in the UI: the Nodes section (drain / activate with a confirmation) and the Node column."""

from __future__ import annotations

from dataclasses import replace

from ipynbsrv_tui.config import Config
from ipynbsrv_tui.domain import Conflict, NodeView
from ipynbsrv_tui.tui.screens.containers import ContainersScreen
from ipynbsrv_tui.tui.screens.nodes import NodesScreen
from ipynbsrv_tui.tui.widgets.confirm import ConfirmScreen

from .conftest import FixedSession, make_app, screen_text, wait_until

SWARM = Config().replace(engine={"mode": "swarm"})


class SwarmSession(FixedSession):
    """FixedSession plus two nodes; alice's thesis runs on the lost worker."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes = {
            "m1": NodeView("m1", "login", "manager", "ready", "active", "10.0.0.1",
                           {"ipynbsrv.node": "manager"}, ("bob/scratch",), "20.10.24", True),
            "w1": NodeView("w1", "gpu-host", "worker", "down", "active", "10.0.0.2",
                           {"ipynbsrv.node": "gpu1", "[b]x[/b]": "y"}, ("alice/thesis",), "20.10.24"),
        }
        self.views[1] = replace(self.views[1], node="gpu1", node_lost=True)
        for cid, view in self.views.items():
            if cid != 1 and view.up:
                self.views[cid] = replace(view, node="manager")

    def list_nodes(self) -> list[NodeView]:
        self.calls.append(("list_nodes",))
        return list(self.nodes.values())

    def drain_node(self, node: str) -> NodeView:
        self.calls.append(("drain_node", node))
        if node == "m1":
            raise Conflict("Cannot drain the only manager in this test.")
        self.nodes[node] = replace(self.nodes[node], availability="drain")
        return self.nodes[node]

    def activate_node(self, node: str) -> NodeView:
        self.calls.append(("activate_node", node))
        self.nodes[node] = replace(self.nodes[node], availability="active")
        return self.nodes[node]


async def test_nodes_section_lists_nodes_and_drains_after_confirmation():
    session = SwarmSession()
    app = make_app(session, config=SWARM, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        assert [s.mode for s in app.sections][-1] == "nodes"
        await pilot.press("8")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen) and "gpu1" in screen_text(app),
                         what="the nodes")
        text = screen_text(app)
        assert "gpu1" in text and "down" in text and "manager *" in text and "10.0.0.2" in text
        assert "[b]x[/b]=y" in text  # a label is shown as typed, never as markup
        screen = app.screen
        assert screen.table.move_to("w1")
        await pilot.pause()
        assert "notebooks: alice/thesis" in screen_text(app)

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "Drain node gpu1?" in screen_text(app) and "1 notebook(s)" in screen_text(app)
        await pilot.press("enter")  # the safe button has the focus: nothing happens
        await wait_until(pilot, lambda: app.screen is screen, what="the confirmation to close")
        assert ("drain_node", "w1") not in session.calls

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: ("drain_node", "w1") in session.calls, what="the drain")
        await wait_until(pilot, lambda: screen.items["w1"].availability == "drain", what="the reload")
        assert "Drained node gpu1." in app.notes

        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.items["w1"].availability == "active", what="the activation")

        assert screen.table.move_to("m1")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("only manager" in note for note in app.notes), what="the refusal")


async def test_containers_show_the_node_and_a_lost_one():
    session = SwarmSession()
    app = make_app(session, config=SWARM)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(
            pilot, lambda: isinstance(app.screen, ContainersScreen) and app.book.loaded, what="list"
        )
        await pilot.pause()
        text = screen_text(app)
        header = next(line for line in text.splitlines() if "Owner" in line)
        assert header.rstrip().endswith("Node")
        assert "gpu1 (lost)" in text and "manager" in text


async def test_docker_mode_has_no_nodes_section_and_no_node_column():
    app = make_app(FixedSession())
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(
            pilot, lambda: isinstance(app.screen, ContainersScreen) and app.book.loaded, what="list"
        )
        assert "nodes" not in [s.mode for s in app.sections]
        header = next(line for line in screen_text(app).splitlines() if "Owner" in line)
        assert "Node" not in header
