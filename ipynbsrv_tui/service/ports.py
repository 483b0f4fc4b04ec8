"""Stable host ports for notebooks, allocated from config.notebooks.port_range (DESIGN §5)."""

from __future__ import annotations

import errno
import json
import socket

from ..domain import Conflict
from ..store.models import Container


def used_ports() -> set[int]:
    """Every host port the store has handed out (notebook ports and public ports)."""
    used: set[int] = set()
    for host_port, public in Container.select(Container.host_port, Container.public_ports).tuples():
        used.add(host_port)
        if public and public != "{}":
            used.update(int(p) for p in json.loads(public).values())
    return used


def is_free_on_host(address: str, port: int) -> bool:
    """True when nothing else on this machine listens on address:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def allocate(
    port_range: tuple[int, int],
    address: str,
    count: int = 1,
    taken: set[int] | None = None,
    check_host: bool = True,
) -> list[int]:
    """`count` ports from the range that neither the store nor another process uses.

    `check_host` false (swarm mode: the port is bound on whichever node runs the notebook)
    leaves out the probe of this host.
    """
    first, last = port_range
    used = used_ports() | (taken or set())
    chosen: list[int] = []
    for candidate in range(first, last + 1):
        if candidate in used:
            continue
        if check_host and not is_free_on_host(address, candidate):
            continue
        chosen.append(candidate)
        if len(chosen) == count:
            return chosen
    raise Conflict(
        f"No free host port left in notebooks.port_range [{first}, {last}]. "
        "Delete unused containers or widen the range in config.toml."
    )
