"""Put on PYTHONPATH by tests/conftest.py: installs tests/socket_guard.py in every Python
process a test starts (the CLI in a subprocess included)."""

import importlib.util
import os

if os.environ.get("IPYNBSRV_TEST_SOCKET_ROOTS"):
    _path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "socket_guard.py")
    _spec = importlib.util.spec_from_file_location("_ipynbsrv_socket_guard", _path)
    if _spec is not None and _spec.loader is not None:
        _guard = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_guard)
        _guard.install()
