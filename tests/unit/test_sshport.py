"""The `ssh -L` line names the port users reach this host's sshd on (issue 22, item 7)."""

from __future__ import annotations

import pytest

from ipynbsrv_tui.config import Config, ConfigError, load_config
from ipynbsrv_tui.domain import Actor
from ipynbsrv_tui.service.sshport import login_ssh_port, ssh_port_option
from ipynbsrv_tui.store import close_database
from tests.unit.fake_engine import RecordingEngine

ROOT = Actor("root", 0, True, ())


def test_a_configured_port_is_used_as_it_is(tmp_path):
    assert login_ssh_port(2222, tmp_path / "absent") == 2222
    assert ssh_port_option(22) == "" and ssh_port_option(2222) == " -p 2222"


def test_zero_reads_the_first_port_of_sshd_config_through_its_include_files(tmp_path):
    (tmp_path / "sshd_config.d").mkdir()
    (tmp_path / "sshd_config.d" / "10-site.conf").write_text("# site\nPort 2200\n")
    (tmp_path / "sshd_config.d" / "20-other.conf").write_text("Port 2300\n")
    config = tmp_path / "sshd_config"
    config.write_text(f"Include {tmp_path}/sshd_config.d/*.conf\n#Port 22\nPort 2100\n")
    assert login_ssh_port(0, config) == 2200  # sshd takes the first value it reads
    config.write_text("#Port 2000\nPasswordAuthentication no\nMatch User bob\n    Port 2400\n")
    assert login_ssh_port(0, config) == 22  # none outside a Match block: sshd's default
    assert login_ssh_port(0, tmp_path / "absent") == 22


def test_the_tunnel_command_carries_the_configured_port(tmp_path):
    from ipynbsrv_tui.service import build_service

    engine = RecordingEngine()
    config = Config().replace(
        database={"path": str(tmp_path / "state" / "ipynbsrv.db")},
        data={"root": str(tmp_path / "data")},
        notebooks={"port_range": (45100, 45160), "ssh_port": 2222, "public_host": "login.example.org"},
    )
    service = build_service(config, engine_factory=lambda: engine)
    try:
        service.register_image(ROOT, "tiny", "ipynbsrv-test/tiny:latest", is_public=True)
        service.create_user(ROOT, "alice", "alice-password")
        alice = service.actor_for_username("alice")
        view = service.create_container(alice, "nb", "tiny")
        info = service.connection_info(alice, view.id)
        port = view.host_port
        assert info.tunnel_command == f"ssh -N -p 2222 -L {port}:127.0.0.1:{port} alice@login.example.org"
    finally:
        close_database()


def test_ssh_port_out_of_range_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[notebooks]\nssh_port = 70000\n")
    with pytest.raises(ConfigError, match="ssh_port"):
        load_config(path)
