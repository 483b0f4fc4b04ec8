"""Who is at the other end of a Unix socket, as the kernel says (SO_PEERCRED): the broker's callers,
the broker itself for its clients, and nginx for the web login."""

from __future__ import annotations

import socket
import struct

_PEERCRED = struct.Struct("3i")


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket, from the kernel (SO_PEERCRED)."""
    pid, uid, gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    return pid, uid, gid
