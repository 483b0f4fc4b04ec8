"""Collaboration end to end (DESIGN §14) on the real engine with a real slapd.

Alice creates group `lab`, adds bob, creates share `thesis` and grants `lab`. Bob, inside his own
notebook container, as his uid, writes /data/shares/thesis/x.txt; alice, inside hers, reads and
changes it; carol (not in `lab`) sees no /data/shares/thesis and gets nothing from the service.
After `lab` is revoked and bob's container restarts, bob no longer has the share (his container's
own files survive the restart). Notifications arrive for each step.

The notebook image is the repository's base-ldap (built here, so its entrypoint is this
checkout's) with `sleep infinity` as the command. The containers are on Docker's bridge and cannot
reach the loopback slapd, so base-ldap falls back to NB_UID / NB_GID after LDAP_WAIT: the ids
still come from the directory (the service passes them), the share groups from NB_GROUPS.
"""

from __future__ import annotations

import secrets
import stat
import textwrap
import time
from pathlib import Path

import pytest

from ipynbsrv_tui import cli
from ipynbsrv_tui.domain import Actor, NotFound
from ipynbsrv_tui.store import close_database
from tests.fixtures.notebook_service import free_port_range

pytestmark = [pytest.mark.docker, pytest.mark.ldap, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Actor("root", 0, True, ())
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def notebook_image(docker_client, base_image, tmp_path_factory):
    """This checkout's base-ldap, plus a registrable child of it running `sleep infinity`."""
    prefix = f"ipynbsrv-test-collab-{secrets.token_hex(3)}"
    folder = tmp_path_factory.mktemp("collab-images")
    config = folder / "config.toml"
    config.write_text(
        f'[database]\npath = "{folder / "ipynbsrv.db"}"\n[broker]\nsocket = '
        f'"{folder / "absent.sock"}"\n[build]\ndockerfiles = "{REPO / "dockerfiles"}"\nbase_image = '
        f'"{base_image}"\nimage_prefix = "{prefix}"\n'
    )
    assert cli.main(["--config", str(config), "images", "build", "base-ldap"]) == 0
    (folder / "child").mkdir()
    (folder / "child" / "Dockerfile").write_text(textwrap.dedent(f"""\
        FROM {prefix}/base-ldap:latest
        LABEL ipynbsrv.registrable="true" ipynbsrv.notebook-port="8888" ipynbsrv.public-ports=""
        CMD ["sleep", "infinity"]
        """))
    tag = f"{prefix}/collab-notebook:latest"
    docker_client.images.build(path=str(folder / "child"), tag=tag, rm=True, network_mode="none")
    yield tag
    for ref in (tag, f"{prefix}/base-ldap:latest"):
        docker_client.images.remove(ref, force=True)


@pytest.fixture
def ldap_service(ldap_directory_config, docker_client, tmp_path):
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.models import Container

    config = ldap_directory_config.replace(
        notebooks={"port_range": free_port_range(), "stop_timeout": 2},
        directory={"gid_range": (3100, 3999)},
    )
    ldap_service = build_service(config)
    yield ldap_service
    for (docker_id,) in Container.select(Container.docker_id).tuples():
        if docker_id:
            try:
                docker_client.api.remove_container(docker_id, force=True)
            except Exception:  # already gone
                pass
    # only this service's restart images (another run on the same engine has its own instance label)
    for image in docker_client.images.list(filters={"label": ["ipynbsrv.kept-from",
                                                              f"ipynbsrv.instance={ldap_service.instance_id}"]}):
        docker_client.images.remove(image.id, force=True)
    close_database()


def run_as(docker_client, docker_id: str, uid: int, gid: int, script: str) -> tuple[int, str]:
    """`sh -c script` inside the container as uid:gid (the engine adds the container's group_add)."""
    result = docker_client.containers.get(docker_id).exec_run(["sh", "-c", script], user=f"{uid}:{gid}")
    return result.exit_code, result.output.decode(errors="replace")


def command_status(docker_client, docker_id: str, timeout: float = 60) -> dict[str, str]:
    """/proc/<pid>/status of the container's command (`sleep infinity`) once it runs as the owner."""
    container = docker_client.containers.get(docker_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Only the command itself: the entrypoint's own `sleep 1` (waiting for LDAP) runs as root.
        code, out = container.exec_run(
            ["sh", "-c", "for p in /proc/[0-9]*; do [ \"$(tr '\\0' ' ' < $p/cmdline)\" = 'sleep infinity ' ] "
                         "&& cat $p/status; done; true"])
        if code == 0 and "Uid:" in out.decode():
            return dict(line.split(":\t", 1) for line in out.decode().splitlines() if ":\t" in line)
        time.sleep(0.5)
    container.reload()
    pytest.fail(f"the command never ran in {container.name}: {container.logs().decode()[-1500:]}")


def test_lab_shares_thesis_and_revoking_it_takes_effect_at_bobs_restart(
    ldap_service, docker_client, notebook_image
):
    ldap_service.register_image(ROOT, "collab", notebook_image, is_public=True)
    ldap_service.create_user(ROOT, "carol", "carol-password")
    alice, bob, carol = (ldap_service.actor_for_username(name) for name in ("alice", "bob", "carol"))

    ldap_service.create_collab_group(alice, "lab")
    ldap_service.add_collab_member(alice, "lab", "bob")
    share = ldap_service.create_share(alice, "thesis", description="the thesis")
    change = ldap_service.grant_share(alice, "thesis", "lab")
    assert change.notified == ("bob",)
    ldap_group = ldap_service.directory.get_group("share-thesis")  # a real posixGroup under group_base
    assert set(ldap_group.members) == {"alice", "bob"} and ldap_group.gid == share.gid
    assert set(ldap_service.directory.get_group("lab").members) == {"alice", "bob"}
    folder = ldap_service.data.share_of("thesis")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2770 and folder.stat().st_gid == share.gid

    views = {
        actor.username: ldap_service.create_container(actor, "nb", "collab") for actor in (alice, bob, carol)
    }
    uids = {
        name: (ldap_service.get_user(ROOT, name).uid, ldap_service.get_user(ROOT, name).gid) for name in views
    }
    statuses = {name: command_status(docker_client, view.docker_id) for name, view in views.items()}
    for name in ("alice", "bob"):
        assert str(share.gid) in statuses[name]["Groups"].split(), statuses[name]
        assert statuses[name]["Uid"].split()[0] == str(uids[name][0])
        assert statuses[name]["Umask"] == "0002"
    assert str(share.gid) not in statuses["carol"]["Groups"].split()

    code, out = run_as(docker_client, views["bob"].docker_id, *uids["bob"],
                       "echo from bob > /data/shares/thesis/x.txt && echo mine > /data/mine.txt && id -G")
    assert code == 0, out
    code, out = run_as(docker_client, views["alice"].docker_id, *uids["alice"],
                       "cat /data/shares/thesis/x.txt && echo changed by alice >> /data/shares/thesis/x.txt")
    assert (code, out) == (0, "from bob\n")
    written = folder / "x.txt"
    assert written.read_text() == "from bob\nchanged by alice\n"
    info = written.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uids["bob"][0], share.gid, 0o660)

    code, out = run_as(docker_client, views["carol"].docker_id, *uids["carol"],
                       "ls -A /data/shares; test -e /data/shares/thesis && echo visible")
    assert code != 0 or "visible" not in out
    assert "thesis" not in out
    assert ldap_service.list_shares(carol) == []
    with pytest.raises(NotFound):
        ldap_service.get_share(carol, "thesis")

    revoked = ldap_service.revoke_share(alice, "thesis", "lab")
    assert revoked.restart_needed == ("bob/nb",) and "restart" in revoked.note
    code, out = run_as(docker_client, views["bob"].docker_id, *uids["bob"], "cat /data/shares/thesis/x.txt")
    assert code == 0  # a running container keeps what it had until its next start (the UI says so)
    restarted = ldap_service.restart_container(bob, views["bob"].id)
    assert restarted.docker_id != views["bob"].docker_id  # made again with the new share mounts
    status = command_status(docker_client, restarted.docker_id)
    assert str(share.gid) not in status["Groups"].split()
    code, out = run_as(docker_client, restarted.docker_id, *uids["bob"],
                       "cat /data/mine.txt; ls -A /data/shares; test -e /data/shares/thesis && echo visible")
    assert out.startswith("mine\n") and "visible" not in out and "thesis" not in out
    assert [s.name for s in ldap_service.list_shares(bob)] == []

    # The share and its revoke are one notice about the share, as it is now (issue 20 item 3)
    inbox = [(n.message, n.repeats) for n in ldap_service.list_notifications(bob)]
    assert inbox[:2] == [
        ("alice revoked lab's access to the share thesis.", 2),
        ("bob joined lab (added by alice).", 1),
    ]


def test_a_kept_shares_files_never_reach_the_next_share_of_that_name(
    ldap_service, docker_client, notebook_image
):
    """Issue 20.1: alice's kept `oldproj` is out of the namespace, its gid is not handed out again,
    and carol's new `oldproj` and alice's still-running notebook never see each other's files."""
    ldap_service.register_image(ROOT, "collab", notebook_image, is_public=True)
    ldap_service.create_user(ROOT, "carol", "carol-password")
    alice, carol = (ldap_service.actor_for_username(name) for name in ("alice", "carol"))
    uids = {
        name: (ldap_service.get_user(ROOT, name).uid, ldap_service.get_user(ROOT, name).gid)
        for name in ("alice", "carol")
    }

    old = ldap_service.create_share(alice, "oldproj")
    mine = ldap_service.create_container(alice, "nb", "collab")
    assert str(old.gid) in command_status(docker_client, mine.docker_id)["Groups"].split()
    code, out = run_as(
        docker_client,
        mine.docker_id,
        *uids["alice"],
        "echo alice-secret > /data/shares/oldproj/secret.txt && chmod 660 /data/shares/oldproj/secret.txt",
    )
    assert code == 0, out

    report = ldap_service.delete_share(alice, "oldproj", data="keep")
    assert report.restart_needed == ("alice/nb",)
    kept = {view.path: view for view in ldap_service.list_kept(ROOT)}[report.kept]
    assert kept.ids == (f"gid {old.gid}",)

    new = ldap_service.create_share(carol, "oldproj")
    assert new.gid != old.gid
    assert list(ldap_service.data.share_of("oldproj").iterdir()) == []
    theirs = ldap_service.create_container(carol, "nb", "collab")
    command_status(docker_client, theirs.docker_id)
    code, out = run_as(docker_client, theirs.docker_id, *uids["carol"],
                       "echo carol-note > /data/shares/oldproj/note.txt && ls -A /data/shares/oldproj && "
                       "cat /data/shares/oldproj/secret.txt")
    lines = out.splitlines()  # stdout and stderr interleave in either order
    assert code != 0 and "note.txt" in lines and "secret.txt" not in lines and "alice-secret" not in out, out
    # the other way: alice's running notebook keeps the mount of the folder moved aside (root's 0700
    # now, so not even her old files), never carol's new folder
    code, out = run_as(docker_client, mine.docker_id, *uids["alice"],
                       "ls -A /data/shares/oldproj; cat /data/shares/oldproj/note.txt; "
                       "echo more > /data/shares/oldproj/more.txt")
    assert code != 0 and "Permission denied" in out and "carol-note" not in out and "note.txt\n" not in out, (
        out
    )
    assert sorted(p.name for p in Path(report.kept).iterdir()) == ["secret.txt"]
    with pytest.raises(NotFound):
        ldap_service.get_share(alice, "oldproj")

    # at its next start her notebook loses the mount (made again without it)
    restarted = ldap_service.restart_container(alice, mine.id)
    status = command_status(docker_client, restarted.docker_id)
    assert str(old.gid) not in status["Groups"].split() and str(new.gid) not in status["Groups"].split()
    code, out = run_as(docker_client, restarted.docker_id, *uids["alice"],
                       "ls -A /data/shares; cat /data/shares/oldproj/note.txt")
    assert "carol-note" not in out and not any(line == "oldproj" for line in out.splitlines()), out

    # the restart image is named under [build] image_prefix and labelled; reconcile removes leftovers only
    prefix = ldap_service.config.build.image_prefix
    assert restarted.image_ref.startswith(f"{prefix}-keep/alice-{mine.id}:")
    labels = docker_client.images.get(restarted.image_ref).labels
    assert (
        labels["ipynbsrv.kept-from"] == str(mine.id)
        and labels["ipynbsrv.instance"] == ldap_service.instance_id
    )
    leftover = f"{prefix}-keep/alice-{mine.id}:1"
    docker_client.api.commit(restarted.docker_id, *leftover.split(":"))  # a crash between commit and use
    report = ldap_service.reconcile(ROOT)
    assert f"removed the leftover restart image {leftover}" in report.repaired
    assert docker_client.images.get(restarted.image_ref)  # still used by alice's notebook
