"""Snapshots of a notebook container and commits of one into a registered image (DESIGN §5)."""

from __future__ import annotations

import logging

from .. import validation
from ..domain import Actor, AlreadyExists, ContainerState, ContainerView, ImageView, NotFound, SnapshotView
from ..store.models import Image, Snapshot
from .base import Component, Ports
from .containers import Containers, engine_id, ref_part
from .images import Images

log = logging.getLogger(__name__)


class Snapshots(Component):
    """Snapshots (commit, restore, delete) of a container, and a container committed as an image."""

    def __init__(self, ports: Ports, *, containers: Containers, images: Images) -> None:
        super().__init__(ports)
        self.containers = containers
        self.images = images

    def list_snapshots(self, actor: Actor, container_id: int) -> list[SnapshotView]:
        row = self.containers.visible(actor, container_id, "snapshot.list")
        return [_snapshot_view(s) for s in row.snapshots.order_by(Snapshot.created)]

    def snapshot_container(
        self, actor: Actor, container_id: int, name: str, description: str = ""
    ) -> SnapshotView:
        name = validation.container_name(name)
        description = validation.description(description)
        row = self.containers.visible(actor, container_id, "snapshot.create")
        if row.snapshots.where(Snapshot.name == name).exists():
            raise AlreadyExists(f"{row.name} already has a snapshot named {name!r}.")
        ref = (
            f"{self.config.build.image_prefix}-snapshots/{ref_part(row.owner.username)}-{ref_part(row.name)}"
            f"-{row.id}:{name}"
        )
        self.engine.commit(
            engine_id(row), ref, labels={"ipynbsrv.snapshot-of": str(row.id)} | self.instance_labels
        )
        snapshot = Snapshot.create(container=row, name=name, image_ref=ref, description=description)
        self.audit(actor, "snapshot.create", f"{row.owner.username}/{row.name}@{name}")
        return _snapshot_view(snapshot)

    def restore_snapshot(self, actor: Actor, container_id: int, snapshot_id: int) -> ContainerView:
        """Replace the container with one made from the snapshot: same name, port, token and URL."""
        row = self.containers.visible(actor, container_id, "snapshot.restore")
        snapshot = Snapshot.get_or_none((Snapshot.id == snapshot_id) & (Snapshot.container == row))
        if snapshot is None:
            raise NotFound(f"Snapshot {snapshot_id} does not belong to {row.name}.")
        was_running = row.state in (ContainerState.RUNNING.value, ContainerState.PAUSED.value)
        if not self.engine.image_exists(snapshot.image_ref):
            raise NotFound(
                f"The image of snapshot {snapshot.name} ({snapshot.image_ref}) is gone from the engine."
            )
        if row.docker_id:
            self.engine.remove(row.docker_id, force=True)
        row.image_ref = snapshot.image_ref
        info = self.engine.create(self.containers.spec(row, row.image))
        row.docker_id = info.id
        row.save()
        self.containers.set_state(row, ContainerState.CREATED)
        if was_running:
            self.engine.start(info.id)
            self.containers.set_state(row, ContainerState.RUNNING, started=True)
            self.containers.readiness.watch_readiness(row.id)
        self.audit(actor, "snapshot.restore", f"{row.owner.username}/{row.name}@{snapshot.name}")
        return self.containers.view(row, actor)

    def delete_snapshot(self, actor: Actor, container_id: int, snapshot_id: int) -> None:
        row = self.containers.visible(actor, container_id, "snapshot.delete")
        snapshot = Snapshot.get_or_none((Snapshot.id == snapshot_id) & (Snapshot.container == row))
        if snapshot is None:
            raise NotFound(f"Snapshot {snapshot_id} does not belong to {row.name}.")
        if row.image_ref != snapshot.image_ref:
            self.containers.remove_image_quietly(snapshot.image_ref)
        snapshot.delete_instance()
        self.audit(actor, "snapshot.delete", f"{row.owner.username}/{row.name}@{snapshot.name}")

    def commit_container(
        self, actor: Actor, container_id: int, image_name: str, description: str = "", is_public: bool = False
    ) -> ImageView:
        """Commit a container into a new registered image owned by the actor (public only for admins)."""
        image_name = validation.image_name(image_name)
        description = validation.description(description)
        row = self.containers.visible(actor, container_id, "container.commit")
        if is_public and not actor.is_admin:
            raise self.refuse(actor, "container.commit", image_name, "Only admins may make an image public.")
        if Image.select().where(Image.name == image_name).exists():
            raise AlreadyExists(f"An image named {image_name!r} is registered already. Choose another name.")
        if not actor.is_directory_user:
            raise self.refuse(actor, "container.commit", image_name,
                              f"{actor.username} is not a directory user, so cannot own an image: "
                              "act as a directory user.")
        owner = self.containers.user_row(
            actor.username
        )  # before the engine makes anything: a refusal leaves nothing
        # names are unique
        ref = f"{self.config.build.image_prefix}-user/{ref_part(actor.username)}:{image_name}"
        labels = {"ipynbsrv.committed-from": str(row.id)} | self.instance_labels
        image_id = self.engine.commit(engine_id(row), ref, labels=labels)
        source: Image = row.image
        try:
            Image.create(
                name=image_name,
                ref=ref,
                docker_id=image_id,
                description=description or f"Commit of {row.name}",
                command=source.command if source else "",
                notebook_port=source.notebook_port if source else 8888,
                public_ports=source.public_ports if source else "",
                owner=owner,
                is_public=is_public,
                memory=source.memory if source else "",
                cpus=source.cpus if source else None,
            )
        except Exception:
            self._remove_committed(ref)
            raise
        self.audit(
            actor, "container.commit", f"{row.owner.username}/{row.name}", detail=f"image={image_name}"
        )
        committed: Image = Image.get(Image.name == image_name)
        return self.images.image_view(committed, actor)

    def _remove_committed(self, ref: str) -> None:
        """Remove an image committed for a registration that then failed: none is left behind."""
        try:
            self.engine.remove_image(ref, force=True)
        except Exception as exc:  # the registration's error is the one to report
            log.warning("could not remove %s after a failed commit: %s", ref, exc)


def _snapshot_view(snapshot: Snapshot) -> SnapshotView:
    return SnapshotView(
        id=snapshot.id, container_id=snapshot.container_id, name=snapshot.name, image_ref=snapshot.image_ref,
        description=snapshot.description, created=snapshot.created,
    )
