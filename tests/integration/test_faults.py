"""Fault suite (issue 9 item 7): processes and the engine fail mid-change; reconcile makes store and engine
agree.

The shared engine is never killed or stalled: the service under test reaches it through a Unix
socket proxy owned by the test (`EngineProxy`), which can hold a create request (the engine
never sees it: "engine stalled") or hold the engine's answer to it (the engine made the
container, the caller never learns its id). The CLI and the broker are real processes, killed
with SIGKILL. After each fault, reconcile leaves every row with its own engine container (or
no row), touches nothing of another installation, and loses nothing else.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from ipynbsrv_tui.domain import Actor, StoreError

from . import broker_support as support

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]
ROOT = Actor("root", 0, True, ())
ENGINE_SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")


class EngineProxy:
    """A Unix-socket proxy to the engine; `hold` = "request" or "response" stalls container creates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hold = ""
        self.held = threading.Event()
        self.release = threading.Event()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(ENGINE_SOCKET)
        creating = threading.Event()

        def pump(source: socket.socket, target: socket.socket, inspect_requests: bool) -> None:
            try:
                while data := source.recv(65536):
                    if inspect_requests and b"/containers/create" in data and self.hold:
                        creating.set()
                        if self.hold == "request":
                            self.held.set()
                            self.release.wait()
                            return  # the engine never sees it
                    if not inspect_requests and creating.is_set() and self.hold == "response":
                        self.held.set()
                        self.release.wait()
                        return  # the caller never sees the answer
                    target.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (source, target):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()
        pump(client, upstream, True)

    def close(self) -> None:
        self.release.set()
        self._server.close()


@pytest.fixture
def faulty(tmp_path, docker_client, tiny_image):
    """A store with alice and the tiny image, a proxy to the engine, and a config using it."""
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import close_database

    folder = Path(tempfile.mkdtemp(prefix="ipynbsrv-faults-", dir="/tmp"))
    proxy = EngineProxy(folder / "engine.sock")
    config_path = folder / "config.toml"
    ports = support.free_port_range()
    config_path.write_text(
        f'[database]\npath = "{folder / "ipynbsrv.db"}"\n[docker]\nurl = '
        f'"unix://{proxy.path}"\n[data]\nroot = "{folder / "data"}"\n[notebooks]\nport_range = '
        f'[{ports[0]}, {ports[1]}]\nstop_timeout = 2\n[broker]\nsocket = '
        f'"{folder / "run" / "broker.sock"}"\nreconcile_interval = 3600\n'
    )
    (folder / "run").mkdir()
    from ipynbsrv_tui.config import load_config

    config = load_config(config_path)
    service = build_service(config.replace(docker={"url": ""}))  # the test's own view: straight to the engine
    service.create_user(ROOT, "alice", "alice-password")
    service.register_image(ROOT, "tiny", tiny_image, is_public=True)
    others = docker_client.containers.create(
        tiny_image,
        labels={
            "ipynbsrv.managed": "true",
            "ipynbsrv.instance": "other",
            "ipynbsrv.owner": "alice",
            "ipynbsrv.container": "1",
        },
    )
    yield {"folder": folder, "proxy": proxy, "config": config_path, "service": service}
    proxy.close()
    others.reload()  # another installation's object was never touched
    others.remove(force=True)
    for container in docker_client.containers.list(
        all=True, filters={"label": f"ipynbsrv.instance={service.instance_id}"}
    ):
        container.remove(force=True)
    close_database()
    shutil.rmtree(folder, ignore_errors=True)


def _cli(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ipynbsrv_tui.cli", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=support.REPO)


def _agree(service, docker_client) -> None:
    """Every row has exactly its own engine container; no engine container of ours lacks a row."""
    from ipynbsrv_tui.store.models import Container

    rows = {row.id: row for row in Container.select()}
    engine = docker_client.containers.list(
        all=True, filters={"label": f"ipynbsrv.instance={service.instance_id}"}
    )
    by_row = {int(c.labels["ipynbsrv.container"]): c for c in engine}
    assert set(by_row) == set(rows), (set(by_row), set(rows))
    for row_id, row in rows.items():
        assert row.docker_id == by_row[row_id].id and row.key == by_row[row_id].labels["ipynbsrv.key"]
        assert row.worker == ""


@pytest.mark.parametrize("hold", ["request", "response"])
def test_a_client_killed_while_the_engine_stalls_a_create(faulty, docker_client, hold):
    """request: the engine never made it → reconcile rolls the row back; response: it did → reconcile
    finishes it."""
    from ipynbsrv_tui.store.models import Container

    service, proxy = faulty["service"], faulty["proxy"]
    proxy.hold = hold
    cli = _cli(faulty["config"], "containers", "create", "nb", "--image", "tiny", "--owner", "alice")
    assert proxy.held.wait(60), cli.communicate(timeout=5)
    labels = {"label": f"ipynbsrv.instance={service.instance_id}"}
    deadline = time.monotonic() + 20
    while hold == "response" and not docker_client.containers.list(all=True, filters=labels):
        assert time.monotonic() < deadline, "the engine never made the container"
        time.sleep(0.1)
    cli.send_signal(signal.SIGKILL)
    cli.wait(10)
    rows = list(Container.select())
    assert len(rows) == 1 and rows[0].docker_id == "" and rows[0].worker  # the half-done create
    labelled = docker_client.containers.list(all=True, filters=labels)
    assert len(labelled) == (0 if hold == "request" else 1), [c.labels for c in labelled]
    report = service.reconcile(ROOT)
    expected = "rolled back" if hold == "request" else "finished an interrupted create"
    assert any(expected in line for line in report.repaired), report
    assert not [line for line in report.flagged if "foreign" in line]
    _agree(service, docker_client)
    assert Container.select().count() == (0 if hold == "request" else 1)
    proxy.release.set()


def test_a_broker_killed_mid_create_is_rolled_back_when_it_starts_again(faulty, docker_client):
    from ipynbsrv_tui.broker.client import RemoteSession
    from ipynbsrv_tui.store.models import Container

    service, proxy = faulty["service"], faulty["proxy"]
    socket_path = str(faulty["folder"] / "run" / "broker.sock")
    broker = support.BrokerProcess(faulty["config"], socket_path, faulty["folder"] / "broker.log").start()
    proxy.hold = "request"
    outcome: list[BaseException] = []

    def create() -> None:
        try:
            with RemoteSession(socket_path) as root:
                root.create_container("nb", "tiny", owner="alice")
        except BaseException as exc:  # the broker dies under it
            outcome.append(exc)

    caller = threading.Thread(target=create, daemon=True)
    caller.start()
    assert proxy.held.wait(60), broker.log()
    broker.process.send_signal(signal.SIGKILL)
    broker.process.wait(10)
    caller.join(30)
    assert outcome and type(outcome[0]).__name__ == "BrokerUnavailable"
    assert Container.select().count() == 1  # the half-done row the dead broker left
    proxy.hold = ""
    proxy.release.set()
    restarted = support.BrokerProcess(faulty["config"], socket_path, faulty["folder"] / "broker2.log").start()
    try:
        deadline = time.monotonic() + 30
        while Container.select().count() and time.monotonic() < deadline:  # its reconcile at start
            time.sleep(0.2)
        assert Container.select().count() == 0, restarted.log()
        _agree(service, docker_client)
        with RemoteSession(socket_path) as root:  # and it serves: the create works now
            assert root.create_container("nb", "tiny", owner="alice", start=False).name == "nb"
        _agree(service, docker_client)
    finally:
        restarted.stop()


@pytest.mark.host
def test_a_full_file_system_refuses_clearly_and_loses_nothing(tmp_path, docker_client, tiny_image):
    """The data root (with the database on it) is a small tmpfs filled to the brim."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    from ipynbsrv_tui.config import Config
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import close_database
    from ipynbsrv_tui.store.models import Container

    root_dir = tmp_path / "small"
    root_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root_dir)], check=True)
    service = None
    try:
        ports = support.free_port_range()
        config = Config().replace(
            database={"path": str(root_dir / "ipynbsrv.db")},
            data={"root": str(root_dir / "data")},
            notebooks={"port_range": ports},
        )
        service = build_service(config)
        service.create_user(ROOT, "alice", "alice-password")
        service.register_image(ROOT, "tiny", tiny_image, is_public=True)
        kept = service.create_container(ROOT, "kept", "tiny", owner="alice", start=False)
        filler = root_dir / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        with pytest.raises(StoreError) as caught:
            for n in range(50):  # the WAL may still take a few pages; it fills up within a few creates
                service.create_container(ROOT, f"more{n}", "tiny", owner="alice", start=False)
        assert "Free space" in str(caught.value) or "full" in str(caught.value)
        assert "\n" not in str(caught.value)
        filler.unlink()
        service.reconcile(ROOT)
        names = {v.name for v in service.list_containers(ROOT)}
        assert "kept" in names
        engine = docker_client.containers.list(
            all=True, filters={"label": f"ipynbsrv.instance={service.instance_id}"}
        )
        assert {c.id for c in engine} == {v.docker_id for v in service.list_containers(ROOT)}
        assert kept.id in {v.id for v in service.list_containers(ROOT)}
        assert all(not row.worker for row in Container.select())
    finally:
        if service is not None:
            for container in docker_client.containers.list(
                    all=True, filters={"label": f"ipynbsrv.instance={service.instance_id}"}):
                container.remove(force=True)
        close_database()
        subprocess.run(["umount", "-l", str(root_dir)], check=False)


def test_a_build_killed_mid_step_is_cleaned_up_by_reconcile(tmp_path, docker_client, tiny_image):
    """The CLI running a build is SIGKILLed while a RUN step runs: reconcile marks the build failed and
    removes the step container it recorded, if the engine left it."""
    from ipynbsrv_tui.config import load_config
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import close_database
    from ipynbsrv_tui.store.models import Build

    folder = tmp_path / "dockerfiles" / "slow"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(f"FROM {tiny_image}\nRUN echo step-started && sleep 60\n")
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[database]\npath = "{tmp_path / "ipynbsrv.db"}"\n[data]\nroot = "{tmp_path / "data"}"\n'
        f'[build]\ndockerfiles = "{tmp_path / "dockerfiles"}"\nwheelhouse = false\n'
    )
    service = build_service(load_config(config_path))
    tag = f"ipynbsrv-test/killed-build-{os.getpid()}:latest"
    cli = _cli(config_path, "images", "build", "slow", "--tag", tag)
    try:
        deadline = time.monotonic() + 120
        while not (row := Build.get_or_none(Build.image_ref == tag)) or not row.containers:
            assert time.monotonic() < deadline and cli.poll() is None, cli.communicate(timeout=5)
            time.sleep(0.2)
        step = row.containers.split(",")[-1]
        cli.send_signal(signal.SIGKILL)
        cli.wait(10)
        assert Build.get_by_id(row.id).status == "running"  # what the dead process left
        report = service.reconcile(ROOT)
        assert any(f"build #{row.id}" in line and "interrupted" in line for line in report.repaired), report
        assert Build.get_by_id(row.id).status == "failed"
        deadline = time.monotonic() + 30  # the engine may still be ending the step it was told to cancel
        # The low-level list: the high-level one inspects each container and fails on one going away.
        while step in _container_ids(docker_client) and time.monotonic() < deadline:
            service.reconcile(ROOT)
            time.sleep(0.5)
        assert step not in _container_ids(docker_client)
    finally:
        if cli.poll() is None:
            cli.kill()
        close_database()
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # never built
            pass


def _container_ids(docker_client) -> set[str]:
    return {entry["Id"] for entry in docker_client.api.containers(all=True)}
