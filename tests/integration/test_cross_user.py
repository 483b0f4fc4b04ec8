"""Cross-user suite (issue 9): every service call, with every other user's object ids, through the real
broker.

Alice and Bob are directory users and OS accounts with the same uid; their clients drop to that
uid before connecting, so the broker knows them from SO_PEERCRED only. The calls are derived
from the service interface (`interface.CALLS`), not listed by hand, and every object id Bob owns
(containers, snapshots, his user name) is tried. For each call, what Alice gets with Bob's id
must be exactly what she gets with an id that does not exist (the id itself aside): refusals
never reveal what exists. The suite also covers identity by uid, the broker's own identity (a
swapped socket), wrong argument types, and one user's data breaking another user's list.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ipynbsrv_tui.broker.client import RemoteSession
from ipynbsrv_tui.broker.server import UNKNOWN_CACHE_SECONDS
from ipynbsrv_tui.interface import CALLS

from . import broker_support as support

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

MISSING_ID = 987_654_321
MISSING_USER = "nosuchuser"

# Values for the parameters that do not name another user's object (new names, flags, texts).
PLAIN = {
    "name": "x1", "new_name": "x2", "image_name": "img-x", "image": "ctu-public", "description": "d",
    "password": "long enough pw1", "is_admin": True, "active": False, "is_public": False, "tail": 5,
    "ref": "ctu-none:latest", "folder": "nope", "group": "ctu-group", "containers": "keep", "data": "keep",
    "owner": None, "query": "", "since": None, "limit": 5, "include_retired": True, "retired": True,
    "tag": None, "build_args": None, "nocache": False, "memory": None, "cpus": None, "start": False,
    "command": "", "notebook_port": 8888, "public_ports": "", "access_groups": [], "source_folder": "",
    "display_name": "", "email": "", "uid": None, "gid": None, "build_id": 1,
    "share": "ctu-share", "admin": False, "admin_only": False, "public": False, "unread_only": False,
    "kind": "misc", "target": "", "node": "nonode", "message": "hello", "notification_id": None,
    "what": "user", "undo": False,
    "path": "~/nothing-here",  # backup paths: the cross-user cases are in test_backup.py
}


@pytest.fixture(scope="module")
def world(docker_client):
    """A broker, a public and a private image, alice and bob, and bob's objects: containers and a snapshot."""
    if os.geteuid() != 0:
        pytest.skip("the cross-user suite creates OS accounts and switches uids: run it as root")
    tag = f"ipynbsrv-test/fake-notebook-{secrets.token_hex(4)}:latest"
    docker_client.images.build(path=str(support.FAKE_NOTEBOOK), tag=tag, rm=True, forcerm=True,
                               network_mode="none", labels={"ipynbsrv.test": "cross-user"})
    folder = support.world_readable_dir("ipynbsrv-test-xuser-")
    accounts: list[support.Account] = []
    suffix = secrets.token_hex(3)
    broker = None
    try:
        config = support.write_config(
            folder, port_range=support.free_port_range(), uid_range=support.free_uid_range()
        )
        broker = support.BrokerProcess(
            config, str(folder / "run" / "broker.sock"), folder / "broker.log"
        ).start()
        root = RemoteSession(broker.socket_path)
        root.register_image("ctu-public", tag, is_public=True)
        root.register_image("ctu-private", tag, is_public=False)
        people = {}
        for role in ("alice", "bob"):
            name = f"ctu{suffix}{role[0]}"
            view = root.create_user(name, "correct horse battery")
            accounts.append(support.add_os_account(name, view.uid))
            people[role] = accounts[-1]
        bob = people["bob"]
        bobs = [root.create_container(f"b{n}", "ctu-public", owner=bob.name, start=n == 0) for n in range(2)]
        snapshot = root.snapshot_container(bobs[0].id, "snap")
        yield {"broker": broker, "root": root, "lib": support.copy_client_package(folder), "folder": folder,
               "alice": people["alice"], "bob": bob, "bobs": bobs, "snapshot": snapshot, "image": tag}
        root.close()
    finally:
        if broker is not None:
            broker.stop()
        for account in accounts:
            support.remove_os_account(account.name)
            for container in docker_client.containers.list(
                all=True, filters={"label": f"ipynbsrv.owner={account.name}"}
            ):
                container.remove(force=True)
        for image in docker_client.images.list(filters={"label": "ipynbsrv.managed=true"}):
            if any(account.name in t for t in image.tags for account in accounts):
                docker_client.images.remove(image.id, force=True)
        docker_client.images.remove(tag, force=True)
        shutil.rmtree(folder, ignore_errors=True)


def _as(world, account, ops) -> support.ClientRun:
    return support.run_client(world["lib"], account.uid, account.gid, world["broker"].socket_path, ops)


def _argument_sets(
    call_name: str, targets: dict[str, list], own: dict[str, object]
) -> list[tuple[dict, dict]]:
    """For one call: pairs (kwargs naming another user's object, the same kwargs naming a missing one).

    Every parameter that names an object (container_id, snapshot_id, username) takes each of the
    other user's ids in turn; a snapshot id is also tried on the caller's own container.
    """
    declaration = CALLS[call_name].declaration
    parameters = [p for p in inspect.signature(declaration).parameters.values()
                  if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]
    object_params = [p.name for p in parameters if p.name in targets]
    base = {p.name: PLAIN.get(p.name, p.default) for p in parameters if p.name not in targets}
    unknown = [name for name, value in base.items() if value is inspect.Parameter.empty]
    assert not unknown, f"{call_name}: no test value for {unknown}; add them to PLAIN"
    if not object_params:
        return []
    pairs = []
    for name in object_params:
        for value in targets[name]:
            theirs = dict(base)
            missing = dict(base)
            for other in object_params:
                fill = own.get(other, targets[other][0])
                theirs[other] = fill
                missing[other] = fill
            theirs[name] = value
            missing[name] = MISSING_ID if name.endswith("_id") else MISSING_USER
            pairs.append((theirs, missing))
    return pairs


def _shape(outcome: dict, ids: list[str]) -> dict:
    """The outcome with the object ids themselves replaced, so answers can be compared."""
    if "error" not in outcome:
        return outcome
    message = outcome["error"]["message"]
    for text in ids:
        message = re.sub(rf"(?<![0-9A-Za-z]){re.escape(text)}(?![0-9A-Za-z])", "<id>", message)
    return {"error": {"type": outcome["error"]["type"], "message": message}}


@pytest.mark.host
def test_every_call_with_every_other_users_id_reads_as_not_found(world):
    root, alice, bob = world["root"], world["alice"], world["bob"]
    mine = _as(world, alice, [["create_container", ["mine"], {"image": "ctu-public", "start": False}]]).ok(0)
    everything = root.list_containers()
    theirs = [v for v in everything if v.owner != alice.name]
    assert {v.id for v in world["bobs"]} <= {v.id for v in theirs}
    snapshots = [s.id for v in theirs for s in root.list_snapshots(v.id)]
    assert world["snapshot"].id in snapshots
    made = _as(world, bob, [["create_share", [f"{bob.name}-share"], {}],
                            ["create_collab_group", [f"{bob.name}-group"], {"public": False}]])
    bob_share, bob_group = made.ok(0).name, made.ok(1).name
    targets = {"container_id": [v.id for v in theirs], "snapshot_id": snapshots, "username": [bob.name],
               "share": [bob_share], "group": [bob_group]}
    own = {"container_id": mine.id}
    ops, expectations = [], []
    for call_name in CALLS:
        for theirs_kwargs, missing_kwargs in _argument_sets(call_name, targets, own):
            ops.append([call_name, [], theirs_kwargs])
            ops.append([call_name, [], missing_kwargs])
            expectations.append((call_name, theirs_kwargs))
    assert len(expectations) >= 25, "the interface should have many calls that take another user's object"
    run = _as(world, alice, ops)
    ids = [str(i) for i in targets["container_id"] + targets["snapshot_id"] + [MISSING_ID]] + [
        bob_share, bob_group, bob.name, MISSING_USER]
    for index, (call_name, kwargs) in enumerate(expectations):
        with_theirs, with_missing = run.results[2 * index], run.results[2 * index + 1]
        assert "error" in with_theirs, (
            f"{call_name}({kwargs}) succeeded for another user's object: {with_theirs}"
        )
        assert _shape(with_theirs, ids) == _shape(with_missing, ids), (
            call_name,
            kwargs,
            with_theirs,
            with_missing,
        )
        assert with_theirs["error"]["type"] in ("NotFound", "NotAuthorized", "ValidationError"), (
            call_name,
            with_theirs,
        )
    # nothing of bob's changed; reads that list things show alice none of bob's
    after = {v.id: v for v in root.list_containers()}
    up = {"running", "starting"}  # a notebook is `starting` until it answers, then `running`
    for view in world["bobs"]:
        was, now = view.state.value, after[view.id].state.value
        assert (now == was or {now, was} <= up) and after[view.id].token == view.token
    listing = _as(world, alice, [["list_containers", [], {}], ["list_containers", [], {"owner": bob.name}],
                                 ["list_users", [], {}], ["list_images", [], {}]])
    assert {v.owner for v in listing.ok(0)} == {alice.name} == {v.owner for v in listing.ok(1)}
    assert [u.username for u in listing.ok(2)] == [alice.name]
    images = {i.name: i for i in listing.ok(3)}
    assert set(images) == {"ctu-public"} and images["ctu-public"].containers == 1  # her own only, not bob's


@pytest.mark.host
def test_a_huge_description_is_refused_and_every_list_keeps_working(world):
    root, alice = world["root"], world["alice"]
    run = _as(world, alice, [
        ["create_container", ["huge"], {"image": "ctu-public", "description": "x" * 60_000, "start": False}],
        ["list_containers", [], {}],
    ])
    assert run.error(0)["type"] == "ValidationError" and "1000" in run.error(0)["message"]
    assert "huge" not in {v.name for v in run.ok(1)}
    assert "huge" not in {v.name for v in root.list_containers()}


@pytest.mark.host
def test_wrong_argument_types_get_a_clear_error_and_the_broker_keeps_serving(world):
    alice, bobs = world["alice"], world["bobs"]
    run = _as(world, alice, [
        ["get_container", [[1, 2]], {}],
        ["stop_container", [], {"container_id": {"$tu": [bobs[0].id]}}],
        ["create_container", [["x"]], {"image": "ctu-public"}],
        ["container_logs", [bobs[0].id], {"tail": "all"}],
        ["list_containers", [], {}],
    ])
    for index in range(4):
        error = run.error(index)
        assert error["type"] in ("ProtocolError", "ValidationError"), error
        assert "Traceback" not in error["message"] and "ProgrammingError" not in error["message"]
    assert isinstance(run.ok(4), list)
    assert "ProgrammingError" not in world["broker"].log()


@pytest.mark.host
def test_a_host_account_named_like_a_directory_user_but_with_another_uid_is_refused(world):
    """Item 4: identity is the uid alone; the message says why."""
    root = world["root"]
    name = f"ctu{secrets.token_hex(3)}c"
    directory_user = root.create_user(name, "correct horse battery")
    host_uid = support.free_uid_range(1)[0]
    account = support.add_os_account(name, host_uid)
    try:
        assert account.uid != directory_user.uid
        run = _as(world, account, [["list_containers", [], {}]])
        assert run.connect_error is not None and run.connect_error["type"] == "NotAuthorized"
        message = run.connect_error["message"]
        assert str(host_uid) in message and str(directory_user.uid) in message and "uid" in message
    finally:
        support.remove_os_account(name)
        root.delete_user(name, containers="delete", data="delete")


IMPOSTOR = r'''
import os, socket, sys
os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[1]))
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[3]); os.chmod(sys.argv[3], 0o666); server.listen(8)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    conn.recv(65536)
    conn.sendall(b'{"v":1,"id":1,"ok":{"$t":["Actor",{"username":"root","uid":0,"is_admin":true,"groups":{"$tu":[]}}]}}\n')
    conn.sendall(b'{"v":1,"id":2,"stream":{}}\n{"v":1,"id":2,"item":"fake log line from the impostor"}\n')
    conn.close()
'''


@pytest.mark.host
def test_a_swapped_socket_is_refused_on_the_next_connection(world):
    """Item 5: the socket path is a symlink another user controls; after the first connection it is
    pointed at that user's impostor. The victim's next follow_logs must not reach the impostor."""
    alice, bob = world["alice"], world["bob"]
    mine = _as(world, alice, [["create_container", ["logs"], {"image": "ctu-public"}]]).ok(0)
    folder = Path(world["folder"]) / "swap"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    link, fake, go = folder / "broker.sock", folder / "impostor.sock", folder / "swapped"
    link.symlink_to(world["broker"].socket_path)
    impostor = subprocess.Popen(
        [support.SYSTEM_PYTHON, "-c", IMPOSTOR, str(bob.uid), str(bob.gid), str(fake)],
        stdout=subprocess.PIPE,
        text=True,
    )
    client = None
    try:
        assert impostor.stdout.readline().strip() == "listening"
        client = support.start_client(world["lib"], alice.uid, alice.gid, str(link), [
            ["get_container", [mine.id], {}],
            ["wait_for_file", [str(go)], {}],
            ["follow_logs", [mine.id], {}],
        ])
        support.wait_for_line(client, "waiting")
        swapped = folder / "swap-link"
        swapped.symlink_to(fake)
        os.replace(swapped, link)  # as bob could: the folder is writable by him
        go.touch()
        run = support.finish_client(client, alice.uid)
        client = None
    finally:
        if client is not None:
            client.kill()
        impostor.kill()
        impostor.wait()
    assert run.ok(0).id == mine.id and run.ok(1) is True
    error = run.error(2)
    assert error["type"] == "NotAuthorized" and f"uid {bob.uid}" in error["message"]
    assert "impostor" not in str(run.results)


@pytest.mark.host
def test_root_and_system_accounts_are_reserved_and_new_ids_skip_the_hosts(world):
    """Item 8: `users create root` (and a host system account's name) is refused; new uids skip ids
    any host account uses; admins may give --uid (a host account's own uid only for its own name)."""
    root = world["root"]
    for name in ("root", "daemon", "nobody"):  # nobody is uid 65534: a system account too (issue 20.7)
        with pytest.raises(Exception) as caught:
            root.create_user(name, "correct horse battery")
        assert type(caught.value).__name__ == "ValidationError" and "reserved" in str(caught.value)
    users = {u.username: u for u in root.list_users()}
    next_uid = max(u.uid for u in users.values()) + 1
    squatter = support.add_os_account(f"ctu{secrets.token_hex(3)}h", next_uid)  # the host takes the next uid
    created = []
    try:
        fresh = root.create_user(f"ctu{secrets.token_hex(3)}n", "correct horse battery")
        created.append(fresh.username)
        assert fresh.uid != next_uid and fresh.uid > next_uid
        with pytest.raises(Exception, match=f"belongs to the host account {squatter.name!r}"):
            root.create_user(f"ctu{secrets.token_hex(3)}o", "correct horse battery", uid=next_uid)
        handed = root.create_user(
            squatter.name, "correct horse battery", uid=next_uid
        )  # the host account itself
        created.append(handed.username)
        assert handed.uid == next_uid
        run = _as(world, squatter, [["list_containers", [], {}]])
        assert run.connect_error is None and run.actor.username == squatter.name
        with pytest.raises(Exception, match="1000"):
            root.create_user(f"ctu{secrets.token_hex(3)}p", "correct horse battery", uid=999)
        with pytest.raises(Exception, match="nobody"):
            root.create_user(f"ctu{secrets.token_hex(3)}q", "correct horse battery", uid=65534)
    finally:
        support.remove_os_account(squatter.name)
        for name in created:
            root.delete_user(name, containers="delete", data="delete")


FLOOD = r'''
import json, os, select, socket, sys, time
os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[1]))
path, seconds, per_uid = sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
open_at, lifetimes, refused, opened = {}, [], 0, 0
end = time.monotonic() + seconds
print("flooding", flush=True)
while time.monotonic() < end:
    while len(open_at) < per_uid:  # hold per_uid connections that send nothing, as soon as one closes
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            break
        open_at[sock] = time.monotonic()
        opened += 1
    readable, _, _ = select.select(list(open_at), [], [], 0.1)
    for sock in readable:  # the broker answered (a refusal) or closed it
        data = b""
        try:
            data = sock.recv(65536)
        except OSError:
            pass
        if b"BrokerBusy" in data:
            refused += 1
        else:
            lifetimes.append(time.monotonic() - open_at[sock])
        del open_at[sock]
        sock.close()
    time.sleep(0.5)  # then open what was closed again: accounts that keep trying, not a tight loop
print(json.dumps({"opened": opened, "refused": refused, "lifetimes": lifetimes}), flush=True)
'''

TIMED = r'''
import json, os, sys, time
os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[1]))
from ipynbsrv_tui.broker.client import RemoteSession
session = RemoteSession(sys.argv[3], pool_size=0)  # a connection per call: each one meets the flood
latencies = []
for _ in range(int(sys.argv[4])):
    started = time.monotonic()
    session.list_containers()
    latencies.append(time.monotonic() - started)
    time.sleep(0.05)
print(json.dumps(latencies), flush=True)
'''


@pytest.mark.host
def test_unknown_uids_cannot_crowd_out_a_user_and_a_full_broker_says_busy(world):
    """Issue 20 item 5: eight host accounts that are no directory users each keep 16 connections open and
    send nothing (128, the broker's maximum) and open again what the broker closes, while alice makes 200
    calls, each on a new connection. Their connections close at once (they are answered a refusal), they
    hold at most two each, and alice's calls stay within the broker's p99 budget (docs/performance.md: 100
    ms). When the same calls without the flood miss that budget already (other work on the machine), the
    budget cannot be judged: the test says so and skips that one check."""
    alice = world["alice"]

    def timed_calls(count: int) -> list[float]:
        done = subprocess.run(
            [
                support.SYSTEM_PYTHON,
                "-c",
                TIMED,
                str(alice.uid),
                str(alice.gid),
                world["broker"].socket_path,
                str(count),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            env={"PYTHONPATH": str(world["lib"]), "LANG": "C.UTF-8"},
        )
        assert done.returncode == 0, done.stderr
        return sorted(json.loads(done.stdout.splitlines()[-1]))

    quiet = timed_calls(200)  # the same calls without the flood, for the figure
    first, _last = support.free_uid_range(8)
    suffix = secrets.token_hex(2)
    flooders = [support.add_os_account(f"ctuflood{suffix}{n}", first + n) for n in range(8)]
    processes = []
    log_before = len(world["broker"].log())
    try:
        for account in flooders:
            processes.append(
                subprocess.Popen(
                    [
                        support.SYSTEM_PYTHON,
                        "-c",
                        FLOOD,
                        str(account.uid),
                        str(account.gid),
                        world["broker"].socket_path,
                        "30",
                        "16",
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd="/",
                )
            )
        for process in processes:
            assert process.stdout.readline().strip() == "flooding", process.stderr.read()
        time.sleep(1.0)  # the flood is on
        latencies = timed_calls(200)
        floods = []
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            floods.append(json.loads(out.splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for account in flooders:
            support.remove_os_account(account.name)
    p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"alice's list_containers without a flood: p50 {quiet[len(quiet) // 2] * 1000:.1f} ms, "
          f"p99 {quiet[min(len(quiet) - 1, int(len(quiet) * 0.99))] * 1000:.1f} ms")
    print(
        f"alice's list_containers under the flood: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; flood "
        f"connections opened {sum(f['opened'] for f in floods)}, refused busy "
        f"{sum(f['refused'] for f in floods)}, longest held "
        f"{max(max(f['lifetimes'], default=0) for f in floods):.2f} s"
    )
    lifetimes = [t for f in floods for t in f["lifetimes"]]
    assert lifetimes and max(lifetimes) < 2.0  # closed at once (after half a second at most for a hello)
    assert all(f["refused"] > 0 for f in floods)  # at most two at a time each
    log_text = world["broker"].log()[log_before:]
    lookups = {account.uid: log_text.count(f"refused uid {account.uid} (") for account in flooders}
    print(f"lookups of each flooding uid in 30 s: {sorted(lookups.values())}")
    # each uid is looked up again at most once per UNKNOWN_CACHE_SECONDS, by one connection at a time
    # (when each expiry sent all 16 of its connections to the store, alice's p99 reached 110 ms)
    assert all(0 < count <= 30 / UNKNOWN_CACHE_SECONDS + 3 for count in lookups.values()), lookups
    quiet_p99 = quiet[min(len(quiet) - 1, int(len(quiet) * 0.99))]
    if quiet_p99 > 0.100:  # other work on the machine: the budget cannot be judged, and it is not loosened
        pytest.skip(f"the machine is too loaded to judge the 100 ms budget: p99 {quiet_p99 * 1000:.1f} ms "
                    f"without the flood ({p99 * 1000:.1f} ms with it); everything else held")
    assert p99 <= 0.100, f"p99 {p99 * 1000:.1f} ms over the broker's 100 ms budget"
