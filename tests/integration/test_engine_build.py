"""Live, classified image builds on the real Docker Engine (issue 2, item 7)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import pytest

from ipynbsrv_tui.domain import BuildEventKind as K
from ipynbsrv_tui.domain import BuildStatus, ImageMissing, NotFound
from ipynbsrv_tui.engine.classifier import TOLERATED

pytestmark = pytest.mark.docker


@pytest.fixture
def make_context(tmp_path):
    """Write a Dockerfile into a fresh folder and return the folder."""

    def make(dockerfile: str):
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir()
        (folder / "Dockerfile").write_text(dockerfile)
        return folder

    return make


@pytest.fixture
def tags(engine):
    """Unique image tags for a test; every one of them is removed afterwards."""
    made: list[str] = []

    def tag(name: str) -> str:
        made.append(f"ipynbsrv-test/{name}:{uuid.uuid4().hex[:10]}")
        return made[-1]

    yield tag
    for ref in made:
        try:
            engine.remove_image(ref, force=True)
        except ImageMissing:
            continue


@pytest.mark.slow
def test_debconf_noise_is_tolerated_counted_and_the_build_succeeds(engine, base_image, make_context, tags):
    # apt-utils first, so that the second install runs dpkg-preconfigure: the whole dialog family
    # then appears on stderr (engine-wrapped) and again on stdout from the maintainer scripts.
    context = make_context(
        f"FROM {base_image}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends apt-utils "
        "&& apt-get install -y --no-install-recommends ucf\n"
    )
    tag = tags("debconf")
    stream = engine.build(
        context, tag, labels={"ipynbsrv.managed": "true", "ipynbsrv.image": "debconf-test"}, nocache=True
    )
    events = list(stream)
    summary = stream.summary

    assert summary.status is BuildStatus.SUCCEEDED, summary.error
    tolerated = [e.text for e in events if e.kind is K.TOLERATED]
    assert "debconf: unable to initialize frontend: Dialog" in tolerated
    assert "debconf: delaying package configuration, since apt-utils is not installed" in tolerated
    assert any(t.startswith("dpkg-preconfigure: unable to re-open stdin") for t in tolerated)
    assert summary.tolerated == len(tolerated) >= 8
    assert not [e.text for e in events if e.kind in (K.STDERR, K.OUTPUT) and TOLERATED.match(e.text)]
    assert K.ERROR not in {e.kind for e in events}

    result = [e for e in events if e.kind is K.RESULT]
    assert len(result) == 1 and result[0].image_id == summary.image_id
    image = engine.image(tag)
    assert image.id == summary.image_id
    assert image.labels["ipynbsrv.image"] == "debconf-test"
    print(
        f"classified debconf build: {summary.seconds:.1f} s, {summary.lines} lines, {summary.tolerated} "
        "tolerated"
    )


def test_run_step_exiting_3_fails_with_its_exit_code_and_nothing_is_tagged(
    engine, base_image, make_context, tags
):
    context = make_context(f"FROM {base_image}\nRUN echo about to fail >&2; exit 3\n")
    tag = tags("exit3")
    stream = engine.build(context, tag, network_mode="none")
    events = list(stream)
    summary = stream.summary

    assert summary.status is BuildStatus.FAILED
    assert summary.exit_code == 3
    assert (
        "echo about to fail >&2; exit 3" in summary.error and "returned a non-zero code: 3" in summary.error
    )
    error = events[-1]
    assert (error.kind, error.exit_code, error.step, error.total_steps) == (K.ERROR, 3, 2, 2)
    assert [e.text for e in events if e.kind is K.STDERR] == ["about to fail"]
    assert summary.image_id is None
    assert not engine.image_exists(tag)


def test_from_a_missing_image_fails_saying_it_is_not_present(engine, make_context, tags):
    absent = f"ipynbsrv-test/absent-{uuid.uuid4().hex[:8]}:1"
    context = make_context(f"ARG BASE_IMAGE={absent}\nFROM ${{BASE_IMAGE}}\nRUN true\n")
    tag = tags("nobase")
    stream = engine.build(context, tag)
    events = list(stream)

    assert stream.summary.status is BuildStatus.FAILED
    assert events[-1].kind is K.ERROR
    assert f"Base image {absent} is not present on the Docker Engine" in stream.summary.error
    assert not engine.image_exists(tag)


def test_twenty_thousand_lines_stream_while_the_build_runs_complete_and_in_order(
    engine, base_image, make_context, tags
):
    context = make_context(f"FROM {base_image}\nRUN seq -f 'line %.0f' 1 20000 && sleep 2\n")
    stream = engine.build(context, tags("lines"), network_mode="none", nocache=True)
    arrivals: list[tuple[float, str]] = []
    for event in stream:
        if event.kind is K.OUTPUT and event.text.startswith("line "):
            arrivals.append((time.monotonic(), event.text))
    ended = time.monotonic()

    assert stream.summary.status is BuildStatus.SUCCEEDED, stream.summary.error
    assert [text for _, text in arrivals] == [f"line {i}" for i in range(1, 20001)]
    # The RUN step sleeps 2 s after printing: the lines must have arrived before it finished.
    assert ended - arrivals[0][0] > 1.5
    assert ended - arrivals[-1][0] > 1.5


def test_cancel_stops_the_build_and_removes_its_container(engine, base_image, make_context, tags):
    context = make_context(f"FROM {base_image}\nRUN echo started && sleep 60\n")
    tag = tags("cancel")
    stream = engine.build(context, tag, network_mode="none", nocache=True)
    started = time.monotonic()
    running_in = None
    for event in stream:
        if "---> Running in " in event.text:
            running_in = event.text.rsplit(" ", 1)[-1]
        if event.text == "started":
            threading.Thread(target=stream.cancel).start()

    assert time.monotonic() - started < 20
    assert stream.summary.status is BuildStatus.CANCELLED
    assert not engine.image_exists(tag)
    assert running_in is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            engine.inspect(running_in)
        except NotFound:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the build container {running_in} was not removed after the cancel")


def test_cancel_removes_the_dangling_layer_of_the_interrupted_build(engine, base_image, make_context, tags):
    context = make_context(f"FROM {base_image}\nRUN echo layer > /layer\nRUN echo started && sleep 60\n")
    stream = engine.build(context, tags("cancel-layer"), network_mode="none", nocache=True)
    for event in stream:
        if event.text == "started":
            threading.Thread(target=stream.cancel).start()
    assert stream.summary.status is BuildStatus.CANCELLED
    layer = stream.last_layer
    assert layer is not None  # the committed `RUN echo layer` step, untagged: it would dangle
    deadline = time.monotonic() + 25
    while engine.image_exists(layer):
        if time.monotonic() > deadline:
            pytest.fail(f"the cancelled build's layer {layer} is still on the engine")
        time.sleep(0.5)


TWO_STAGES = (
    "FROM {base} AS first\nRUN echo {nonce} > /first\n"
    "FROM {base}\nCOPY --from=first /first /first\nRUN echo started && {last}\n"
)


def test_a_stopped_multi_stage_build_is_cancelled_moves_no_tag_and_leaves_no_image(
    engine, base_image, make_context, tags
):
    """Issue 28, bug 1: the first stage's image (reported before the second stage runs) is
    neither the result nor left behind as a <none> image when the build is stopped."""
    tag = tags("cancel-stages")
    context = make_context(TWO_STAGES.format(base=base_image, nonce=uuid.uuid4().hex, last="sleep 60"))
    stream = engine.build(context, tag, network_mode="none", nocache=True)
    events = []
    for event in stream:
        events.append(event)
        if event.text == "started":
            threading.Thread(target=stream.cancel).start()

    assert stream.summary.status is BuildStatus.CANCELLED
    assert stream.summary.image_id is None
    assert K.RESULT not in {e.kind for e in events}
    assert stream.stage_images, "the first stage finished and reported its image before the stop"
    assert not engine.image_exists(tag)
    leftovers = [*stream.stage_images, stream.last_layer]
    deadline = time.monotonic() + 30
    while remaining := [image for image in leftovers if engine.image_exists(image)]:
        if time.monotonic() > deadline:
            pytest.fail(f"the stopped build left untagged images behind: {remaining}")
        time.sleep(0.5)


def test_a_multi_stage_builds_result_is_its_final_image(engine, base_image, make_context, tags):
    tag = tags("stages")
    context = make_context(TWO_STAGES.format(base=base_image, nonce=uuid.uuid4().hex, last="true"))
    stream = engine.build(context, tag, network_mode="none", nocache=True)
    results = [e.image_id for e in stream if e.kind is K.RESULT]
    final = engine.client.api.inspect_image(tag)["Id"]
    assert results == [final] == [stream.summary.image_id]
    assert len(stream.stage_images) == 2
    assert stream.summary.status is BuildStatus.SUCCEEDED


BUILDER_STAGE = (
    "ARG BASE_IMAGE\n"
    "FROM ${{BASE_IMAGE}} AS builder\n{label}RUN echo {nonce} > /built\n"
    "FROM ${{BASE_IMAGE}}\nCOPY --from=builder /built /built\n"
)


def _stage_image(engine, base_image, make_context, tag: str, label: str = "") -> str:
    """The untagged image of a two-stage build's builder stage, built straight on the engine (as a
    build whose process died would leave it)."""
    context = make_context(BUILDER_STAGE.format(nonce=uuid.uuid4().hex, label=label))
    stream = engine.build(context, tag, buildargs={"BASE_IMAGE": base_image}, network_mode="none")
    list(stream)
    assert stream.summary.status is BuildStatus.SUCCEEDED, stream.summary.error
    return stream.stage_images[0]


def test_a_builds_builder_stage_image_is_removed_when_it_ends(
    notebook_service, root_actor, base_image, engine, tags
):
    """Issue 22, item 8: a multi-stage build (the notebook images' venv stage) left its builder
    stage as an untagged image of hundreds of MB after every build."""
    folder = Path(notebook_service.config.build.dockerfiles) / "twostage"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(BUILDER_STAGE.format(nonce=uuid.uuid4().hex, label=""))
    tag = tags("twostage")
    handle = notebook_service.build_image(
        root_actor, "twostage", tag=tag, build_args={"BASE_IMAGE": base_image}
    )
    layers, steps = [], 0
    for event in handle:
        steps += event.kind is K.STEP
        if steps <= 3 and (found := re.match(r"^\s*--->\s+([0-9a-f]{12})$", event.text)):
            layers.append(found.group(1))  # the builder stage's layers: its RUN step's is the last
    assert handle.summary.status is BuildStatus.SUCCEEDED, handle.summary.error
    builder = layers[-1]
    assert engine.image_exists(tag)
    assert not engine.image_exists(builder), f"the builder stage's image {builder} is still on the engine"
    from ipynbsrv_tui.store.models import Build

    assert Build.get_by_id(handle.build_id).images == ""


def test_reconcile_removes_the_leftovers_a_build_recorded_and_nothing_else(
    notebook_service, root_actor, base_image, engine, make_context, tags, docker_client,
):
    """A build whose process died leaves its stage images recorded; reconcile removes those, never
    an untagged image it did not record, a tagged one, or one of another installation."""
    from ipynbsrv_tui.store.models import Build

    ours = _stage_image(engine, base_image, make_context, tags("died"))
    unrecorded = _stage_image(engine, base_image, make_context, tags("someone-elses"))
    other = _stage_image(engine, base_image, make_context, tags("other-installation"),
                         label='LABEL ipynbsrv.instance="another-installation"\n')
    tagged = engine.image(base_image).id
    try:
        build = Build.create(image_ref="x:1", context="/x", status="failed",
                             images=",".join([ours, other, tagged]))
        report = notebook_service.reconcile(root_actor)
        assert (
            f"build #{build.id}: removed its leftover untagged image {ours.removeprefix('sha256:')[:12]}"
            in report.repaired
        )
        assert not engine.image_exists(ours)
        assert engine.image_exists(unrecorded) and engine.image_exists(other) and engine.image_exists(tagged)
        assert Build.get_by_id(build.id).images == ""
        assert not [
            line for line in notebook_service.reconcile(root_actor).repaired if "leftover untagged" in line
        ]
    finally:
        for image in (unrecorded, other):
            try:
                docker_client.api.remove_image(image, force=True)
            except Exception:  # already gone
                pass
