"""`ipynbsrv-tui images …`: image helpers that run without the terminal UI.

One `add_<name>(subcommands)` and one `cmd_<name>(args)` per subcommand; `register` adds them all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import validation
from ..config import load_config
from ..domain import ValidationError
from .build import add_build
from .output import one_line_errors, print_json, print_table, say
from .session import open_session


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `images` group and its subcommands."""
    images = subparsers.add_parser("images", help="make and manage notebook images")
    subcommands = images.add_subparsers(dest="images_command", metavar="SUBCOMMAND", required=True)
    add_bootstrap_base(subcommands)
    add_build(subcommands)
    add_list(subcommands)
    add_register(subcommands)
    add_retire(subcommands)
    add_delete(subcommands)


def add_bootstrap_base(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "bootstrap-base",
        help="make a Debian base image from this host's Debian mirror "
        "(debootstrap + docker import; needs root)",
        description=(
            "Make a Debian base image without a registry: debootstrap --variant=minbase SUITE from the "
            "Debian mirror this host's apt uses, then import it into the Docker Engine as REF."
        ),
    )
    parser.add_argument("--suite", help="Debian suite, e.g. bookworm or bullseye (default: [build] suite)")
    parser.add_argument(
        "--tag", metavar="REF", help="image reference to create (default: [build] base_image)"
    )
    parser.add_argument(
        "--mirror", metavar="URL", help="Debian mirror (default: [build] mirror, else the host's apt sources)"
    )
    parser.set_defaults(handler=cmd_bootstrap_base)


def cmd_bootstrap_base(args: argparse.Namespace) -> int:
    from ..engine import DockerEngine, bootstrap_base

    config = load_config(args.config)
    engine = DockerEngine.connect(config.docker.url, config.docker.timeout)
    try:
        tag = args.tag or config.build.base_image
        bootstrap_base(
            engine,
            suite=args.suite or config.build.suite,
            tag=tag,
            mirror=args.mirror or config.build.mirror,
            progress=_print_progress,
        )
    finally:
        engine.close()
    say(f"{tag} is ready.", flush=True)
    return 0


def _print_progress(line: str) -> None:
    say(line, file=sys.stdout, flush=True)


# ---------------------------------------------------------------------- list, register, retire


def add_list(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = one_line_errors(subcommands.add_parser("list", help="list the registered images"))
    parser.add_argument("--active", action="store_true", help="leave out retired images")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    views = open_session(args).list_images(include_retired=not args.active)
    if args.json:
        print_json(views)
        return 0
    print_table(
        ("NAME", "REF", "PORT", "PUBLIC", "OWNER", "CONTAINERS", "LAST BUILD", "RETIRED"),
        [
            (
                v.name,
                v.ref,
                v.notebook_port,
                "yes" if v.is_public else "no",
                v.owner or "system",
                v.containers,
                v.last_build_status or "-",
                "yes" if v.retired else "no",
            )
            for v in views
        ],
    )
    return 0


def add_register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = one_line_errors(subcommands.add_parser(
        "register", help="register an engine image so containers can be made from it",
        description="Options not given are taken from the image's ipynbsrv.* labels (DESIGN §6).",
    ))
    parser.add_argument("name", help="the name users see, e.g. python3")
    parser.add_argument(
        "ref",
        help="the engine image, e.g. ipynbsrv/ipython3-notebook:latest, or the name of a "
        "built image folder, e.g. ipython3-notebook ([build] image_prefix/FOLDER:latest)",
    )
    parser.add_argument("--description")
    parser.add_argument("--command", help="command template (default: the image's own command)")
    parser.add_argument("--notebook-port", help="the port the notebook listens on inside the container")
    parser.add_argument("--public-ports", help="comma-separated container ports to publish, e.g. 22")
    parser.add_argument(
        "--private", action="store_true", help="only the --groups may use it (default: public)"
    )
    parser.add_argument("--groups", default="", help="comma-separated groups that may use a private image")
    parser.add_argument("--memory", default="", help="memory limit, e.g. 2g (default: [notebooks] memory)")
    parser.add_argument("--cpus", help="CPU limit, e.g. 1.5 (default: [notebooks] cpus)")
    parser.add_argument("--json", action="store_true", help="print the registered image as JSON")
    parser.set_defaults(handler=cmd_register)


def folder_reference(ref: str, config_path: str | None) -> str:
    """`ref`, or `<[build] image_prefix>/<ref>:latest` when `ref` names an image folder of
    `[build] dockerfiles` (what `images build FOLDER` tagged), so the command works with any prefix."""
    if "/" in ref or ":" in ref:
        return ref
    config = load_config(config_path)
    if not (Path(config.build.dockerfiles) / ref / "Dockerfile").is_file():
        return ref
    return f"{config.build.image_prefix}/{ref}:latest"


def cmd_register(args: argparse.Namespace) -> int:
    session = open_session(args)
    defaults = session.image_defaults(folder_reference(args.ref, args.config))
    view = session.register_image(
        args.name,
        defaults.ref,
        description=defaults.description if args.description is None else args.description,
        command=defaults.command if args.command is None else args.command,
        notebook_port=defaults.notebook_port if args.notebook_port is None
        else validation.port(args.notebook_port, what="Notebook port"),
        public_ports=defaults.public_ports if args.public_ports is None else args.public_ports,
        is_public=not args.private,
        access_groups=validation.group_names(args.groups),
        memory=args.memory,
        cpus=None if args.cpus is None else validation.cpus(args.cpus),
    )
    if args.json:
        print_json(view)
    else:
        say(f"Registered {view.name} ({view.ref}).")
    return 0


def add_retire(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = one_line_errors(subcommands.add_parser(
        "retire", help="hide a registered image from new containers (its containers keep running)",
    ))
    parser.add_argument("name", help="registered image name")
    parser.add_argument("--undo", action="store_true", help="put a retired image back in use")
    parser.set_defaults(handler=cmd_retire)


def cmd_retire(args: argparse.Namespace) -> int:
    view = open_session(args).retire_image(args.name, not args.undo)
    say(f"Image {view.name} is {'retired' if view.retired else 'back in use'}.")
    return 0


def add_delete(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = one_line_errors(subcommands.add_parser(
        "delete", help="unregister an image no container uses (the engine image stays; retire one in use)",
    ))
    parser.add_argument("name", help="registered image name")
    parser.add_argument("--yes", action="store_true", help="really unregister it (required)")
    parser.set_defaults(handler=cmd_delete)


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        raise ValidationError(f"Unregistering image {args.name} cannot be undone: add --yes to do it.")
    open_session(args).delete_image(args.name)
    say(f"Unregistered {args.name}.")
    return 0
