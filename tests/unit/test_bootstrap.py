"""bootstrap_base refuses clearly before doing anything when it cannot work; the import answer is parsed."""

from __future__ import annotations

import pytest

from ipynbsrv_tui.domain import BootstrapError, ValidationError
from ipynbsrv_tui.engine import bootstrap
from ipynbsrv_tui.engine.bootstrap import _image_id, bootstrap_base


class UntouchedEngine:
    """Any use of the engine fails the test: these refusals must come first."""

    def __getattr__(self, name):
        raise AssertionError(f"the engine was used ({name}) although bootstrap should have refused")


@pytest.fixture
def as_root_with_debootstrap(monkeypatch):
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 0)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: "/usr/sbin/debootstrap")


def test_not_root(monkeypatch):
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 1000)
    with pytest.raises(BootstrapError, match="needs root"):
        bootstrap_base(UntouchedEngine(), progress=lambda line: None)


def test_debootstrap_missing(monkeypatch):
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 0)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)
    monkeypatch.setattr(bootstrap.os, "access", lambda path, mode: False)
    with pytest.raises(
        BootstrapError, match=r"debootstrap is not installed. Install it \(apt-get install debootstrap\)"
    ):
        bootstrap_base(UntouchedEngine(), progress=lambda line: None)


def test_no_mirror_configured(monkeypatch, as_root_with_debootstrap):
    monkeypatch.setattr(bootstrap, "host_debian_mirror", lambda: "")
    with pytest.raises(BootstrapError, match="No Debian mirror found .* --mirror URL"):
        bootstrap_base(UntouchedEngine(), progress=lambda line: None)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"suite": "Bookworm; rm -rf /"}, BootstrapError),
        ({"variant": "maxbase"}, BootstrapError),
        ({"include": ["python3", "--evil"]}, BootstrapError),
        ({"tag": "Not A Reference"}, ValidationError),
    ],
)
def test_bad_arguments(as_root_with_debootstrap, arguments, error):
    with pytest.raises(error):
        bootstrap_base(UntouchedEngine(), progress=lambda line: None, **arguments)


def test_image_id_from_the_import_answer():
    assert _image_id('{"status":"sha256:b1f4"}\r\n', "x:1") == "sha256:b1f4"
    assert _image_id(b'{"status":"Downloading"}\r\n{"status":"sha256:c2"}\r\n', "x:1") == "sha256:c2"
    with pytest.raises(BootstrapError, match="could not import x:1: no space left"):
        _image_id('{"errorDetail":{"message":"no space left"},"error":"no space left"}', "x:1")
    with pytest.raises(BootstrapError, match="did not report an image id"):
        _image_id("", "x:1")
