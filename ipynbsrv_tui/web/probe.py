"""Whether something listens on a TCP address (the checks and the gateway's "serving" line ask it)."""

from __future__ import annotations

import socket


def answers(address: str, port: int, timeout: float = 0.5) -> bool:
    """Something accepts TCP connections on address:port (the wildcard address is asked on loopback)."""
    address = address.strip("[]")
    probe = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
    try:
        with socket.create_connection((probe, port), timeout=timeout):
            return True
    except OSError:
        return False
