"""The UI thread's container book: a view read before a delete never brings the row back."""

from __future__ import annotations

import dataclasses

from textual.dom import DOMNode

from ipynbsrv_tui.domain import ContainerChange, ContainerState, ContainerView
from ipynbsrv_tui.tui.book import ContainerBook


def view(container_id: int, state: ContainerState = ContainerState.RUNNING) -> ContainerView:
    return ContainerView(id=container_id, name=f"nb{container_id}", owner="alice", image="py3", image_ref="r",
                         state=state, host_port=49000 + container_id, token="secret")


def test_the_destroy_events_missing_view_after_the_delete_is_dropped():
    book = ContainerBook(DOMNode())
    book.load([view(1), view(2)])
    book.remove(1)  # the delete's answer
    book.apply(
        [
            ContainerChange(1, "destroy", view(1, ContainerState.MISSING)),  # read just before the row went
            ContainerChange(2, "stop", view(2, ContainerState.EXITED)),
        ]
    )
    assert list(book.views) == [2]
    assert book.views[2].state == ContainerState.EXITED


def test_a_new_container_that_reuses_the_id_is_shown():
    book = ContainerBook(DOMNode())
    book.load([view(1)])
    book.apply([ContainerChange(1, "destroy", None)])
    book.apply([ContainerChange(1, "create", dataclasses.replace(view(1), name="again"))])
    book.apply([ContainerChange(1, "start", dataclasses.replace(view(1), name="again"))])
    assert book.views[1].name == "again"
    book.remove(1)
    book.put(dataclasses.replace(view(1), name="third"))  # a create's answer
    assert book.views[1].name == "third"
