"""What `check-config` verifies about [web] beyond the types: nginx, the port, the certificate."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from ..config import Config
from ..domain import ConfigError
from ..validation import split_listen
from .certs import check_pair
from .gateway import STREAM_HINT, find_nginx, find_stream_module, runtime_folder
from .probe import answers


def check_web(config: Config) -> list[tuple[str, str]]:
    """("error" | "warning", one line saying what to do) for each problem; [] when web access is off or
    fine."""
    web = config.web
    if not web.enabled:
        return []
    problems: list[tuple[str, str]] = []
    binary = find_nginx()
    if binary is None:
        problems.append(
            ("error", "[web] enabled but nginx is not installed: apt-get install nginx libnginx-mod-stream.")
        )
    elif find_stream_module(binary) is None:
        problems.append(
            (
                "error",
                f"[web] enabled but nginx has no stream module (it caps connections per address): "
                f"{STREAM_HINT}.",
            )
        )
    host, port_text = split_listen(web.listen)
    port = int(port_text)
    if port < 1024 and os.geteuid() != 0:
        problems.append(
            ("warning", f"[web] listen port {port} needs root: run `ipynbsrv-tui serve` as root.")
        )
    if not _port_free(host, port) and not _ours(config):
        problems.append(
            (
                "error",
                f"[web] listen {web.listen} is in use by another program. Stop it or choose "
                'another port (e.g. listen = "0.0.0.0:8443").',
            )
        )
    if web.tls_cert or web.tls_key:
        if not (web.tls_cert and web.tls_key):
            problems.append(
                ("error", "[web] needs both tls_cert and tls_key, or neither (a self-signed pair).")
            )
        else:
            try:
                check_pair(web.tls_cert, web.tls_key)
            except ConfigError as exc:
                problems.append(("error", str(exc)))
    else:
        problems.append(
            (
                "warning",
                "[web] has no tls_cert: the broker makes a self-signed certificate and browsers "
                "will warn. Set tls_cert and tls_key (e.g. from Let's Encrypt) for real use.",
            )
        )
        if shutil.which("openssl") is None:
            problems.append(
                (
                    "error",
                    "[web] has no tls_cert and the openssl command is missing: apt-get install openssl.",
                )
            )
    return problems


def _port_free(host: str, port: int) -> bool:
    """Nothing listens there: the address can be bound and nobody answers on it (a listener on the
    wildcard address, sshd's say, holds every address of the port)."""
    address = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not count
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return not answers(address, port)


def _ours(config: Config) -> bool:
    """True when the port is held by the nginx of this configuration's running broker (its pid file
    names a live nginx: a stale file whose pid now belongs to another program does not count)."""
    pid_file = Path(runtime_folder(config)) / "nginx.pid"
    try:
        pid = int(pid_file.read_text().strip())
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return False
    return command == "nginx"
