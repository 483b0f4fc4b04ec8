"""BuildStream over recorded chunk sequences: summary, base-image explanation, cancel, broken streams."""

from __future__ import annotations

import threading

import requests.exceptions

from ipynbsrv_tui.domain import BuildEventKind as K
from ipynbsrv_tui.domain import BuildStatus
from ipynbsrv_tui.engine.builds import CANCELLED, BuildStream
from tests.fixtures.build_logs import DEBCONF_BUILD, FAILING_BUILD

REGISTRY_DOWN = 'Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid: no such host'


def test_summary_of_a_successful_build():
    stream = BuildStream(iter(DEBCONF_BUILD), "ipynbsrv-test/debconf:1")
    events = list(stream)
    summary = stream.summary
    assert summary is not None
    assert summary.status is BuildStatus.SUCCEEDED
    assert summary.image_id == "sha256:08a599a7ae956c423a3f211a04b9ba253b0747a8e495fb0eeb40cb40153bda02"
    assert (summary.tolerated, summary.warnings, summary.error, summary.exit_code) == (11, 0, None, None)
    assert summary.lines == len([e for e in events if e.kind not in (K.RESULT, K.ERROR)])
    assert summary.seconds >= 0


def test_summary_of_a_failing_run_step():
    stream = BuildStream(iter(FAILING_BUILD), "ipynbsrv-test/fail:1")
    events = list(stream)
    assert events[-1].kind is K.ERROR
    summary = stream.summary
    assert summary.status is BuildStatus.FAILED
    assert (summary.exit_code, summary.image_id) == (3, None)
    assert "returned a non-zero code: 3" in summary.error


def test_missing_base_image_is_named_with_its_build_arg_resolved():
    chunks = [
        {"stream": "Step 1/3 : ARG BASE_IMAGE=debian:bookworm-slim"},
        {"stream": "\n"},
        {"stream": "Step 2/3 : FROM ${BASE_IMAGE} AS base"},
        {"stream": "\n"},
        {"errorDetail": {"message": REGISTRY_DOWN}, "error": REGISTRY_DOWN},
    ]
    stream = BuildStream(
        iter(chunks), "ipynbsrv-test/x:1", buildargs={"BASE_IMAGE": "ipynbsrv-test/absent:1"}
    )
    error = list(stream)[-1]
    assert error.kind is K.ERROR
    assert error.text.startswith("Base image ipynbsrv-test/absent:1 is not present on the Docker Engine")
    assert REGISTRY_DOWN in error.text
    assert stream.summary.error == error.text
    assert stream.summary.status is BuildStatus.FAILED


def test_missing_base_image_with_the_args_default():
    chunks = [
        {"stream": "Step 1/2 : ARG BASE_IMAGE=ipynbsrv-test/default:1\n"},
        {"stream": "Step 2/2 : FROM --platform=linux/amd64 $BASE_IMAGE\n"},
        {"error": REGISTRY_DOWN},
    ]
    stream = BuildStream(iter(chunks), "ipynbsrv-test/x:1")
    assert "Base image ipynbsrv-test/default:1 is not present" in list(stream)[-1].text


def test_cancel_from_another_thread_ends_the_iteration_as_cancelled():
    release = threading.Event()

    def endless():
        yield {"stream": "Step 1/1 : RUN sleep 1000\n"}
        while True:
            release.wait(5)
            yield {"stream": "tick\n"}

    stream = BuildStream(endless(), "ipynbsrv-test/x:1")
    first = next(stream)
    assert first.kind is K.STEP
    stream.cancel()
    release.set()
    rest = list(stream)
    assert rest[-1].kind is K.ERROR and rest[-1].text == CANCELLED
    assert stream.summary.status is BuildStatus.CANCELLED
    assert stream.cancelled


def test_a_build_stopped_after_a_finished_stage_is_cancelled_and_its_stage_images_go():
    """A multi-stage build reports the first stage's image before the second runs: a stop then
    is still a cancel, without a result, and the stage's untagged image is handed to the cleanup."""
    release = threading.Event()
    leftovers: list[list[str]] = []

    def two_stages():
        yield {"stream": "Step 1/3 : FROM debian:bookworm-slim AS first\n"}
        yield {"stream": " ---> 1111aaaa2222\n"}
        yield {"aux": {"ID": "sha256:first"}}
        yield {"stream": "Step 2/3 : FROM debian:bookworm-slim\n"}
        yield {"stream": "Step 3/3 : RUN sleep 1000\n"}
        yield {"stream": " ---> 3333bbbb4444\n"}
        while True:
            release.wait(5)
            yield {"stream": "tick\n"}

    stream = BuildStream(two_stages(), "ipynbsrv-test/x:1", on_cancelled=leftovers.append)
    while stream.last_layer != "3333bbbb4444":
        next(stream)
    stream.cancel()
    release.set()
    rest = list(stream)
    assert K.RESULT not in {e.kind for e in rest}
    assert stream.summary.status is BuildStatus.CANCELLED
    assert stream.summary.image_id is None
    assert leftovers == [["3333bbbb4444", "sha256:first"]]


def _stages(last: str) -> list[dict]:
    return [
        {"stream": "Step 1/4 : FROM debian:bookworm-slim AS builder\n"},
        {"stream": " ---> 1111aaaa2222\n"},
        {"stream": "Step 2/4 : RUN make\n"},
        {"stream": " ---> 5555cccc6666\n"},
        {"aux": {"ID": "sha256:builder"}},
        {"stream": "Step 3/4 : FROM debian:bookworm-slim\n"},
        {"stream": " ---> 1111aaaa2222\n"},
        {"stream": "Step 4/4 : COPY --from=builder /x /x\n"},
        *(
            [{"stream": " ---> 7777dddd8888\n"}, {"aux": {"ID": "sha256:final"}}]
            if last == "ok"
            else [{"error": "COPY failed: no such file"}]
        ),
    ]


def test_a_successful_multi_stage_builds_leftovers_are_its_builder_stages_not_its_result():
    stream = BuildStream(iter(_stages("ok")), "ipynbsrv-test/x:1")
    list(stream)
    assert stream.summary.image_id == "sha256:final"
    assert stream.leftovers == ["sha256:builder"]


def test_a_failed_builds_leftovers_are_its_last_layer_and_finished_stages():
    stream = BuildStream(iter(_stages("fail")), "ipynbsrv-test/x:1")
    list(stream)
    assert stream.summary.status is BuildStatus.FAILED
    assert stream.leftovers == ["1111aaaa2222", "sha256:builder"]


def test_a_planned_build_removes_each_steps_leftovers_through_the_engine_as_its_owner():
    """Issue 22 item 8: a build's builder stages go when it ends, through `remove_leftover_images`
    with the installation's label only (a stage image inherits `built-by` from its base); what the
    engine could not remove stays listed for reconcile."""
    from pathlib import Path
    from types import SimpleNamespace

    from ipynbsrv_tui.service.builds import PlannedBuild

    calls: list[tuple[list[str], dict[str, str]]] = []

    class Engine:
        mode = "docker"

        def build(self, context, tag, **kwargs):
            return BuildStream(iter(_stages("ok")), tag)

        def remove_leftover_images(self, image_ids, labels=None, wait=0.0):
            calls.append((list(image_ids), dict(labels or {})))
            return ["sha256:builder"] if len(calls) == 2 else []

    folder = SimpleNamespace(name="f", path=Path("/nowhere"), wheel_sets=())
    steps = [SimpleNamespace(folder=folder, tag=f"t{i}:latest", buildargs={}, labels={}, nocache=False,
                             reason="missing base" if i == 0 else "requested") for i in range(2)]
    planned = PlannedBuild(Engine(), SimpleNamespace(steps=steps, target=steps[-1]),
                           {"ipynbsrv.built-by": "root", "ipynbsrv.instance": "i1"}, wheelhouse=False,
                           owner={"ipynbsrv.instance": "i1"})
    list(planned)
    assert planned.summary.status is BuildStatus.SUCCEEDED
    assert calls == [(["sha256:builder"], {"ipynbsrv.instance": "i1"})] * 2
    assert planned.leftovers == ["sha256:builder"]


def test_a_broken_connection_is_a_failure_event_not_an_exception():
    def broken():
        yield {"stream": "Step 1/1 : RUN true\n"}
        raise requests.exceptions.ConnectionError("connection reset")

    stream = BuildStream(broken(), "ipynbsrv-test/x:1", url="unix:///tmp/engine.sock")
    events = list(stream)
    assert events[-1].kind is K.ERROR
    assert "Cannot reach the Docker Engine at unix:///tmp/engine.sock" in events[-1].text
    assert stream.summary.status is BuildStatus.FAILED


def test_a_planned_build_reports_the_whole_plans_time_not_only_the_last_images():
    """The live bar and the CLI give the time build history gives: bases and wheels included."""
    import time as clock
    from pathlib import Path
    from types import SimpleNamespace

    from ipynbsrv_tui.domain import BuildStatus, BuildSummary
    from ipynbsrv_tui.service.builds import PlannedBuild

    class QuickStream:
        def __init__(self) -> None:
            self.summary = None

        def __iter__(self):
            clock.sleep(0.2)  # the engine's own build of this step
            self.summary = BuildSummary(
                BuildStatus.SUCCEEDED, "sha256:" + "b" * 64, None, None, 0, 0, 1, 0.01
            )
            return iter(())

        def cancel(self) -> None: ...

        leftovers: list[str] = []

    class Engine:
        mode = "docker"

        def build(self, *args, **kwargs):
            return QuickStream()

    folder = SimpleNamespace(name="f", path=Path("/nowhere"), wheel_sets=())
    steps = [SimpleNamespace(folder=folder, tag=f"t{i}:latest", buildargs={}, labels={}, nocache=False,
                             reason="missing base" if i == 0 else "requested") for i in range(2)]
    planned = PlannedBuild(Engine(), SimpleNamespace(steps=steps, target=steps[-1]), {}, wheelhouse=False)
    list(planned)
    assert planned.summary.status is BuildStatus.SUCCEEDED
    assert planned.summary.seconds >= 0.4  # both steps, not the last stream's 0.01 s
