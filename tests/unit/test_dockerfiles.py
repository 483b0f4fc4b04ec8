"""engine/dockerfiles/: Dockerfile reading, build plans and the wheelhouse (no engine, no network),
and the `images build` log printer."""

from __future__ import annotations

import io
import sys
import textwrap
from pathlib import Path

import pytest

from ipynbsrv_tui.commands.build import BuildPrinter, failure_line
from ipynbsrv_tui.config import BuildConfig
from ipynbsrv_tui.domain import (
    BuildEvent,
    BuildEventKind,
    BuildStatus,
    BuildSummary,
    ImageMissing,
    NotFound,
    ValidationError,
    WheelhouseError,
)
from ipynbsrv_tui.engine import dockerfiles
from ipynbsrv_tui.engine.dockerfiles import (
    STAMP,
    discover,
    load_folder,
    parse_dockerfile,
    plan_build,
    prepare_wheelhouse,
    read_wheel_set,
)

REPO_DOCKERFILES = Path(__file__).resolve().parents[2] / "dockerfiles"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- Dockerfile


def test_parse_reads_arg_defaults_continuations_and_only_the_final_stages_labels():
    info = parse_dockerfile(
        textwrap.dedent(
            """\
            # a comment
            ARG BASE_IMAGE=debian:bookworm-slim
            ARG EMPTY
            FROM ${BASE_IMAGE} AS build
            LABEL ipynbsrv.description="build stage only"
            ARG BASE_IMAGE
            FROM --platform=linux/amd64 ${BASE_IMAGE}
            LABEL ipynbsrv.notebook-port="8888" \\
                  # comments inside a continuation are dropped
                  ipynbsrv.description="two words"
            LABEL legacy value
            """
        )
    )
    assert info.args == {"BASE_IMAGE": "debian:bookworm-slim", "EMPTY": None}
    assert info.arg("EMPTY") == "" and info.arg("MISSING") is None
    assert info.froms == ("${BASE_IMAGE}", "${BASE_IMAGE}")
    assert info.labels == {
        "ipynbsrv.notebook-port": "8888",
        "ipynbsrv.description": "two words",
        "legacy": "value",
    }


def test_the_repository_folders_declare_their_contract():
    folders = {f.name: f for f in discover(REPO_DOCKERFILES)}
    assert set(folders) == {"base-ldap", "ipython3-notebook", "ipython2-notebook"}
    base = folders["base-ldap"]
    assert not base.registrable and base.base_default == "debian:bookworm-slim"
    assert folders["ipython3-notebook"].base_default == "ipynbsrv/base-ldap:latest"
    assert folders["ipython2-notebook"].dockerfile.arg("BASE_LDAP_BASE_IMAGE") == "debian:bullseye-slim"
    for name in ("ipython3-notebook", "ipython2-notebook"):
        defaults = folders[name].defaults(f"ipynbsrv/{name}:latest")
        assert defaults.registrable and defaults.notebook_port == 8888 and defaults.public_ports == ()
        assert defaults.command == "start-notebook" and defaults.description
    assert [w.name for w in folders["ipython3-notebook"].wheel_sets] == [""]
    assert [w.name for w in folders["ipython2-notebook"].wheel_sets] == ["py2", "py3"]
    assert any(
        r.startswith("ipykernel==4.10") for r in folders["ipython2-notebook"].wheel_sets[0].requirements
    )


def test_an_unknown_folder_names_the_folders_there(tmp_path):
    write(tmp_path / "one" / "Dockerfile", "FROM scratch\n")
    with pytest.raises(NotFound, match=r"'two'.*there: one"):
        load_folder(tmp_path, "two")


# --------------------------------------------------------------------------- plans


def test_a_notebook_image_plans_its_missing_base_first_with_the_configured_defaults():
    config = BuildConfig(base_image="local/debian:12", image_prefix="site")
    plan = plan_build(
        "ipython3-notebook", config, lambda ref: ref == "local/debian:12", root=REPO_DOCKERFILES
    )
    assert [(s.folder.name, s.tag, s.buildargs) for s in plan.steps] == [
        ("base-ldap", "site/base-ldap:latest", {"BASE_IMAGE": "local/debian:12"}),
        ("ipython3-notebook", "site/ipython3-notebook:latest", {"BASE_IMAGE": "site/base-ldap:latest"}),
    ]
    assert "missing" in plan.steps[0].reason and plan.target.reason == "requested"
    assert plan.target.labels == {"ipynbsrv.folder": "ipython3-notebook"}


def test_a_present_base_is_not_rebuilt_and_build_args_override():
    present = {"ipynbsrv/base-ldap:latest", "mine/base:1"}.__contains__
    plan = plan_build("ipython3-notebook", BuildConfig(), present, root=REPO_DOCKERFILES, tag="x/y:2")
    assert [(s.folder.name, s.tag) for s in plan.steps] == [("ipython3-notebook", "x/y:2")]
    plan = plan_build(
        "ipython3-notebook",
        BuildConfig(),
        present,
        root=REPO_DOCKERFILES,
        buildargs={"BASE_IMAGE": "mine/base:1", "X": "1"},
    )
    assert plan.target.buildargs == {"BASE_IMAGE": "mine/base:1", "X": "1"}


def test_ipython2_plans_base_ldap_on_bullseye_and_names_the_bootstrap_when_debian_is_missing():
    plan = plan_build(
        "ipython2-notebook", BuildConfig(), {"debian:bullseye-slim"}.__contains__, root=REPO_DOCKERFILES
    )
    assert [(s.tag, s.buildargs) for s in plan.steps] == [
        ("ipynbsrv/base-ldap:bullseye", {"BASE_IMAGE": "debian:bullseye-slim"}),
        ("ipynbsrv/ipython2-notebook:latest", {"BASE_IMAGE": "ipynbsrv/base-ldap:bullseye"}),
    ]
    with pytest.raises(ImageMissing, match="bootstrap-base --suite bullseye --tag debian:bullseye-slim"):
        plan_build("ipython2-notebook", BuildConfig(), lambda ref: False, root=REPO_DOCKERFILES)


def test_folders_deriving_from_each_other_in_a_loop_are_refused(tmp_path):
    write(tmp_path / "a" / "Dockerfile", "ARG BASE_IMAGE=ipynbsrv/b:latest\nFROM ${BASE_IMAGE}\n")
    write(tmp_path / "b" / "Dockerfile", "ARG BASE_IMAGE=ipynbsrv/a:latest\nFROM ${BASE_IMAGE}\n")
    with pytest.raises(ValidationError, match="loop: a -> b -> a"):
        plan_build("a", BuildConfig(), lambda ref: False, root=tmp_path)


def test_a_bad_build_argument_name_is_refused():
    with pytest.raises(ValidationError):
        plan_build(
            "base-ldap", BuildConfig(), lambda ref: True, root=REPO_DOCKERFILES, buildargs={"1BAD": "x"}
        )


# --------------------------------------------------------------------------- wheelhouse

FAKE_PIP = textwrap.dedent(
    """\
    import sys
    from pathlib import Path
    args = sys.argv[1:]
    target = Path(args[args.index("-d") + 1])
    log = Path(sys.argv[0]).with_suffix(".calls")
    with log.open("a") as calls:
        calls.write(" ".join(args) + "\\n")
    if "--no-index" in args:
        print("ERROR: No matching distribution found for demo==1.0")
        sys.exit(1)
    (target / "demo-1.0-py3-none-any.whl").write_text("wheel")
    print(f"Saved {target}/demo-1.0-py3-none-any.whl")
    """
)


@pytest.fixture
def wheel_folder(tmp_path):
    folder = tmp_path / "dockerfiles" / "demo"
    write(folder / "Dockerfile", "FROM scratch\n")
    write(
        folder / "wheels-py3.txt",
        """\
        # comment
        --only-binary=:all:
        --platform=manylinux2014_{arch}
        demo==1.0   # inline comment
        """,
    )
    fake = write(tmp_path / "fakepip.py", FAKE_PIP)
    return load_folder(folder.parent, "demo"), [sys.executable, str(fake)], fake.with_suffix(".calls")


def test_read_wheel_set_splits_options_and_requirements(wheel_folder):
    folder, _, _ = wheel_folder
    (wheel_set,) = folder.wheel_sets
    assert wheel_set.name == "py3" and wheel_set.target == folder.path / "wheels" / "py3"
    assert wheel_set.requirements == ("demo==1.0",)
    assert wheel_set.download_options("aarch64") == [
        "--only-binary=:all:",
        "--platform=manylinux2014_aarch64",
    ]


def test_a_wheels_file_without_requirements_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="lists no requirement"):
        read_wheel_set(write(tmp_path / "wheels.txt", "--no-deps\n"))


def test_the_wheelhouse_downloads_once_removes_stale_files_then_reuses_without_pip(wheel_folder):
    folder, pip, calls = wheel_folder
    target = folder.wheel_sets[0].target
    write(target / "old-0.1-py3-none-any.whl", "stale")
    lines: list[str] = []
    (report,) = prepare_wheelhouse(folder, progress=lines.append, pip=pip, arch="x86_64")
    assert (report.downloaded, report.removed, report.offline) == (1, 1, False)
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [STAMP, "demo-1.0-py3-none-any.whl", "requirements.txt"]
    )
    assert (target / "requirements.txt").read_text() == "demo==1.0\n"
    assert "--platform=manylinux2014_x86_64" in calls.read_text()
    assert len(calls.read_text().splitlines()) == 2  # the offline attempt, then the download
    (again,) = prepare_wheelhouse(folder, progress=lines.append, pip=["/nonexistent/pip"], arch="x86_64")
    assert again.offline and again.reused == 1
    assert "all reused, no network" in lines[-1]


def test_a_failed_download_says_what_pip_said(wheel_folder, tmp_path):
    folder, _, _ = wheel_folder
    failing = write(tmp_path / "failpip.py", "print('ERROR: no route to the index'); raise SystemExit(1)\n")
    with pytest.raises(WheelhouseError, match="no route to the index"):
        prepare_wheelhouse(folder, progress=lambda line: None, pip=[sys.executable, str(failing)])


@pytest.mark.parametrize(
    ("requirements", "files", "complete"),
    [
        (["demo==1.0"], ["demo-1.0-py3-none-any.whl"], True),
        # names and versions compare as pip does: normalised names, PEP 440 versions
        (
            ["Jupyter_Server==2.0", "PyZMQ==26.0"],
            ["jupyter_server-2.0.0-py3-none-any.whl", "pyzmq-26.0.tar.gz"],
            True,
        ),
        (
            ["zope.interface==6.1", "old-style==0.3"],
            ["zope.interface-6.1.zip", "old_style-0.3.tar.bz2"],
            True,
        ),
        (["demo==1.0"], ["demo-1.1-py3-none-any.whl"], False),
        (["demo>=1.0"], ["demo-1.0-py3-none-any.whl"], False),  # not pinned: pip decides
        (["demo==1.*"], ["demo-1.0-py3-none-any.whl"], False),
        (["demo==1.0; python_version < '3'"], ["demo-1.0-py3-none-any.whl"], False),
        (["demo==1.0"], ["not-an-archive.whl", "README"], False),
    ],
)
def test_a_pinned_set_with_every_file_present_needs_no_pip(tmp_path, requirements, files, complete):
    from ipynbsrv_tui.engine.dockerfiles.wheelhouse import _complete

    wheel_set = read_wheel_set(write(tmp_path / "wheels.txt", "\n".join(requirements) + "\n"))
    stamp = write(tmp_path / STAMP, "fingerprint")
    assert _complete(wheel_set, set(files), stamp, "fingerprint") is complete
    assert _complete(wheel_set, set(files), stamp, "other options") is False


def test_check_wheelhouse_explains_an_empty_wheel_folder(wheel_folder):
    folder, _, _ = wheel_folder
    with pytest.raises(WheelhouseError, match="wheelhouse is false"):
        dockerfiles.check_wheelhouse(folder)


# --------------------------------------------------------------------------- printing


def test_the_printer_marks_kinds_and_prints_untrusted_text_plain():
    out = io.StringIO()
    printer = BuildPrinter(out, color=False)
    printer.event(BuildEvent(BuildEventKind.STEP, "Step 1/2 : FROM x", step=1, total_steps=2))
    printer.event(BuildEvent(BuildEventKind.TOLERATED, "debconf: (TERM is not set)"))
    printer.event(BuildEvent(BuildEventKind.STDERR, "careful\x1b[31m red\x07"))
    printer.event(BuildEvent(BuildEventKind.ERROR, "it broke"))
    assert out.getvalue().splitlines() == [
        "Step 1/2 : FROM x",
        "  (tolerated) debconf: (TERM is not set)",
        "  warning: careful red",
        "error: it broke",
    ]
    styled = io.StringIO()
    BuildPrinter(styled, color=True).event(BuildEvent(BuildEventKind.TOLERATED, "noise"))
    assert styled.getvalue() == "\x1b[2m  (tolerated) noise\x1b[0m\n"


def test_failure_line_is_one_line_with_the_exit_code():
    plan = plan_build("base-ldap", BuildConfig(), lambda ref: True, root=REPO_DOCKERFILES)
    summary = BuildSummary(BuildStatus.FAILED, None, 3, "returned a non-zero code: 3\nmore", 0, 1, 10, 1.0)
    assert failure_line(plan.target.tag, summary) == (
        "the build of ipynbsrv/base-ldap:latest failed (exit code 3): returned a non-zero code: 3"
    )
