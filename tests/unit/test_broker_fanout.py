"""The broker's fan-out of live container changes: each actor sees only what DESIGN §8 allows."""

from __future__ import annotations

import dataclasses
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


def test_a_view_read_before_a_delete_never_reaches_the_owner_after_it():
    """The delete of a paused notebook (issue 21 item 3): the events loop read the destroy event's
    "missing" view while the row still existed and checked it against the removals before the
    delete was announced, but queued it after: the owner's screen kept a dead row with its URL."""
    hub = ChangeHub()
    hub.connected([view(2, "ben")])
    ben = hub.subscribe(Actor("ben", 2003, False))
    offer = ben.offer
    deleted = threading.Event()
    calls = []

    def slow_offer(change):  # the events loop's thread is descheduled between check and offer
        calls.append(change)
        if len(calls) == 1:
            deleted.wait(1.0)
        return offer(change)

    ben.offer = slow_offer
    missing = ContainerChange(2, "destroy", dataclasses.replace(view(2, "ben"), state=ContainerState.MISSING))
    events_loop = threading.Thread(target=hub.publish, args=(missing,))
    events_loop.start()
    while not calls:
        threading.Event().wait(0.01)
    delete = threading.Thread(target=lambda: (hub.publish(ContainerChange(2, "delete", None)), deleted.set()))
    delete.start()
    events_loop.join(5)
    delete.join(5)
    seen = drain(ben)
    assert seen and seen[-1].view is None, [(c.action, c.view and c.view.state) for c in seen]


def test_a_deletion_reaches_its_owner_when_the_events_loop_never_showed_the_container():
    """The broker's events loop lags under load: a notebook made and deleted within a moment was
    announced deleted (by the service) before the loop published any view of it, and its own late
    events read no row, so they were deletions too. Without an owner the hub sent them to admins
    only, and a screen that had listed the notebook kept its dead row."""
    hub = ChangeHub()
    hub.connected([])
    bob, alice = hub.subscribe(BOB), hub.subscribe(ALICE)
    hub.publish(ContainerChange(8, "delete", None, owner="bob"))  # the service's delete
    hub.publish(ContainerChange(8, "create", None, owner="bob"))  # the loop's late create: no row
    seen = [(c.container_id, c.action, c.view) for c in drain(bob)]
    assert seen == [(8, "delete", None), (8, "create", None)]
    assert drain(alice) == []
