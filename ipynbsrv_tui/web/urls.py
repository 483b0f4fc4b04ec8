"""The address users type to reach a notebook in the browser."""

from __future__ import annotations

import socket

from ..config import Config
from ..validation import split_listen


def base_url(config: Config) -> str:
    """`[web] public_url`, else https://<public host>[:<listen port>]."""
    if config.web.public_url:
        return config.web.public_url.rstrip("/")
    host = config.notebooks.public_host or socket.gethostname()
    _, port = split_listen(config.web.listen)
    return f"https://{host}" + ("" if port == "443" else f":{port}")


def notebook_url(config: Config, owner: str, name: str) -> str:
    return f"{base_url(config)}/user/{owner}/{name}/"
