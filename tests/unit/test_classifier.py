"""BuildLogClassifier on chunk sequences recorded from Engine 20.10 (tests/fixtures/build_logs.py)."""

from __future__ import annotations

from ipynbsrv_tui.domain import BuildEventKind as K
from ipynbsrv_tui.engine.classifier import STREAM_ENDED, BuildLogClassifier
from tests.fixtures.build_logs import DEBCONF_BUILD, FAILING_BUILD, READLINE


def run(chunks: list[dict]) -> tuple[BuildLogClassifier, list]:
    classifier = BuildLogClassifier()
    events = [event for chunk in chunks for event in classifier.feed(chunk)]
    events += classifier.finish()
    return classifier, events


def texts(events, kind=None) -> list[str]:
    return [e.text for e in events if kind is None or e.kind is kind]


def test_lines_split_across_chunks_are_joined():
    classifier, events = run(DEBCONF_BUILD)
    steps = [e for e in events if e.kind is K.STEP]
    assert [(e.text, e.step, e.total_steps) for e in steps] == [
        ("Step 1/2 : FROM debian:bookworm-slim", 1, 2),
        ("Step 2/2 : RUN apt-get update && apt-get install -y --no-install-recommends apt-utils", 2, 2),
    ]
    assert "Reading package lists..." in texts(events, K.OUTPUT)
    assert all(e.text.strip() for e in events), "no empty events from the lone newline chunks"


def test_carriage_return_progress_keeps_only_the_final_state():
    _, events = run(DEBCONF_BUILD)
    output = texts(events, K.OUTPUT)
    assert "Selecting previously unselected package apt-utils." in output
    assert "(Reading database ... 6096 files and directories currently installed.)" in output
    assert not [line for line in output if "%" in line or "\r" in line]


def test_partial_line_rewritten_with_carriage_return_is_compacted_while_it_grows():
    classifier = BuildLogClassifier()
    for percent in range(100_000):
        assert classifier.feed({"stream": f"progress {percent}%\r"}) == []
    assert len(classifier._lines._pending) < 40
    events = classifier.feed({"stream": "done\n"})
    assert texts(events) == ["done"]


def test_ansi_is_stripped_also_when_an_escape_is_split_across_chunks():
    _, events = run(
        [
            {"stream": "\x1b[1;32mgreen\x1b[0m and \x1b]0;title\x07plain\n"},
            {"stream": "\x1b[3"},
            {"stream": "1mred\x1b[0m\n"},
            {"aux": {"ID": "sha256:1"}},
        ]
    )
    assert texts(events, K.OUTPUT) == ["green and plain", "red"]


def test_engine_stderr_wrapping_is_a_warning_and_stdout_colour_is_not():
    classifier, events = run(FAILING_BUILD)
    assert [(e.kind, e.text) for e in events if e.kind is K.STDERR] == [(K.STDERR, "about to fail")]
    assert classifier.warnings == 1
    # A program's own red on stdout is not the engine's stderr wrapping of a whole write.
    classifier, events = run([{"stream": "\x1b[91mred\x1b[0m but stdout\n"}, {"aux": {"ID": "sha256:2"}}])
    assert [(e.kind, e.text) for e in events][0] == (K.OUTPUT, "red but stdout")
    assert classifier.warnings == 0


def test_debconf_dialog_family_is_tolerated_on_stderr_and_stdout_and_counted():
    classifier, events = run(DEBCONF_BUILD)
    assert texts(events, K.TOLERATED) == [
        "debconf: delaying package configuration, since apt-utils is not installed",
        "debconf: unable to initialize frontend: Dialog",
        "debconf: (TERM is not set, so the dialog frontend is not usable.)",
        "debconf: falling back to frontend: Readline",
        "debconf: unable to initialize frontend: Readline",
        READLINE,
        "debconf: falling back to frontend: Teletype",
        "dpkg-preconfigure: unable to re-open stdin:",
        "debconf: unable to initialize frontend: Dialog",
        "debconf: (TERM is not set, so the dialog frontend is not usable.)",
        "debconf: falling back to frontend: Readline",
    ]
    assert classifier.tolerated == 11
    assert classifier.warnings == 0
    assert classifier.succeeded


def test_lines_that_merely_resemble_the_family_are_not_tolerated():
    classifier, events = run(
        [
            {"stream": "\x1b[91mdebconf: error: something real broke\n\x1b[0m"},
            {"stream": "debconf: unable to initialize frontend: Dialog and more words\n"},
            {"aux": {"ID": "sha256:3"}},
        ]
    )
    assert [e.kind for e in events[:2]] == [K.STDERR, K.OUTPUT]
    assert classifier.tolerated == 0


def test_markup_like_text_is_kept_verbatim():
    _, events = run(
        FAILING_BUILD[:8]
        + [{"stream": "[bold red]not markup[/] [link=x]y[/link] \\[escaped]\n"}, {"aux": {"ID": "sha256:4"}}]
    )
    output = texts(events, K.OUTPUT)
    assert "[/bin/sh -c] out" in output
    assert "[bold red]not markup[/] [link=x]y[/link] \\[escaped]" in output
    assert texts(events, K.STEP)[1] == "Step 2/2 : RUN echo about to fail >&2; echo [/bin/sh -c] out; exit 3"


def test_error_chunk_fails_with_the_run_steps_exit_code_and_message():
    classifier, events = run(FAILING_BUILD)
    error = events[-1]
    assert error.kind is K.ERROR
    assert error.exit_code == 3
    assert (error.step, error.total_steps) == (2, 2)
    assert error.text.startswith("The command '/bin/sh -c echo about to fail >&2;")
    assert not classifier.succeeded
    assert (classifier.exit_code, classifier.image_id) == (3, None)
    assert K.RESULT not in {e.kind for e in events}


def test_exit_code_falls_back_to_the_message_text():
    classifier, events = run([{"error": "The command '/bin/sh -c false' returned a non-zero code: 7"}])
    assert (events[-1].kind, events[-1].exit_code) == (K.ERROR, 7)
    assert classifier.exit_code == 7


def test_error_without_exit_code_has_none():
    classifier, events = run([{"errorDetail": {"message": "pull failed"}, "error": "pull failed"}])
    assert (events[-1].kind, events[-1].text, events[-1].exit_code) == (K.ERROR, "pull failed", None)
    assert classifier.error == "pull failed"


def test_aux_id_is_the_result_and_success():
    classifier, events = run(DEBCONF_BUILD)
    results = [e for e in events if e.kind is K.RESULT]
    assert [r.image_id for r in results] == [
        "sha256:08a599a7ae956c423a3f211a04b9ba253b0747a8e495fb0eeb40cb40153bda02"
    ]
    assert classifier.succeeded
    assert K.ERROR not in {e.kind for e in events}
    assert texts(events)[-2:] == ["Successfully tagged ipynbsrv-test/debconf:1", results[0].image_id]


def test_a_multi_stage_build_results_in_its_last_stages_image_only():
    """The engine reports an aux.ID at each stage's end; the first is not the build's result."""
    classifier, events = run(
        [
            {"stream": "Step 1/3 : FROM debian:bookworm-slim AS first\n"},
            {"stream": "Step 2/3 : RUN true\n"},
            {"aux": {"ID": "sha256:first"}},
            {"stream": "Step 3/3 : FROM debian:bookworm-slim\n"},
            {"aux": {"ID": "sha256:last"}},
            {"stream": "Successfully built last\n"},
        ]
    )
    assert [(e.kind, e.image_id) for e in events if e.image_id] == [(K.RESULT, "sha256:last")]
    assert classifier.image_id == "sha256:last"
    assert classifier.stage_images == ["sha256:first", "sha256:last"]


def test_a_stage_result_is_not_reported_before_the_stream_ends():
    classifier = BuildLogClassifier()
    assert classifier.feed({"aux": {"ID": "sha256:first"}}) == []


def test_stream_ending_without_aux_id_is_a_failure_even_if_the_text_says_success():
    classifier, events = run(DEBCONF_BUILD[:-3] + [{"stream": "Successfully built 08a599a7ae95\n"}])
    assert not classifier.succeeded
    assert (events[-1].kind, events[-1].text) == (K.ERROR, STREAM_ENDED)


def test_alarming_log_text_does_not_decide_failure():
    classifier, events = run(
        [
            {"stream": "\x1b[91mE: Unable to locate package nothing\n\x1b[0m"},
            {"stream": "ERROR: this is only text\n"},
            {"aux": {"ID": "sha256:5"}},
        ]
    )
    assert classifier.succeeded
    assert classifier.warnings == 1


def test_finish_emits_an_unfinished_last_line_once():
    classifier = BuildLogClassifier()
    assert classifier.feed({"aux": {"ID": "sha256:6"}}) == []
    assert classifier.feed({"stream": "no newline at the end"}) == []
    assert texts(classifier.finish()) == ["no newline at the end", "sha256:6"]
    assert classifier.finish() == []
    assert classifier.lines == 1


def test_pull_status_chunks_without_progress_are_output():
    _, events = run(
        [
            {"status": "Pulling from library/debian", "id": "bookworm"},
            {"status": "Downloading", "progressDetail": {"current": 1, "total": 9}, "id": "abc"},
            {"aux": {"ID": "sha256:7"}},
        ]
    )
    assert texts(events, K.OUTPUT) == ["bookworm: Pulling from library/debian"]


def test_prompts_and_warnings_without_the_stderr_marker_are_classified_by_content():
    """Issue 28, item 13: debconf's prompt text, perl's and invoke-rc.d's warnings came on stdout."""
    classifier, events = run(
        [
            {"stream": "LDAP server URI: \n"},
            {"stream": "LDAP server search base: dc=example,dc=org\n"},
            {
                "stream": "Use of uninitialized value $val in substitution (s///) at "
                "/usr/share/perl5/Debconf/Format/822.pm line 83.\n"
            },
            {
                "stream": "invoke-rc.d: WARNING: No init system and policy-rc.d missing! "
                "Defaulting to block.\n"
            },
            {"stream": "LDAP server URI is set in /etc/nslcd.conf\n"},
            {"aux": {"ID": "sha256:8"}},
        ]
    )
    kinds = [e.kind for e in events if e.kind is not K.RESULT]
    assert kinds == [K.TOLERATED, K.TOLERATED, K.STDERR, K.STDERR, K.OUTPUT]
    assert (classifier.tolerated, classifier.warnings) == (2, 2)
    assert classifier.succeeded
