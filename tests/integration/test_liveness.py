"""Operations with real processes: the broker's socket folder and log, and the header's liveness.

DESIGN §12: a lost engine or broker shows in the header within 2 s; another person's change
reaches an open screen within 1 s. The broker is a real `ipynbsrv-tui serve` subprocess; the
engine is lost by killing a real forwarding process the config points at (the shared engine
itself is never stopped).
"""

from __future__ import annotations

import os
import re
import signal
import stat
import threading
import time
from pathlib import Path

import pytest

from ipynbsrv_tui.broker.client import RemoteSession
from ipynbsrv_tui.config import load_config
from ipynbsrv_tui.domain import ContainerState

from . import broker_support as support

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3} (DEBUG|INFO|WARNING|ERROR) ")


def _broker(site, name: str, socket_path: Path | None = None) -> support.BrokerProcess:
    """A broker with its own store, and its own uid range (its directory allocates from the start)."""
    folder = site["folder"] / name
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    config = support.write_config(folder, port_range=site["port_range"], uid_range=support.free_uid_range())
    if socket_path is not None:
        config.write_text(config.read_text().replace(str(folder / "run" / "broker.sock"), str(socket_path)))
    return support.BrokerProcess(
        config, str(socket_path or folder / "run" / "broker.sock"), folder / "broker.log"
    )


@pytest.mark.host
def test_broker_makes_its_socket_folder_and_logs_refusals_with_timestamps(site):
    socket_path = site["folder"] / "logs" / "made" / "by-broker" / "broker.sock"
    broker = _broker(site, "logs", socket_path).start()
    try:
        folder = socket_path.parent
        info = folder.stat()
        assert stat.S_IMODE(info.st_mode) == 0o755 and info.st_uid == 0, (
            "the broker makes its folder 0755 root"
        )
        root = RemoteSession(broker.socket_path)
        view = root.create_user(f"{site['names']['bob']}l", "correct horse battery")
        account = support.add_os_account(view.username, view.uid)
        site["accounts"].append(account)
        run = support.run_client(site["lib"], account.uid, account.gid, broker.socket_path,
                                 [["reconcile", [], {}], ["delete_user", ["root"], {}]])
        assert run.error(0)["type"] == "NotAuthorized" and run.error(1)["type"] == "NotAuthorized"
        root.close()
    finally:
        assert broker.stop() == 0
    lines = [line for line in broker.log().splitlines() if line.strip()]
    assert lines and all(TIMESTAMP.match(line) for line in lines), [
        x for x in lines if not TIMESTAMP.match(x)
    ][:3]
    refusals = [line for line in lines if "ipynbsrv.audit: refused" in line]
    assert any(f"refused {view.username} (uid {view.uid}): reconcile" in line for line in refusals), refusals
    assert any(f"refused {view.username} (uid {view.uid}): user.delete root" in line for line in refusals), (
        refusals
    )


async def test_header_says_the_broker_is_lost_within_2s_and_up_stops_pretending(site, docker_client):
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    broker = _broker(site, "lost").start()
    root = RemoteSession(broker.socket_path)
    root.register_image("ipbt-live", site["image"], description="liveness", is_public=True)
    owner = root.create_user(f"{site['names']['alice']}v", "correct horse battery").username
    nb = root.create_container("live", "ipbt-live", owner=owner)
    assert nb.state in (ContainerState.STARTING, ContainerState.RUNNING)
    config = load_config(broker.config_path)
    app = IpynbsrvApp(config, root)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await support.seconds_until(
                pilot,
                lambda: (
                    "engine ✓" in support.status_line(app)
                    and nb.id in app.book.views
                    and app.book.views[nb.id].state == ContainerState.RUNNING
                ),
                20,
            )
            screen = app.screen
            assert screen.row_cells(nb.id)[7] not in ("", "?")
            broker.process.send_signal(signal.SIGKILL)  # gone without a goodbye
            lost = await support.seconds_until(pilot, lambda: "broker ✗" in support.status_line(app), 2.0)
            assert "engine ✓" not in support.status_line(app)
            assert screen.row_cells(nb.id)[7] == "?", "Up must not keep ticking while nothing is known"
            broker.process.wait()
            broker.start()
            back = await support.seconds_until(
                pilot, lambda: "engine ✓" in support.status_line(app) and not app.book.stale, 15
            )
            print(
                f"\nbroker killed -> header says so, {lost:.2f} s, 2.0 s; broker back -> header live, "
                f"{back:.2f} s"
            )
    finally:
        root.close()
        broker.stop()
        for container in docker_client.containers.list(
            all=True, filters={"label": f"ipynbsrv.owner={owner}"}
        ):
            container.remove(force=True)  # also when the test failed with the broker away


async def test_header_says_the_engine_is_lost_within_2s(site, tmp_path):
    from ipynbsrv_tui.service import embedded_session
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    proxy = site["folder"] / f"engine-{os.getpid()}.sock"
    forwarder = support.start_engine_forwarder(proxy)
    try:
        folder = site["folder"] / "engine-lost"
        folder.mkdir(mode=0o755)
        path = support.write_config(folder, port_range=site["port_range"], uid_range=site["uid_range"])
        path.write_text(path.read_text() + f'\n[docker]\nurl = "unix://{proxy}"\n')
        session = embedded_session(load_config(path))
        app = IpynbsrvApp(load_config(path), session)
        async with app.run_test(size=(120, 36)) as pilot:
            await support.seconds_until(pilot, lambda: "engine ✓" in support.status_line(app), 10)
            forwarder.kill()
            forwarder.wait()
            proxy.unlink()
            lost = await support.seconds_until(pilot, lambda: "engine ✗" in support.status_line(app), 2.0)
            print(f"\nengine lost -> header says so, {lost:.2f} s, 2.0 s")
        session.close()
    finally:
        forwarder.kill()
        forwarder.wait()


@pytest.mark.host
def test_an_admins_delete_reaches_the_owners_live_view_within_1s(site, docker_client):
    broker = _broker(site, "delete").start()
    root = RemoteSession(broker.socket_path)
    owner = f"{site['names']['bob']}d"
    try:
        root.register_image("ipbt-del", site["image"], description="delete", is_public=True)
        accounts = support.create_accounts({**site, "names": {"bob": owner}}, root)
        bob = accounts["bob"]
        created = support.as_user(site, broker, bob, ("create_container", ["gone"], {"image": "ipbt-del"}))
        container_id = created.ok(0).id
        watcher = support.start_client(
            site["lib"], bob.uid, bob.gid, broker.socket_path, [["watch_for", [4], {}]]
        )
        support.wait_for_line(watcher, "watching")
        admin_watch = root.watch_containers()
        seen: list[tuple[float, object]] = []
        reader = threading.Thread(
            target=lambda: seen.extend((time.monotonic(), c) for c in admin_watch), daemon=True
        )
        reader.start()
        time.sleep(0.3)
        asked = time.monotonic()
        root.delete_container(container_id)
        deleted = time.monotonic()  # the admin's screen says "deleted" now; the owner's must follow
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(
            c.container_id == container_id and c.view is None for _, c in seen
        ):
            time.sleep(0.01)
        admin_watch.close()
        removal = next((at for at, c in seen if c.container_id == container_id and c.view is None), None)
        assert removal is not None, f"no removal reached the live view within 3 s: {[c for _, c in seen]}"
        print(f"\nadmin's delete done -> removal on a live view, {max(0.0, removal - deleted):.2f} s, 1.0 s "
              f"(from the request: {removal - asked:.2f} s)")
        assert removal - deleted <= 1.0
        owner_seen = [
            c for c in support.finish_client(watcher, bob.uid).ok(0) if c.container_id == container_id
        ]
        assert owner_seen and owner_seen[-1].view is None, f"the owner's view ends with {owner_seen[-1:]}"
    finally:
        root.close()
        broker.stop()
        for container in docker_client.containers.list(
            all=True, filters={"label": f"ipynbsrv.owner={owner}"}
        ):
            container.remove(force=True)


@pytest.mark.host
async def test_a_demoted_admins_open_console_drops_the_admin_views_and_others_tokens_within_1s(
    site, docker_client
):
    """Issue 28, bug 2: root revokes bob's admin rights while bob's console (client mode, a real
    broker, bob's own uid) shows alice's notebook and its token; within 1 s the row, its token
    and the admin sections are gone and the header no longer says admin."""
    from ipynbsrv_tui.tui.app import IpynbsrvApp

    broker = _broker(site, "demote").start()
    root = RemoteSession(broker.socket_path)
    names = {"alice": f"{site['names']['alice']}m", "bob": f"{site['names']['bob']}m"}
    connector = None
    sessions = [root]
    try:
        root.register_image("ipbt-demote", site["image"], description="demote", is_public=True)
        accounts = support.create_accounts({**site, "names": names}, root)
        root.set_admin(names["bob"], True)
        hers = root.create_container("hers", "ipbt-demote", owner=names["alice"])
        connector = support.ConnectAs(accounts["bob"].uid, accounts["bob"].gid, broker.socket_path)
        bob = connector.session(broker.socket_path)
        sessions.append(bob)
        assert bob.actor.username == names["bob"] and bob.actor.is_admin
        app = IpynbsrvApp(load_config(broker.config_path), bob)
        async with app.run_test(size=(120, 36)) as pilot:
            await support.seconds_until(pilot, lambda: hers.id in app.book.views, 20)
            app.book.fetch_connection(hers.id)
            await support.seconds_until(pilot, lambda: hers.id in app.book.connections, 10)
            assert app.book.connections[hers.id].token
            assert f"{names['bob']} (admin)" in support.status_line(app)
            assert app.current_mode == "containers"

            root.set_admin(names["bob"], False)
            took = await support.seconds_until(
                pilot,
                lambda: hers.id not in app.book.views and hers.id not in app.book.connections
                and app.current_mode == "notebooks" and "(admin)" not in support.status_line(app),
                1.0,
            )
            print(
                f"\nadmin revoked -> the console dropped the admin views and alice's row, {took:.2f} s, 1.0 s"
            )
            assert {s.mode for s in app.sections}.isdisjoint({"containers", "images", "users"})
            assert not bob.actor.is_admin
            await pilot.press("1")  # the Containers key: refused, not opened
            await pilot.pause(0.1)
            assert app.current_mode == "notebooks"
            await pilot.pause(1.0)  # whatever was loaded, nothing of alice's comes back
            assert all(view.owner != names["alice"] for view in app.book.views.values())
            await pilot.pause(2.0)  # a few health checks and refreshes more
            errors = [n.message for n in app._notifications if n.severity == "error"]
            assert len(errors) == len(set(errors)), f"an error repeated (one toast per refresh): {errors}"
    finally:
        for (
            view
        ) in root.list_containers():  # its owner's name is not the site's: the site's cleanup misses it
            root.delete_container(view.id)
        for session in sessions:
            session.close()
        if connector is not None:
            connector.close()
        broker.stop()
