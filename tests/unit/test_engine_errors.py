"""docker / requests exceptions become domain errors with messages that say what to do."""

from __future__ import annotations

import docker.errors
import pytest
import requests
import requests.exceptions

from ipynbsrv_tui.domain import (
    Conflict,
    EngineError,
    EngineUnavailable,
    ImageMissing,
    NameInUse,
    NotFound,
    PortInUse,
)
from ipynbsrv_tui.engine.errors import engine_call, translate


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    response.url = "http+docker://localhost/v1.41/containers/x"
    response.reason = "reason"
    cls = docker.errors.APIError
    if response.status_code == 404:
        cls = (
            docker.errors.ImageNotFound if "no such image" in explanation.lower() else docker.errors.NotFound
        )
    return cls("error", response=response, explanation=explanation)


@pytest.mark.parametrize(
    ("status", "explanation", "expected", "fragment"),
    [
        (404, "No such container: abc", NotFound, "does not exist"),
        (404, "No such image: ipynbsrv-test/none:1", ImageMissing, "ipynbsrv-test/none:1 is not present"),
        (
            409,
            'Conflict. The container name "/ipynbsrv-alice-nb" is already in use by container "0f3". '
            "You have to remove (or rename) that container to be able to reuse that name.",
            NameInUse,
            "Choose another name",
        ),
        (409, "conflict: unable to remove repository reference (must force)", Conflict, "must force"),
        (
            500,
            "driver failed programming external connectivity on endpoint ipynbsrv-alice-nb (1a2b): "
            "Bind for 127.0.0.1:49152 failed: port is already allocated",
            PortInUse,
            "host port 49152 is already in use",
        ),
        (
            500,
            "driver failed programming external connectivity: Error starting userland proxy: "
            "listen tcp4 127.0.0.1:49153: bind: address already in use",
            PortInUse,
            "host port 49153",
        ),
        (
            500,
            "something else broke",
            EngineError,
            "could not start container ipynbsrv-alice-nb: something else broke",
        ),
    ],
)
def test_api_errors(status, explanation, expected, fragment):
    error = translate(api_error(status, explanation), "start container", "ipynbsrv-alice-nb")
    assert type(error) is expected
    assert fragment in str(error)
    assert "\n" not in str(error)


def test_image_not_found_names_the_subject_image():
    error = translate(api_error(404, "No such image: a:1"), "inspect image", "a:1")
    assert isinstance(error, ImageMissing) and "bootstrap-base" in str(error)


def test_connection_errors_are_engine_unavailable_with_a_hint():
    inner = ConnectionRefusedError(111, "Connection refused")
    outer = requests.exceptions.ConnectionError(inner)
    error = translate(outer, "list containers", url="unix:///tmp/gone.sock")
    assert isinstance(error, EngineUnavailable)
    assert str(error).startswith(
        "Cannot reach the Docker Engine at unix:///tmp/gone.sock: nothing is listening there."
    )
    assert "DOCKER_HOST" in str(error)


def test_permission_denied_on_the_socket_says_who_to_ask():
    wrapped = docker.errors.DockerException(
        "Error while fetching server API version: ('Connection aborted.', PermissionError(13, 'Permission "
        "denied'))"
    )
    wrapped.__context__ = requests.exceptions.ConnectionError(PermissionError(13, "Permission denied"))
    error = translate(wrapped, "connect", url="unix:///var/run/docker.sock")
    assert isinstance(error, EngineUnavailable)
    assert "permission denied" in str(error) and "docker' group" in str(error)


def test_timeouts_are_engine_errors_not_unavailability():
    error = translate(requests.exceptions.ReadTimeout("read timed out"), "stop container", "x")
    assert type(error) is EngineError and "did not answer in time" in str(error)


def test_engine_call_raises_the_domain_error_and_keeps_the_cause():
    with pytest.raises(NotFound) as caught, engine_call("inspect container", "abc"):
        raise api_error(404, "No such container: abc")
    assert isinstance(caught.value.__cause__, docker.errors.NotFound)


class _RemovingApi:
    """A docker API whose remove_container answers what the engine said (a 409 or another error)."""

    def __init__(self, error: docker.errors.APIError) -> None:
        self.error = error

    def remove_container(self, container_id: str, force: bool = False) -> None:
        raise self.error


def _engine_answering(error: docker.errors.APIError):
    from types import SimpleNamespace

    from ipynbsrv_tui.engine.docker_engine import DockerEngine

    return DockerEngine(SimpleNamespace(api=_RemovingApi(error)), "unix:///fake.sock")  # type: ignore[arg-type]


def test_removing_a_container_the_engine_is_removing_already_is_not_an_error():
    """A stopped build's step container is removed by the engine itself; reconcile asking too must not
    fail."""
    busy = api_error(409, "removal of container 51c4aa482462 is already in progress")
    _engine_answering(busy).remove("51c4aa482462")
    with pytest.raises(Conflict):
        _engine_answering(api_error(409, "You cannot remove a running container")).remove("51c4aa482462")
