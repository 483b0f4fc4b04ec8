"""Backups and self-service restore (DESIGN §17) with the real restic, a repository in a temp folder,
the local directory and real uids on the files (the tests run as root, as the broker does)."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ipynbsrv_tui.backup.plan import next_run, password_file_problem
from ipynbsrv_tui.domain import BackupError, Conflict, NotAuthorized, NotFound, ValidationError
from ipynbsrv_tui.store import close_database
from ipynbsrv_tui.store.models import Notification, NotificationRecipient, Setting, User
from tests.fixtures.backups import VersionedRecordingEngine, backup_config
from tests.fixtures.recorded_service import ROOT

pytestmark = [
    pytest.mark.skipif(
        shutil.which("restic") is None, reason="restic is not installed (apt-get install restic)"
    ),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="restores give files to other uids: run as root, as the broker does"
    ),
    pytest.mark.slow,  # a real restic repository: seconds per test
]


@pytest.fixture
def backup_service(tmp_path):
    from ipynbsrv_tui.service import build_service

    engine = VersionedRecordingEngine()
    backup_service = build_service(backup_config(tmp_path), engine_factory=lambda: engine)
    yield backup_service
    close_database()


@pytest.fixture
def people(backup_service):
    for name in ("alice", "bob", "carol"):
        backup_service.create_user(ROOT, name, f"{name}-password")
    return {name: backup_service.actor_for_username(name) for name in ("alice", "bob", "carol")}


def _home(backup_service, name):
    return backup_service.data.home_of(name)


def _write(path, text, owner):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    row = User.get(User.username == owner)
    os.chown(path, row.uid, row.gid)


@pytest.fixture
def backed_up(backup_service, people):
    """alice has a notebook and a folder, bob a secret; the lab share (alice, bob) a report; one run."""
    alice_home = _home(backup_service, "alice")
    _write(alice_home / "analysis.ipynb", '{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
           "alice")
    _write(alice_home / "data" / "numbers.csv", "1,2,3\n", "alice")
    _write(_home(backup_service, "bob") / "secret.txt", "bob's secret\n", "bob")
    backup_service.create_collab_group(people["alice"], "lab")
    backup_service.add_collab_member(people["alice"], "lab", "bob")
    share = backup_service.create_share(people["alice"], "thesis")
    backup_service.grant_share(people["alice"], "thesis", "lab")
    (backup_service.data.share_of("thesis") / "report.md").write_text("# report\n")
    backup_service.backup_init(ROOT)
    report = backup_service.backup_run(ROOT)
    assert report.snapshot and report.files_new >= 4
    return share


def test_config_and_init_refuse_what_cannot_work(tmp_path, backup_service, people):
    assert password_file_problem(backup_service.config.backup.password_file) is None
    os.chmod(backup_service.config.backup.password_file, 0o644)
    assert "chmod 600" in password_file_problem(backup_service.config.backup.password_file)
    with pytest.raises(BackupError, match="others can read it"):
        backup_service.backup_init(ROOT)
    os.chmod(backup_service.config.backup.password_file, 0o600)
    with pytest.raises(NotAuthorized):
        backup_service.backup_init(people["alice"])
    assert not (tmp_path / "repo").exists()
    backup_service.backup_init(ROOT)
    assert (tmp_path / "repo" / "config").is_file()
    with pytest.raises(BackupError, match="exists already"):
        backup_service.backup_init(ROOT)


def test_alice_restores_her_deleted_notebook_as_her_own_file(backup_service, people, backed_up):
    alice = people["alice"]
    notebook = _home(backup_service, "alice") / "analysis.ipynb"
    original = notebook.read_text()
    notebook.unlink()
    snapshots = backup_service.backup_snapshots(alice)
    assert len(snapshots) == 1
    listed = backup_service.backup_files(alice, "latest", "/home/alice")
    assert {e.name for e in listed} == {"analysis.ipynb", "data"}
    assert [e.path for e in backup_service.backup_files(alice, snapshots[0].short_id, "")] == [
        "/home/alice",
        "/data/shares/thesis",
    ]
    result = backup_service.backup_restore(alice, "/home/alice/analysis.ipynb")
    name = snapshots[0].time.strftime("%Y-%m-%d_%H%M%S")
    assert result.target == f"/home/alice/restored/{name}/analysis.ipynb"
    restored = _home(backup_service, "alice") / "restored" / name / "analysis.ipynb"
    assert restored.read_text() == original
    row = User.get(User.username == "alice")
    for path in (restored, restored.parent, restored.parent.parent):
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (row.uid, row.gid)
    # again: never over the first restore
    again = backup_service.backup_restore(alice, "analysis.ipynb", snapshots[0].id)
    assert again.target == f"/home/alice/restored/{name}-2/analysis.ipynb"
    assert restored.read_text() == original
    # a folder, by ~ path
    folder = backup_service.backup_restore(alice, "~/data")
    assert folder.files == 1 and folder.target.endswith("/data")


def test_bob_sees_nothing_of_alice_by_any_path(backup_service, people, backed_up):
    bob, alice = people["bob"], people["alice"]
    refused = []
    for path in ("/home/alice", "/home/alice/analysis.ipynb", "/home/bob/../alice/analysis.ipynb",
                 "/home/ali", "/home/alice2", "/data/shares/nothere", "/srv", str(backup_service.data.root),
                 str(_home(backup_service, "alice")), "/home//alice/analysis.ipynb", "/home/./alice"):
        for call in (
            lambda p: backup_service.backup_files(bob, "latest", p),
            lambda p: backup_service.backup_restore(bob, p),
        ):
            with pytest.raises((NotFound, ValidationError)) as caught:
                call(path)
            refused.append(str(caught.value))
    nothing = {m for m in refused if m.startswith("Nothing at")}
    assert all(m.endswith("in the backups you can see.") for m in nothing)
    missing_for_alice = pytest.raises(NotFound)
    with missing_for_alice as own_missing:
        backup_service.backup_files(alice, "latest", "/home/alice/no-such-file")
    with pytest.raises(NotFound) as bobs_view:
        backup_service.backup_files(bob, "latest", "/home/alice/analysis.ipynb")
    assert str(own_missing.value).replace("/home/alice/no-such-file", "X") == \
        str(bobs_view.value).replace("/home/alice/analysis.ipynb", "X")
    for snapshot in ("deadbeef", "-v", "latest; ls", "../x", ""):
        with pytest.raises(NotFound):
            backup_service.backup_files(bob, snapshot, "/home/bob")
    assert not (_home(backup_service, "bob") / "restored").exists()
    assert [e.path for e in backup_service.backup_files(bob, "latest")] == [
        "/home/bob",
        "/data/shares/thesis",
    ]


def test_share_members_restore_and_lose_it_with_membership(backup_service, people, backed_up):
    bob, carol, alice = people["bob"], people["carol"], people["alice"]
    with pytest.raises(NotFound):
        backup_service.backup_files(carol, "latest", "/data/shares/thesis")
    assert [e.name for e in backup_service.backup_files(bob, "latest", "/data/shares/thesis")] == [
        "report.md"
    ]
    result = backup_service.backup_restore(bob, "/data/shares/thesis/report.md")
    restored = backup_service.data.share_of("thesis") / result.target.removeprefix("/data/shares/thesis/")
    assert restored.read_text() == "# report\n"
    assert restored.stat().st_gid == backed_up.gid
    assert restored.parent.stat().st_mode & stat.S_ISGID
    backup_service.remove_collab_member(alice, "lab", "bob")
    bob = backup_service.actor_for_username("bob")
    with pytest.raises(NotFound):
        backup_service.backup_files(bob, "latest", "/data/shares/thesis")
    with pytest.raises(NotFound):
        backup_service.backup_restore(bob, "/data/shares/thesis/report.md")


def test_symlinks_are_restored_as_links_never_their_targets(backup_service, people, backed_up, tmp_path):
    alice = people["alice"]
    home = _home(backup_service, "alice")
    os.symlink("/etc/shadow", home / "shadow-link")
    os.symlink(str(_home(backup_service, "bob") / "secret.txt"), home / "bobs-secret")
    os.symlink("../bob", home / "up")
    backup_service.backup_run(ROOT)
    for name, target in (
        ("shadow-link", "/etc/shadow"),
        ("bobs-secret", str(_home(backup_service, "bob") / "secret.txt")),
        ("up", "../bob"),
    ):
        result = backup_service.backup_restore(alice, f"/home/alice/{name}")
        landed = home / result.target.removeprefix("/home/alice/")
        assert landed.is_symlink() and os.readlink(landed) == target
        assert landed.lstat().st_uid == User.get(User.username == "alice").uid
    # ~/restored replaced by a link to somewhere else: refused, nothing written there
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(home / "restored")
    os.symlink(elsewhere, home / "restored")
    with pytest.raises(Conflict, match="not a folder"):
        backup_service.backup_restore(alice, "/home/alice/analysis.ipynb")
    assert list(elsewhere.iterdir()) == []
    # a link inside ~/restored with the name a restore would take: left alone, the restore goes beside it
    os.unlink(home / "restored")
    (home / "restored").mkdir()
    snapshot = backup_service.backup_snapshots(alice)[0]
    taken = home / "restored" / snapshot.time.strftime("%Y-%m-%d_%H%M%S")
    os.symlink(elsewhere, taken)
    result = backup_service.backup_restore(alice, "/home/alice/analysis.ipynb", snapshot.id)
    assert (
        result.target.endswith("-2/analysis.ipynb") and taken.is_symlink() and list(elsewhere.iterdir()) == []
    )


def test_a_file_named_like_a_pattern_restores_only_itself(backup_service, people, backed_up):
    alice = people["alice"]
    home = _home(backup_service, "alice")
    _write(home / "a*", "star\n", "alice")
    _write(home / "ab", "not me\n", "alice")
    backup_service.backup_run(ROOT)
    result = backup_service.backup_restore(alice, "/home/alice/a*")
    folder = home / result.target.removeprefix("/home/alice/")
    assert folder.read_text() == "star\n"
    assert sorted(p.name for p in folder.parent.iterdir()) == ["a*"]


def test_a_failed_run_is_reported_and_loses_no_snapshot(tmp_path, backup_service, people, backed_up):
    from ipynbsrv_tui.service import build_service

    before = backup_service.backup_snapshots(ROOT)
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not the password\n")
    os.chmod(wrong, 0o600)
    close_database()
    broken = build_service(
        backup_config(tmp_path, password_file=str(wrong)), engine_factory=VersionedRecordingEngine
    )
    with pytest.raises(BackupError, match="wrong password"):
        broken.backup_run(ROOT)
    status = broken.backup_status(ROOT)
    assert "wrong password" in status.last_error
    assert "backup failed" in broken.health(ROOT).backup_problem
    assert broken.health(people["alice"]).backup_problem == ""
    alice_row = User.get(User.username == "alice")
    admin_notes = [n.message for n in Notification.select().where(Notification.target == "backup")]
    assert any("wrong password" in m for m in admin_notes)
    assert not NotificationRecipient.select().where(NotificationRecipient.user == alice_row).exists()
    unreachable = build_service(
        backup_config(tmp_path, repository=str(tmp_path / "gone")), engine_factory=VersionedRecordingEngine
    )
    with pytest.raises(BackupError, match="backup init"):
        unreachable.backup_run(ROOT)
    good = build_service(backup_config(tmp_path), engine_factory=VersionedRecordingEngine)
    assert [s.id for s in good.backup_snapshots(ROOT)] == [s.id for s in before]
    good.backup_run(ROOT)
    assert good.backup_status(ROOT).last_error == ""


def test_late_backups_flag_the_header_and_tell_admins_once(backup_service, people, backed_up):
    later = datetime.now(UTC) + timedelta(hours=27)
    assert backup_service.backup_watch(ROOT, later).late
    backup_service.backup_watch(ROOT, later)
    notes = [n.message for n in Notification.select().where(Notification.target == "backup")]
    assert len([m for m in notes if m.startswith("Backups are late")]) == 1
    assert not backup_service.backup_watch(ROOT).late
    assert Setting.get(Setting.key == "backup.late_noted").value == ""


def test_schedule_and_database_copy(backup_service, people, backed_up):
    after = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert next_run("daily 02:30", after) == datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
    assert next_run("daily 04:00", after) == datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
    assert next_run("every 6 hours", after) == after + timedelta(hours=6)
    assert not backup_service.backup_due()
    copy = backup_service.data.root / ".backup" / "database" / "ipynbsrv.db"
    import sqlite3

    with sqlite3.connect(copy) as db:
        names = {row[0] for row in db.execute("select username from user")}
    assert {"alice", "bob", "carol"} <= names
    with pytest.raises(NotFound):  # the folder of all homes is nobody's: admins browse home by home
        backup_service.backup_files(ROOT, "latest", "/home")
    assert [e.path for e in backup_service.backup_files(ROOT, "latest")] == [
        "/home/alice", "/home/bob", "/home/carol", "/data/shares/thesis"]


def _repository_bytes(backup_service) -> int:
    return sum(
        path.stat().st_size
        for path in Path(backup_service.config.backup.repository).rglob("*")
        if path.is_file()
    )


def test_a_daily_run_is_one_restic_backup_and_the_weekly_one_applies_retention_and_frees_space(
    backup_service, people, backed_up, monkeypatch,
):
    """DESIGN §12: an incremental run costs one `restic backup` (a `forget` after every run was a
    second restic process, about half a bare incremental backup, and freed nothing before a prune).
    The weekly run forgets and prunes in one process, then checks."""
    from ipynbsrv_tui.backup.restic import Restic

    commands: list[str] = []
    original = Restic.run

    def recorded(self, args, *rest, **kwargs):
        commands.append(" ".join(a for a in args if a in ("backup", "forget", "--prune", "prune", "check")))
        return original(self, args, *rest, **kwargs)

    monkeypatch.setattr(Restic, "run", recorded)
    big = _home(backup_service, "alice") / "big.bin"
    big.write_bytes(os.urandom(4 << 20))
    report = backup_service.backup_run(ROOT)
    assert commands == ["backup"]
    assert report.forgotten == 0 and not report.checked  # the fixture's run was the week's maintenance
    big.unlink()
    backup_service.backup_run(ROOT)
    assert len(backup_service.backup_snapshots(ROOT)) == 3  # nothing forgotten between the weekly runs
    with_forgotten = _repository_bytes(backup_service)
    assert with_forgotten > 4 << 20
    Setting.update(value=(datetime.now(UTC) - timedelta(days=8)).isoformat()).where(
        Setting.key == "backup.last_check").execute()
    commands.clear()
    report = backup_service.backup_run(ROOT)
    assert commands == ["backup", "forget --prune", "check"]
    assert report.checked and report.forgotten == 3  # keep_daily keeps the day's newest snapshot only
    assert len(backup_service.backup_snapshots(ROOT)) == 1
    assert _repository_bytes(backup_service) < with_forgotten - (
        3 << 20
    )  # the prune freed the big file's data
    assert sorted(e.name for e in backup_service.backup_files(people["alice"], "latest", "~")) == [
        "analysis.ipynb",
        "data",
    ]


def test_the_broker_runs_a_due_backup_in_its_own_thread(backup_service, people):
    import threading
    import time

    from ipynbsrv_tui.broker.background import BackgroundLoops

    _write(_home(backup_service, "alice") / "notes.txt", "scheduled\n", "alice")
    backup_service.backup_init(ROOT)
    assert not backup_service.backup_due()  # daily 02:30: not before the next 02:30
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    Setting.insert(key="backup.enabled_since", value=past).on_conflict_replace().execute()
    assert backup_service.backup_due()
    loops = BackgroundLoops(backup_service, backup_service.config, ROOT, threading.Event())
    thread = threading.Thread(target=loops._guarded, args=(loops._backup_loop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not Setting.get_or_none(Setting.key == "backup.last_success") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        loops.stop_event.set()
        thread.join(timeout=10)
    assert [e.name for e in backup_service.backup_files(people["alice"], "latest", "~")] == ["notes.txt"]
    assert not backup_service.backup_due() and backup_service.backup_status(ROOT).last_error == ""


@pytest.mark.host
def test_through_the_broker_alice_restores_her_file_and_bob_gets_nothing():
    """The real broker as root, alice and bob as OS accounts: their uids (SO_PEERCRED) decide."""
    import secrets

    from ipynbsrv_tui.broker.client import RemoteSession
    from tests.integration import broker_support as support

    if not os.path.exists(support.SYSTEM_PYTHON):
        pytest.skip(f"{support.SYSTEM_PYTHON} is needed to run clients as other uids")
    folder = support.world_readable_dir("ipynbsrv-test-backup-")
    accounts, broker, root = [], None, None
    try:
        lib = support.copy_client_package(folder)
        config = support.write_config(
            folder, port_range=support.free_port_range(), uid_range=support.free_uid_range()
        )
        password = folder / "state" / "restic-password"
        password.write_text("broker test\n")
        os.chmod(password, 0o600)
        with config.open("a") as out:
            out.write(
                f'[backup]\nenabled = true\nrepository = "{folder / "repo"}"\npassword_file = "{password}"\n'
            )
        broker = support.BrokerProcess(
            config, str(folder / "run" / "broker.sock"), folder / "broker.log"
        ).start()
        root = RemoteSession(broker.socket_path)
        suffix = secrets.token_hex(3)
        alice_name, bob_name = f"ipbk{suffix}a", f"ipbk{suffix}b"
        for name in (alice_name, bob_name):
            view = root.create_user(name, "correct horse battery")
            accounts.append(support.add_os_account(name, view.uid))
        alice, bob = accounts
        notebook = folder / "data" / "homes" / alice_name / "notes.ipynb"
        notebook.write_text("{}")
        os.chown(notebook, alice.uid, alice.gid)
        root.backup_init()
        root.backup_run()
        notebook.unlink()
        seen = support.run_client(lib, alice.uid, alice.gid, broker.socket_path, [
            ["backup_files", ["latest", ""], {}], ["backup_restore", ["~/notes.ipynb"], {}]])
        assert [e.path for e in seen.ok(0)] == [f"/home/{alice_name}"]
        result = seen.ok(1)
        landed = folder / "data" / "homes" / alice_name / result.target.removeprefix(f"/home/{alice_name}/")
        assert landed.read_text() == "{}" and landed.stat().st_uid == alice.uid
        refused = support.run_client(lib, bob.uid, bob.gid, broker.socket_path, [
            ["backup_files", ["latest", f"/home/{alice_name}"], {}],
            ["backup_restore", [f"/home/{alice_name}/notes.ipynb"], {}],
            ["backup_run", [], {}]])
        assert [refused.error(i)["type"] for i in range(3)] == ["NotFound", "NotFound", "NotAuthorized"]
        assert refused.error(0)["message"] == f"Nothing at '/home/{alice_name}' in the backups you can see."
    finally:
        if root is not None:
            root.close()
        if broker is not None:
            assert broker.stop() == 0
        for account in accounts:
            support.remove_os_account(account.name)
        shutil.rmtree(folder, ignore_errors=True)


def test_disaster_recovery_brings_back_database_homes_and_shares(
    tmp_path, backup_service, people, backed_up, capsys
):
    from ipynbsrv_tui import cli
    from ipynbsrv_tui.service import build_service

    config = backup_service.config
    toml = tmp_path / "config.toml"
    toml.write_text(
        f'[database]\npath = "{config.database.resolved_path}"\n[data]\nroot = "{config.data.root}"\n'
        f'[backup]\nenabled = true\nrepository = "{config.backup.repository}"\n'
        f'password_file = "{config.backup.password_file}"\n'
    )
    alice = User.get(User.username == "alice")
    share_gid = backed_up.gid
    close_database()
    shutil.rmtree(config.data.root)
    for suffix in ("", "-wal", "-shm"):
        Path(str(config.database.resolved_path) + suffix).unlink(missing_ok=True)

    assert cli.main(["--config", str(toml), "backup", "restore-installation"]) == 0
    assert "Restored snapshot" in capsys.readouterr().out
    home = Path(config.data.root) / "homes" / "alice"
    notebook = home / "analysis.ipynb"
    assert notebook.read_text().startswith('{"cells"')
    assert (notebook.stat().st_uid, notebook.stat().st_gid) == (alice.uid, alice.gid)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    share = Path(config.data.root) / "shares" / "thesis"
    assert (share / "report.md").read_text() == "# report\n"
    assert share.stat().st_gid == share_gid and share.stat().st_mode & stat.S_ISGID
    back = build_service(config, engine_factory=VersionedRecordingEngine)
    assert {u.username for u in back.list_users(ROOT)} >= {"alice", "bob", "carol"}
    assert back.get_share(back.actor_for_username("bob"), "thesis").members == ("alice", "bob")
    close_database()
    # a second run would replace what is there now: refused, one line
    assert cli.main(["--config", str(toml), "backup", "restore-installation"]) == 2
    assert "exists already" in capsys.readouterr().err


@pytest.fixture
def sshd(tmp_path):
    """A real sshd on a free loopback port that lets root in with a key made here (and sftp)."""
    import socket
    import subprocess
    import time

    if shutil.which("sshd", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("sshd is not installed (apt-get install openssh-server)")
    folder = tmp_path / "sshd"
    folder.mkdir()
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\nPidFile "
        f"{folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\nPermitRootLogin "
        "prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM "
        "no\nStrictModes no\nSubsystem sftp internal-sftp\n"
    )
    privsep = Path("/run/sshd")
    made_privsep = not privsep.exists()
    privsep.mkdir(mode=0o755, exist_ok=True)
    process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(folder / "sshd_config")],
                               stdout=subprocess.DEVNULL, stderr=open(folder / "sshd.log", "wb"))
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"sshd did not start: {(folder / 'sshd.log').read_text()}")
        time.sleep(0.05)
    command = (
        f"ssh -p {port} -i {folder / 'client_key'} -o StrictHostKeyChecking=no -o "
        "UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes root@127.0.0.1 -s sftp"
    )
    yield process, command
    if process.poll() is None:
        process.terminate()
        process.wait(10)
    if made_privsep:
        shutil.rmtree(privsep, ignore_errors=True)


def test_a_repository_on_sftp_backs_up_and_restores_and_a_lost_host_is_reported(tmp_path, sshd):
    from ipynbsrv_tui.service import build_service

    process, command = sshd
    config = backup_config(
        tmp_path, repository=f"sftp:root@127.0.0.1:{tmp_path / 'remote-repo'}", ssh_command=command
    )
    backup_service = build_service(config, engine_factory=VersionedRecordingEngine)
    backup_service.create_user(ROOT, "alice", "alice-password")
    _write(_home(backup_service, "alice") / "remote.txt", "over sftp\n", "alice")
    backup_service.backup_init(ROOT)
    assert (tmp_path / "remote-repo" / "config").is_file()
    backup_service.backup_run(ROOT)
    (_home(backup_service, "alice") / "remote.txt").unlink()
    result = backup_service.backup_restore(backup_service.actor_for_username("alice"), "~/remote.txt")
    assert (
        _home(backup_service, "alice") / result.target.removeprefix("/home/alice/")
    ).read_text() == "over sftp\n"
    process.terminate()
    process.wait(10)
    with pytest.raises(BackupError):
        backup_service.backup_run(ROOT)
    assert backup_service.backup_status(ROOT).last_error.startswith("restic backup on sftp:")
    assert Notification.select().where(Notification.target == "backup").exists()


def test_the_command_line_lists_browses_and_restores_and_admins_restore_a_whole_home(
        tmp_path, backup_service, people, backed_up, capsys):
    import json

    from ipynbsrv_tui import cli

    config = backup_service.config
    toml = tmp_path / "config.toml"
    toml.write_text(
        f'[database]\npath = "{config.database.resolved_path}"\n[data]\nroot = "{config.data.root}"\n'
        f'[backup]\nenabled = true\nrepository = "{config.backup.repository}"\n'
        f'password_file = "{config.backup.password_file}"\n'
    )

    def run(*words):
        code = cli.main(["--config", str(toml), "backup", *words])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _ = run("list", "--json")
    [snapshot] = json.loads(out)
    assert code == 0 and snapshot["short_id"] in run("list")[1]
    code, out, _ = run("files", snapshot["short_id"], "/home/alice/data", "--json")
    assert [e["path"] for e in json.loads(out)] == ["/home/alice/data/numbers.csv"]
    (_home(backup_service, "alice") / "analysis.ipynb").unlink()
    code, out, _ = run("restore", "/home/alice/analysis.ipynb", "--snapshot", snapshot["short_id"])
    assert code == 0 and "to /home/alice/restored/" in out
    [landed] = (_home(backup_service, "alice") / "restored").glob("*/analysis.ipynb")
    assert landed.stat().st_uid == User.get(User.username == "alice").uid
    code, out, _ = run("status")
    assert code == 0 and "last success:" in out
    # a whole home, by an admin (root runs the command line embedded here): its content, bob's own
    code, out, _ = run("restore", "/home/bob", "--json")
    result = json.loads(out)
    assert result["target"].startswith("/home/bob/restored/") and result["files"] == 1
    whole = _home(backup_service, "bob") / result["target"].removeprefix("/home/bob/")
    assert (whole / "secret.txt").read_text() == "bob's secret\n"
    assert whole.stat().st_uid == User.get(User.username == "bob").uid
    code, _, err = run("files", "latest", "/home/nobody")
    assert code == 2 and err.strip() == "ipynbsrv-tui: Nothing at '/home/nobody' in the backups you can see."
    with pytest.raises(ValidationError, match="restored by an admin"):
        backup_service.backup_restore(people["alice"], "/home/alice")
