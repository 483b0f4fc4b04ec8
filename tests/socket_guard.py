"""The session guard of DESIGN §11: no test reaches a Unix socket it did not create.

Installed in the pytest process by tests/conftest.py and, through tests/socket_guard_site/ on
PYTHONPATH (its sitecustomize.py), in every Python process a test starts that inherits the
environment. A connect() to a filesystem socket outside the allowed roots (the temp folders
tests make their sockets in, and the test Docker Engine's socket) is refused with EACCES and
recorded with the test that made it; the test then fails and so does the session. A live
installation's broker at /run/ipynbsrv/ipynbsrv.sock is therefore never reached, whatever a
test's config says.
"""

from __future__ import annotations

import errno
import os
import socket

ALLOWED_VARIABLE = "IPYNBSRV_TEST_SOCKET_ROOTS"  # os.pathsep-separated folders and socket files
RECORD_VARIABLE = "IPYNBSRV_TEST_SOCKET_RECORD"  # the file each refused connect() is appended to


def _allowed(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _record(path: str) -> None:
    record = os.environ.get(RECORD_VARIABLE)
    if not record:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)")
    line = f"{os.getpid()}\t{test}\t{path}\n".encode()
    try:
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError:
        return
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def check(address: object) -> None:
    """Raise PermissionError (and record it) when `address` is a Unix socket path outside the roots."""
    if isinstance(address, bytes):
        address = os.fsdecode(address)
    if not isinstance(address, str) or not address or address.startswith("\0"):
        return  # not a filesystem socket (abstract namespace, or an address of another family)
    roots = [
        os.path.realpath(root) for root in os.environ.get(ALLOWED_VARIABLE, "").split(os.pathsep) if root
    ]
    if not roots or _allowed(address, roots):
        return
    _record(address)
    raise PermissionError(errno.EACCES, f"test socket guard: {address} was not made by this test run")


def install() -> None:
    """Wrap socket.socket.connect and connect_ex for AF_UNIX sockets (once per process)."""
    if getattr(socket.socket, "_ipynbsrv_guarded", False):
        return
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX:
            check(address)
        return connect(self, address)  # type: ignore[arg-type]

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        if self.family == socket.AF_UNIX:
            try:
                check(address)
            except PermissionError:
                return errno.EACCES
        return connect_ex(self, address)  # type: ignore[arg-type]

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.socket._ipynbsrv_guarded = True  # type: ignore[attr-defined]


def recorded(record: str, start: int = 0) -> tuple[list[str], int]:
    """The refusals recorded after byte `start` of the record file, and its new size."""
    try:
        with open(record, "rb") as stream:
            stream.seek(start)
            data = stream.read()
    except FileNotFoundError:
        return [], start
    return data.decode(errors="replace").splitlines(), start + len(data)
