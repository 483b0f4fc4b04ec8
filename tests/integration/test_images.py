"""The images of dockerfiles/ (DESIGN §6), built with `ipynbsrv-tui images build` on the real engine
and run against the real slapd.

Containers use host networking so nslcd reaches the test slapd on 127.0.0.1; sshd and Jupyter
therefore listen on free loopback ports (SSHD_PORT / NOTEBOOK_PORT) instead of published ones.
Built images are tagged ipynbsrv-test/…; at the end the tags are removed without pruning their
parents, so the next session's builds come from the layer cache.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from ipynbsrv_tui import cli
from tests.fixtures.docker_engine import ensure_base_image
from tests.fixtures.kernel_channel import KernelChannel
from tests.fixtures.services import unavailable

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PREFIX = "ipynbsrv-test"
BASE_LDAP = f"{PREFIX}/base-ldap:latest"
BASE_LDAP_BULLSEYE = f"{PREFIX}/base-ldap:bullseye"
IPYTHON3 = f"{PREFIX}/ipython3-notebook:latest"
IPYTHON2 = f"{PREFIX}/ipython2-notebook:latest"
BUILT_TAGS = (IPYTHON3, IPYTHON2, BASE_LDAP, BASE_LDAP_BULLSEYE)
SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
    "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10",
)


# --------------------------------------------------------------------------- builds


@pytest.fixture(scope="session")
def images_config(tmp_path_factory, base_image) -> Path:
    """A config.toml whose [build] section points at the repository's dockerfiles/ with a test prefix."""
    folder = tmp_path_factory.mktemp("images-config")
    path = folder / "config.toml"
    path.write_text(
        f'[database]\npath = "{folder / "ipynbsrv.db"}"\n'
        f'[broker]\nsocket = "{folder / "absent.sock"}"\n'
        "[build]\n"
        f'dockerfiles = "{REPO / "dockerfiles"}"\n'
        f'base_image = "{base_image}"\n'
        f'image_prefix = "{PREFIX}"\n'
    )
    return path


@pytest.fixture(scope="session")
def build_image(engine, docker_client, images_config):
    """Build an image folder with the real `images build` command; the tags are removed at the end."""
    timings: dict[str, float] = {}

    def build(folder: str) -> str:
        started = time.monotonic()
        code = cli.main(["--config", str(images_config), "images", "build", folder])
        timings[folder] = time.monotonic() - started
        if code != 0:
            pytest.fail(
                f"`ipynbsrv-tui images build {folder}` exited {code} (its log is in the captured output)"
            )
        return f"{PREFIX}/{folder}:latest"

    yield build
    for folder, seconds in timings.items():
        print(f"images build {folder}: {seconds:.1f} s")
    for tag in BUILT_TAGS:
        if engine.image_exists(tag):
            docker_client.api.remove_image(tag, noprune=True)


@pytest.fixture(scope="session")
def base_ldap_image(build_image) -> str:
    return build_image("base-ldap")


@pytest.fixture(scope="session")
def ipython3_image(build_image, base_ldap_image) -> str:
    return build_image("ipython3-notebook")


@pytest.fixture(scope="session")
def ipython2_image(build_image, engine) -> str:
    ensure_base_image(engine, "bullseye", "debian:bullseye-slim")
    return build_image("ipython2-notebook")


def test_all_three_images_build_and_carry_their_registration_labels(
    engine, base_ldap_image, ipython3_image, ipython2_image
):
    base = engine.image(base_ldap_image)
    assert base.labels["ipynbsrv.registrable"] == "false"
    assert base.labels["ipynbsrv.folder"] == "base-ldap"
    for ref in (ipython3_image, ipython2_image):
        labels = engine.image(ref).labels
        assert labels["ipynbsrv.registrable"] == "true"
        assert labels["ipynbsrv.notebook-port"] == "8888"
        assert labels["ipynbsrv.public-ports"] == ""  # sshd is opt-in per registration (--public-ports 22)
        assert labels["ipynbsrv.command"] == "start-notebook"
        assert labels["ipynbsrv.description"]
    # ipython2-notebook made its own base on bullseye first
    assert engine.image_exists(BASE_LDAP_BULLSEYE)
    for ref in (base_ldap_image, BASE_LDAP_BULLSEYE, ipython3_image, ipython2_image):
        print(f"{ref}: {engine.image(ref).size / 1e6:.0f} MB")


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(docker_client, image: str, role: str, environment: dict[str, str], volumes: dict | None = None):
    """A container of `image` on the host network, removed afterwards."""
    name = f"ipynbsrv-test-img-{role}-{os.getpid()}-{secrets.token_hex(3)}"
    container = docker_client.containers.run(
        image, name=name, detach=True, network_mode="host", environment=environment,
        volumes=volumes or {}, labels={"ipynbsrv-test": "images"},
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def wait_for_log(container, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        logs = container.logs().decode(errors="replace")
        if text in logs:
            return
        if container.status == "exited":
            break
        time.sleep(0.2)
    pytest.fail(f"{container.name} did not log {text!r} (status {container.status}): {logs[-1500:]}")


def exec_out(container, command: list[str], user: str = "") -> tuple[int, str]:
    result = container.exec_run(command, user=user)
    return result.exit_code, result.output.decode(errors="replace")


def su_with_password(docker_client, container, as_uid: int, target: str, password: str) -> tuple[int, str]:
    """Run `su -c 'id -un' target` on a pseudo-terminal as uid `as_uid`, typing `password`."""
    api = docker_client.api
    created = api.exec_create(
        container.id, ["su", "-c", "id -un", target], stdin=True, tty=True, user=str(as_uid)
    )
    sock = api.exec_start(created["Id"], tty=True, socket=True)._sock
    sock.settimeout(15)
    output = b""
    try:
        while b"assword" not in output:
            chunk = sock.recv(4096)
            if not chunk:
                break
            output += chunk
        sock.sendall(password.encode() + b"\n")
        while chunk := sock.recv(4096):
            output += chunk
    except TimeoutError:
        output += b"<timeout>"
    finally:
        sock.close()
    for _ in range(50):
        state = api.exec_inspect(created["Id"])
        if not state["Running"]:
            return state["ExitCode"], output.decode(errors="replace")
        time.sleep(0.1)
    return -1, output.decode(errors="replace")


def ssh(port: int, user: str, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sshpass", "-p", password, "ssh", "-p", str(port), *SSH_OPTIONS, f"{user}@127.0.0.1", "id -u"],
        capture_output=True, text=True, timeout=60,
    )


def process_uids(container, program: str) -> list[int]:
    """The uids of the container's processes running `program` (the command or its script)."""
    top = container.top(ps_args="-eo pid,uid,args")  # the engine needs the pid column
    return [
        int(uid)
        for _pid, uid, args in top["Processes"]
        if any(w.rsplit("/", 1)[-1] == program for w in args.split()[:2])
    ]


# --------------------------------------------------------------------------- base-ldap


@pytest.fixture(scope="module")
def ldap_container(docker_client, base_ldap_image, slapd) -> Iterator[tuple[object, int]]:
    """base-ldap with LDAP_URI at the test slapd and sshd on a free loopback port."""
    if shutil.which("ssh") is None or shutil.which("sshpass") is None:
        unavailable(
            "docker", "the ssh tests need `ssh` and `sshpass` (apt-get install openssh-client sshpass)"
        )
    port = free_port()
    environment = {
        "OWNER": "alice", "LDAP_URI": slapd.uri, "LDAP_BASE": slapd.base_dn,
        "PUBLIC_PORTS": "22", "SSHD_PORT": str(port), "SSHD_LISTEN_ADDRESS": "127.0.0.1",
    }
    with running(docker_client, base_ldap_image, "ldap", environment) as container:
        wait_for_log(container, f"Server listening on 127.0.0.1 port {port}")
        yield container, port


def test_getent_gives_alices_ldap_uid_and_gid(ldap_container, slapd):
    container, _ = ldap_container
    code, output = exec_out(container, ["getent", "passwd", "alice"])
    assert code == 0, output
    fields = output.strip().split(":")
    alice = slapd.users["alice"]
    assert (fields[0], int(fields[2]), int(fields[3])) == ("alice", alice.uid, alice.gid)
    assert fields[5] == "/home/alice"


def test_the_command_runs_as_the_owner_under_tini(ldap_container, slapd):
    container, _ = ldap_container
    assert process_uids(container, "sleep") == [slapd.users["alice"].uid]
    assert process_uids(container, "tini") == [0]


def test_root_login_fails_with_any_password(docker_client, ldap_container, slapd):
    container, port = ldap_container
    alice = slapd.users["alice"]
    passwords = ("", "root", alice.password)
    with ThreadPoolExecutor(6) as pool:  # every refusal waits out PAM's failure delay: in parallel
        su_tries = [
            pool.submit(su_with_password, docker_client, container, alice.uid, "root", p) for p in passwords
        ]
        ssh_tries = [pool.submit(ssh, port, "root", p or "x") for p in passwords]
        for password, attempt in zip(passwords, su_tries, strict=True):
            code, output = attempt.result()
            assert code != 0 and "Authentication failure" in output, (password, output)
        assert all(attempt.result().returncode != 0 for attempt in ssh_tries)


def test_only_the_owner_logs_in_su_and_ssh(docker_client, ldap_container, slapd):
    container, port = ldap_container
    alice, bob = slapd.users["alice"], slapd.users["bob"]
    with ThreadPoolExecutor(5) as pool:
        # the owner gets in with her LDAP password …
        su_alice = pool.submit(su_with_password, docker_client, container, bob.uid, "alice", alice.password)
        ssh_alice = pool.submit(ssh, port, "alice", alice.password)
        # … bob, a valid LDAP user with his correct password, does not, and neither does a wrong password
        su_bob = pool.submit(su_with_password, docker_client, container, alice.uid, "bob", bob.password)
        ssh_bob = pool.submit(ssh, port, "bob", bob.password)
        ssh_wrong = pool.submit(ssh, port, "alice", "not-" + alice.password)
        code, output = su_alice.result()
        assert code == 0 and "alice" in output.split("Password:")[-1], output
        done = ssh_alice.result()
        assert done.returncode == 0 and done.stdout.strip() == str(alice.uid), done.stderr
        code, output = su_bob.result()
        assert code != 0 and "Authentication failure" in output, output
        refused = ssh_bob.result()
        assert refused.returncode != 0 and refused.stdout == "", refused
        assert ssh_wrong.result().returncode != 0


def test_without_owner_the_container_refuses_to_start_and_says_why(docker_client, base_ldap_image):
    with running(docker_client, base_ldap_image, "no-owner", {}) as container:
        result = container.wait(timeout=60)
        logs = container.logs().decode(errors="replace")
    assert result["StatusCode"] == 64
    assert "OWNER is not set" in logs


@pytest.mark.parametrize("environment", [
    {"OWNER": "root", "NB_UID": "3001"},
    {"OWNER": "carol", "NB_UID": "00"},
    {"OWNER": "carol", "NB_UID": "4294967295"},
    {"OWNER": "carol", "NB_UID": "3001", "NB_GID": "0"},
    {"OWNER": "carol", "NB_UID": "3001", "NB_GID": "00"},
    {"OWNER": "carol", "NB_UID": "3001", "NB_GID": "4294967295"},
    {"OWNER": "carol;id", "NB_UID": "3001"},
], ids=["owner-root", "uid-00", "uid-minus-1", "gid-0", "gid-00", "gid-minus-1", "owner-odd"])
def test_root_ids_in_any_spelling_are_refused_before_the_command_runs(
    docker_client, base_ldap_image, environment
):
    container = docker_client.containers.run(
        base_ldap_image,
        ["id"],
        name=f"ipynbsrv-test-img-ids-{os.getpid()}-{secrets.token_hex(3)}",
        detach=True,
        network_mode="none",
        environment=environment,
        labels={"ipynbsrv-test": "images"},
    )
    try:
        result = container.wait(timeout=60)
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert result["StatusCode"] == 64, logs
    assert "uid=" not in logs, logs


def test_an_owner_name_with_a_line_break_is_refused_before_any_file_is_written(
    docker_client, base_ldap_image
):
    container = docker_client.containers.run(
        base_ldap_image,
        ["id"],
        name=f"ipynbsrv-test-img-nl-{os.getpid()}-{secrets.token_hex(3)}",
        detach=True,
        network_mode="none",
        environment={"OWNER": "carol\nroot", "NB_UID": "3001"},
        labels={"ipynbsrv-test": "images"},
    )
    try:
        result = container.wait(timeout=60)
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert result["StatusCode"] == 64 and "is not a valid user name" in logs, logs
    assert "wrote a local account" not in logs, logs


def test_without_ldap_the_owner_gets_a_local_account_from_nb_uid(docker_client, base_ldap_image):
    environment = {"OWNER": "carol", "NB_UID": "3001", "NB_GID": "3002"}
    with running(docker_client, base_ldap_image, "local", environment) as container:
        wait_for_log(container, "wrote a local account carol")
        code, output = exec_out(container, ["getent", "passwd", "carol"])
        assert code == 0 and output.split(":")[2:4] == ["3001", "3002"], output
        for _ in range(50):
            if process_uids(container, "sleep"):
                break
            time.sleep(0.1)
        assert process_uids(container, "sleep") == [3001]
        code, output = exec_out(container, ["readlink", "/data/home"])
        assert output.strip() == "/home/carol"


# --------------------------------------------------------------------------- notebooks


class Notebook:
    """A running notebook container reached on the host network: its URL prefix and token."""

    def __init__(self, container, port: int, base_url: str, token: str, home: Path) -> None:
        self.container, self.port, self.base_url, self.token, self.home = (
            container,
            port,
            base_url,
            token,
            home,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}{path}"

    def request(
        self, method: str, path: str, body: dict | None = None, token: str | None = ""
    ) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        token = self.token if token == "" else token
        if token:
            headers["Authorization"] = f"token {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url(path), data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {}


@contextmanager
def notebook(docker_client, image: str, slapd, tmp_path_factory, role: str) -> Iterator[Notebook]:
    """Start `image` as alice with her host home bind-mounted; yields once Jupyter answers."""
    alice = slapd.users["alice"]
    home = tmp_path_factory.mktemp(f"homes-{role}") / "alice"
    home.mkdir(mode=0o700)
    os.chown(home, alice.uid, alice.gid)
    port, token, base_url = free_port(), secrets.token_hex(16), f"/nb/alice/{role}/"
    environment = {
        "OWNER": "alice", "NB_UID": str(alice.uid), "NB_GID": str(alice.gid),
        "LDAP_URI": slapd.uri, "LDAP_BASE": slapd.base_dn,
        "NOTEBOOK_PORT": str(port), "BASE_URL": base_url, "JUPYTER_TOKEN": token,
    }
    with running(
        docker_client, image, role, environment, {str(home): {"bind": "/home/alice", "mode": "rw"}}
    ) as container:
        served = Notebook(container, port, base_url, token, home)
        deadline = time.monotonic() + 90
        while not _answers(served):
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                pytest.fail(f"Jupyter did not answer: {container.logs().decode(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield served


def _answers(served: Notebook) -> bool:
    try:
        return served.request("GET", "api/status")[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def ipython3(docker_client, ipython3_image, slapd, tmp_path_factory) -> Iterator[Notebook]:
    with notebook(docker_client, ipython3_image, slapd, tmp_path_factory, "py3") as served:
        yield served


def test_api_status_answers_with_the_token_and_is_refused_without(ipython3):
    status, body = ipython3.request("GET", "api/status")
    assert status == 200 and "started" in body
    assert ipython3.request("GET", "api/status", token=None)[0] == 403
    assert ipython3.request("GET", "api/status", token="wrong-token")[0] == 403


def test_the_notebook_runs_as_alice_and_its_token_is_not_on_the_command_line(ipython3, slapd):
    uids = process_uids(ipython3.container, "jupyter-notebook")
    assert uids == [slapd.users["alice"].uid]
    top = ipython3.container.top(ps_args="-eo pid,args")
    assert not any(ipython3.token in args for _pid, args in top["Processes"])


def test_a_file_written_through_the_contents_api_lands_in_the_host_home_owned_by_alice(ipython3, slapd):
    body = {"type": "file", "format": "text", "content": "written through Jupyter\n"}
    status, model = ipython3.request("PUT", "api/contents/home/from-jupyter.txt", body)
    assert status in (200, 201), model
    written = ipython3.home / "from-jupyter.txt"
    assert written.read_text() == "written through Jupyter\n"
    assert written.stat().st_uid == slapd.users["alice"].uid


@pytest.fixture(scope="module")
def ipython2(docker_client, ipython2_image, slapd, tmp_path_factory) -> Iterator[Notebook]:
    with notebook(docker_client, ipython2_image, slapd, tmp_path_factory, "py2") as served:
        yield served


def test_the_python2_kernel_runs_print_hello_through_the_jupyter_api(ipython2):
    status, specs = ipython2.request("GET", "api/kernelspecs")
    assert status == 200 and specs["default"] == "python2"
    status, kernel = ipython2.request("POST", "api/kernels", {"name": "python2"})
    assert status == 201, kernel
    try:
        with KernelChannel(ipython2, kernel["id"]) as channel:
            assert channel.execute('print "hello"') == "hello\n"
            assert channel.execute("import sys; print sys.version_info[0], sys.version_info[1]") == "2 7\n"
    finally:
        ipython2.request("DELETE", f"api/kernels/{kernel['id']}")
