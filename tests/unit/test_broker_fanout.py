"""The broker's fan-out of live container changes: each actor sees only what DESIGN §8 allows."""

from __future__ import annotations

import threading

import pytest

from ipynbsrv_tui.broker import fanout
from ipynbsrv_tui.broker.fanout import ChangeHub
from ipynbsrv_tui.broker.protocol import BrokerUnavailable
from ipynbsrv_tui.domain import Actor, ContainerChange, ContainerState, ContainerView

ALICE = Actor("alice", 2001, False)
BOB = Actor("bob", 2002, False)
ADMIN = Actor("root", 0, True)


def view(container_id: int, owner: str) -> ContainerView:
    return ContainerView(id=container_id, name=f"nb{container_id}", owner=owner, image="py3", image_ref="r",
                         state=ContainerState.RUNNING, host_port=49000 + container_id, token="secret")


def drain(subscription) -> list[ContainerChange]:
    subscription.close()
    return list(subscription)


def test_changes_reach_the_owner_and_admins_only():
    hub = ChangeHub()
    hub.connected([view(1, "alice"), view(2, "bob")])
    alice, bob, admin = hub.subscribe(ALICE), hub.subscribe(BOB), hub.subscribe(ADMIN)
    hub.publish(ContainerChange(1, "stop", view(1, "alice")))
    hub.publish(ContainerChange(2, "start", view(2, "bob")))
    hub.publish(ContainerChange(2, "destroy", None))  # deleted: the owner is remembered
    hub.publish(ContainerChange(9, "destroy", None))  # never seen: admins only
    seen_by_alice = drain(alice)
    assert [(c.container_id, c.action) for c in seen_by_alice] == [(1, "stop")]
    assert [(c.container_id, c.action) for c in drain(bob)] == [(2, "start"), (2, "destroy")]
    assert len(drain(admin)) == 4


def test_a_closed_subscription_ends_and_receives_nothing_more():
    hub = ChangeHub()
    hub.connected([])
    subscription = hub.subscribe(ALICE)
    done = threading.Event()
    received: list = []

    def read():
        received.extend(subscription)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    subscription.close()
    assert done.wait(5)
    hub.publish(ContainerChange(1, "start", view(1, "alice")))
    assert received == []


def test_a_reader_too_far_behind_is_ended_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(fanout, "QUEUE_LIMIT", 3)
    hub = ChangeHub()
    hub.connected([view(1, "alice")])
    subscription = hub.subscribe(ALICE)
    for _ in range(5):
        hub.publish(ContainerChange(1, "start", view(1, "alice")))
    with pytest.raises(BrokerUnavailable, match="fell 3 changes behind"):
        list(subscription)
