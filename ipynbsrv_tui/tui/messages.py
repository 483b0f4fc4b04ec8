"""Messages that background threads and workers send to the UI thread."""

from __future__ import annotations

from textual.message import Message

from ..domain import Actor, ContainerChange, ContainerStats, ContainerView, Health


class ContainersLoaded(Message):
    """The full list of containers the actor may see (after start or a reconnect)."""

    def __init__(self, views: list[ContainerView]) -> None:
        super().__init__()
        self.views = views


class ContainersChanged(Message):
    """Live changes from engine events (or from an action that just finished)."""

    def __init__(self, changes: list[ContainerChange]) -> None:
        super().__init__()
        self.changes = changes


class StatsSampled(Message):
    """Resource samples of running containers, by container id."""

    def __init__(self, samples: dict[int, ContainerStats]) -> None:
        super().__init__()
        self.samples = samples


class HealthChecked(Message):
    """A fresh engine / directory health report for the header."""

    def __init__(self, health: Health) -> None:
        super().__init__()
        self.health = health


class FeedProblem(Message):
    """The live container feed lost the engine (or came back): `text` says what and what to do."""

    def __init__(self, text: str, recovered: bool = False) -> None:
        super().__init__()
        self.text = text
        self.recovered = recovered


class ServiceLost(Message):
    """The broker stopped answering (client mode): `reason` says why; health checks keep retrying."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class RightsUpdated(Message):
    """Who the service finds the session's user to be now (first when the watch opens, then after
    each change of rights)."""

    def __init__(self, actor: Actor) -> None:
        super().__init__()
        self.actor = actor


class AccessEnded(Message):
    """The service no longer serves this user (account disabled or deleted): `reason` says so."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
