"""Fixtures shared by the integration modules that run a real broker with real peer uids."""

from __future__ import annotations

import os
import secrets
import shutil

import pytest

from . import broker_support as support


@pytest.fixture(scope="module")
def fake_notebook_image(docker_client):
    """A tiny image whose command answers `{BASE_URL}api/status` like Jupyter (perl from the Debian base)."""
    if os.geteuid() != 0:
        pytest.skip("the broker tests create OS accounts and switch uids: run them as root")
    if not os.path.exists(support.SYSTEM_PYTHON):
        pytest.skip(f"{support.SYSTEM_PYTHON} is needed to run clients as other uids")
    tag = f"ipynbsrv-test/fake-notebook-{secrets.token_hex(4)}:latest"
    docker_client.images.build(path=str(support.FAKE_NOTEBOOK), tag=tag, rm=True, forcerm=True,
                               network_mode="none", labels={"ipynbsrv.test": "broker"})
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def site(fake_notebook_image, docker_client):
    """A temp folder with the config, the client library copy, and cleanup of everything made in it."""
    folder = support.world_readable_dir("ipynbsrv-test-broker-")
    suffix = secrets.token_hex(3)
    state = {
        "folder": folder,
        "lib": support.copy_client_package(folder),
        "uid_range": support.free_uid_range(),
        "port_range": support.free_port_range(),
        "accounts": [],
        "names": {"alice": f"ipbt{suffix}a", "bob": f"ipbt{suffix}b"},
        "image": fake_notebook_image,
    }
    yield state
    for account in state["accounts"]:
        support.remove_os_account(account.name)
    for owner in state["names"].values():
        for container in docker_client.containers.list(
            all=True, filters={"label": f"ipynbsrv.owner={owner}"}
        ):
            container.remove(force=True)
    shutil.rmtree(folder, ignore_errors=True)
