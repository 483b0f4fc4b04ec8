"""bulk.run_each: every container is asked on its own; a failure is recorded with its first line
and the next one still runs (issue 28, item 14)."""

from __future__ import annotations

import pytest

from ipynbsrv_tui import bulk
from ipynbsrv_tui.domain import NotAuthorized, NotFound


class Calls:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def _answer(self, action: str, cid: int):
        self.asked.append((action, cid))
        if cid == 2:
            raise NotFound("No container #2.\nsecond line")
        if cid == 3:
            raise NotAuthorized("Only its owner or an admin may do that.")
        if cid == 4:
            raise RuntimeError("engine hiccup")
        return f"view {cid}"

    def __getattr__(self, name: str):
        action = name.removesuffix("_container")
        return lambda cid: self._answer(action, cid)


def test_each_step_runs_and_each_failure_keeps_its_one_line_reason():
    calls = Calls()
    steps = [bulk.Step(f"alice/n{i}", i, action) for i, action in
             ((1, "stop"), (2, "start"), (3, "suspend"), (4, "resume"), (5, "restart"))]
    outcomes = bulk.run_each(calls, steps)  # type: ignore[arg-type]
    assert calls.asked == [("stop", 1), ("start", 2), ("suspend", 3), ("resume", 4), ("restart", 5)]
    assert [o.ok for o in outcomes] == [True, False, False, False, True]
    assert [o.error for o in outcomes if not o.ok] == [
        "No container #2.", "Only its owner or an admin may do that.", "RuntimeError: engine hiccup"]
    assert outcomes[1].line() == "alice/n2 (#2): start failed: No container #2."
    assert bulk.summary(outcomes) == "2 of 5 succeeded, 3 failed."
    assert bulk.summary(outcomes[:1]) == "1 of 1 succeeded."


def test_an_unknown_action_is_a_programming_error_not_a_call():
    with pytest.raises(ValueError, match="delete"):
        bulk.run_each(Calls(), [bulk.Step("a/b", 1, "delete")])  # type: ignore[arg-type]
