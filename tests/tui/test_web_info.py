"""The details panel shows the web address when web access is on, the ssh -L command otherwise (DESIGN
§16)."""

from __future__ import annotations

from rich.console import Console

from ipynbsrv_tui.domain import ConnectionInfo, ContainerState
from ipynbsrv_tui.tui.widgets.containerinfo import render_info
from tests.tui.conftest import fixed_view


def rendered(web_url: str) -> str:
    view = fixed_view(1, "alice", "thesis", ContainerState.RUNNING)
    info = ConnectionInfo(view.url or "", view.token or "", view.host_port,
                          f"ssh -N -L {view.host_port}:127.0.0.1:{view.host_port} alice@host",
                          f"http://127.0.0.1:{view.host_port}/user/alice/thesis/", web_url)
    console = Console(width=200, record=True)
    console.print(render_info(view, info, None))
    return console.export_text()


def test_with_web_access_the_panel_shows_the_web_address_and_no_tunnel():
    text = rendered("https://nb.example.org/user/alice/thesis/")
    assert "Web       https://nb.example.org/user/alice/thesis/" in text
    assert "Tunnel" not in text and "ssh -N -L" not in text


def test_without_web_access_the_panel_shows_the_ssh_tunnel():
    text = rendered("")
    assert "Tunnel    ssh -N -L 49152:127.0.0.1:49152 alice@host" in text
    assert "Web " not in text
