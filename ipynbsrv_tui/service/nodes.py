"""Swarm nodes for admins (DESIGN §15): list them, drain and activate them."""

from __future__ import annotations

from ..domain import Actor, NodeView
from .base import Component


class Nodes(Component):
    """The swarm's nodes and where the notebooks run; admins only."""

    def list_nodes(self, actor: Actor) -> list[NodeView]:
        """Every node: state, availability, labels and the notebooks whose tasks run there."""
        if not actor.is_admin:
            raise self.refuse(actor, "node.list", "", "Only admins may see the nodes.")
        return self.engine.nodes()

    def drain_node(self, actor: Actor, node: str) -> NodeView:
        """Stop placing notebooks on `node` and move its notebooks to other eligible nodes."""
        return self._set_availability(actor, node, "drain")

    def activate_node(self, actor: Actor, node: str) -> NodeView:
        """Let Swarm place notebooks on `node` again (running ones stay where they are)."""
        return self._set_availability(actor, node, "active")

    def _set_availability(self, actor: Actor, node: str, availability: str) -> NodeView:
        action = "node.drain" if availability == "drain" else "node.activate"
        if not actor.is_admin:
            raise self.refuse(actor, action, node, "Only admins may drain or activate nodes.")
        engine = self.engine
        try:
            view = engine.set_availability(node, availability)
        except Exception as exc:
            self.audit(actor, action, node, "failed", str(exc))
            raise
        self.audit(actor, action, view.name, detail=f"availability={availability}")
        return view
