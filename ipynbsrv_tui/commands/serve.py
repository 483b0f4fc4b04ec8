"""`ipynbsrv-tui serve`: run the broker (DESIGN §2), the process that holds Docker, the database and LDAP."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

from ..config import load_config

LOG_LEVELS = ("debug", "info", "warning", "error")
# Every line carries its time (also outside journald, e.g. under another supervisor).
LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"
LOG_DATES = "%Y-%m-%dT%H:%M:%S"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the broker: serves ordinary users' ipynbsrv-tui over a Unix socket (as root)",
        description=(
            "Listen on [broker] socket and run every call of every local user through the service, "
            "as the directory user behind the caller's uid (SO_PEERCRED). Also records engine events, "
            "reconciles every [broker] reconcile_interval seconds and, when [notebooks] idle_timeout > 0, "
            "stops idle notebooks. Stops cleanly on SIGTERM."
        ),
    )
    parser.add_argument("--socket", metavar="PATH", help="listen on PATH instead of [broker] socket")
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="what to log on stderr (default: info)"
    )
    parser.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..broker.server import BrokerServer
    from ..logsafe import install
    from ..service import build_service

    install(args.log_level.upper(), sys.stderr, LOG_FORMAT, LOG_DATES)
    config = load_config(args.config)
    if args.socket:
        config = config.replace(broker={"socket": args.socket})
    service = build_service(config, mode="client-server")
    server = BrokerServer(service, config)
    server.start()
    notify_systemd("READY=1")
    try:
        server.serve_forever()
    finally:
        notify_systemd("STOPPING=1")
        server.stop()
    return 0


def notify_systemd(state: str) -> None:
    """Tell systemd (Type=notify) how the service is doing; nothing happens outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            logging.getLogger("ipynbsrv.broker").warning("could not notify systemd (%s)", address)
