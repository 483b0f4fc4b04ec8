"""Use cases on images: register, edit, retire, delete, build and the build history."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Unpack

from peewee import fn

from .. import validation
from ..domain import (
    Actor,
    AlreadyExists,
    BuildEvent,
    BuildStatus,
    BuildSummary,
    BuildView,
    Conflict,
    ImageChanges,
    ImageDefaults,
    ImageInfo,
    ImageView,
    NotFound,
    ValidationError,
)
from ..store.models import Build, Container, Group, Image, ImageAccess, User, database_proxy
from . import authz, workers
from .base import Component
from .builds import BuildHandle, PlannedBuild, read_log


class Images(Component):
    """Registered images and builds (admins), and the images a user may use."""

    # ------------------------------------------------------------------ reading

    def list_images(self, actor: Actor, include_retired: bool = True) -> list[ImageView]:
        """Admins see every registered image; others the ones they may use."""
        rows = Image.select().order_by(Image.name)
        if not include_retired:
            rows = rows.where(Image.retired == False)  # noqa: E712
        views = [self.image_view(row, actor) for row in rows]
        if actor.is_admin:
            return views
        return [
            v for v in views
            if authz.can_use_image(actor, owner=v.owner, is_public=v.is_public, retired=v.retired,
                                   access_groups=v.access_groups)
        ]

    def usable_images(self, actor: Actor) -> list[ImageView]:
        """Images the actor may create a container from now (not retired)."""
        return [
            v for v in self.list_images(actor, include_retired=False)
            if authz.can_use_image(actor, owner=v.owner, is_public=v.is_public, retired=v.retired,
                                   access_groups=v.access_groups)
        ]

    def image_view(self, row: Image, viewer: Actor | None = None) -> ImageView:
        """The image as `viewer` sees it: a non-admin's container count is of their own containers only."""
        used = Container.image == row
        if viewer is not None and not viewer.is_admin:
            used &= Container.owner == User.select(User.id).where(User.username == viewer.username)
        counts = dict(
            Container.select(Container.image, fn.COUNT(Container.id)).where(used)
            .group_by(Container.image).tuples()
        )
        max_memory, max_cpus = self.limit_ceilings(row, viewer)
        last = Build.select(Build.status).where(Build.image_ref == row.ref).order_by(Build.id.desc()).first()
        return ImageView(
            name=row.name, ref=row.ref, description=row.description, command=row.command,
            notebook_port=row.notebook_port, public_ports=validation.port_list(row.public_ports),
            owner=row.owner.username if row.owner_id else None, is_public=row.is_public,
            access_groups=tuple(a.group.name for a in row.access), memory=row.memory, cpus=row.cpus,
            retired=row.retired, docker_id=row.docker_id, containers=counts.get(row.id, 0),
            last_build_status=last.status if last else None, source_folder=row.source_folder,
            max_memory=max_memory, max_cpus=max_cpus,
        )

    def engine_images(self, actor: Actor) -> list[ImageInfo]:
        """Images present on the engine that may be registered here, for picking a ref (admins): not the
        bases (`ipynbsrv.registrable=false`), not another installation's images."""
        self._require_images_admin(actor, "image.engine-list")
        ours = self.instance_id
        return [info for info in self.engine.images()
                if info.labels.get("ipynbsrv.registrable", "true").strip().lower() != "false"
                and info.labels.get("ipynbsrv.instance", ours) == ours]

    def image_defaults(self, actor: Actor, ref: str) -> ImageDefaults:
        """Registration defaults from the image's ipynbsrv.* labels (DESIGN §6)."""
        self._require_images_admin(actor, "image.defaults")
        ref = validation.image_reference(ref)
        info = self.engine.image(ref)
        name = validation.split_reference(ref)[0].rsplit("/", 1)[-1]
        from ..engine.dockerfiles import defaults_from_labels  # the Dockerfile tools load on first use

        return defaults_from_labels(ref, name, info.labels or {}, docker_id=info.id)

    # ------------------------------------------------------------------ registering

    def register_image(
        self,
        actor: Actor,
        name: str,
        ref: str,
        description: str = "",
        command: str = "",
        notebook_port: int = 8888,
        public_ports: str | tuple[int, ...] = (),
        is_public: bool = True,
        access_groups: tuple[str, ...] | list[str] = (),
        memory: str = "",
        cpus: float | None = None,
        source_folder: str = "",
    ) -> ImageView:
        """Register an engine image so containers can be created from it (admins)."""
        self._require_images_admin(actor, "image.register", name)
        fields = self._image_fields(name, ref, notebook_port, public_ports, memory, cpus)
        description, command = validation.description(description), validation.command(command)
        if Image.select().where(Image.name == fields["name"]).exists():
            raise AlreadyExists(f"An image named {fields['name']!r} is registered already. Edit it instead.")
        info = self.engine.image(fields["ref"])
        if info.labels.get("ipynbsrv.registrable", "true").lower() == "false":
            raise ValidationError(
                f"{fields['ref']} is marked ipynbsrv.registrable=false (a base image). Register an image "
                "built from it."
            )
        groups = self._groups(access_groups)
        with database_proxy.atomic():
            row = Image.create(
                description=description, command=command, is_public=is_public, docker_id=info.id,
                source_folder=source_folder, owner=None, **fields,
            )
            for group in groups:
                ImageAccess.create(image=row, group=group)
        self.audit(actor, "image.register", row.name, detail=row.ref)
        return self.image_view(row)

    def update_image(self, actor: Actor, name: str, **changes: Unpack[ImageChanges]) -> ImageView:
        """Edit a registered image: description, command, ports, public flag, access groups, limits."""
        self._require_images_admin(actor, "image.update", name)
        row = self._image_row(name)
        unknown = set(changes) - set(ImageChanges.__annotations__)
        if unknown:
            raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} of an image.")
        fields = self._image_fields(
            name=row.name, ref=changes.get("ref", row.ref),
            notebook_port=changes.get("notebook_port", row.notebook_port),
            public_ports=changes.get("public_ports", row.public_ports),
            memory=changes.get("memory", row.memory), cpus=changes.get("cpus", row.cpus),
        )
        if "description" in changes:
            fields["description"] = validation.description(changes["description"])
        if "command" in changes:
            fields["command"] = validation.command(changes["command"])
        if "is_public" in changes:
            fields["is_public"] = changes["is_public"]
        with database_proxy.atomic():
            for key, value in fields.items():
                setattr(row, key, value)
            if "ref" in changes:
                row.docker_id = self.engine.image(fields["ref"]).id
            row.save()
            if "access_groups" in changes:
                ImageAccess.delete().where(ImageAccess.image == row).execute()
                for group in self._groups(changes["access_groups"]):
                    ImageAccess.create(image=row, group=group)
        self.audit(actor, "image.update", name, detail=", ".join(sorted(changes)))
        return self.image_view(row)

    def retire_image(self, actor: Actor, name: str, retired: bool = True) -> ImageView:
        """A retired image keeps its containers but is hidden from new ones."""
        self._require_images_admin(actor, "image.retire", name)
        row = self._image_row(name)
        row.retired = retired
        row.save()
        self.audit(actor, "image.retire" if retired else "image.unretire", name)
        return self.image_view(row)

    def delete_image(self, actor: Actor, name: str, check_only: bool = False) -> None:
        """Unregister an image; refused with the reason while containers use it. With `check_only`
        nothing is deleted: the same checks run, so a UI can refuse before it asks (DESIGN §8)."""
        self._require_images_admin(actor, "image.delete", name)
        row = self._image_row(name)
        using = Container.select().where(Container.image == row)
        count = using.count()
        if count:
            names = [f"{c.owner.username}/{c.name}" for c in using.order_by(Container.id).limit(3)]
            shown = ", ".join(names) + (f" and {count - len(names)} more" if count > len(names) else "")
            self.audit(actor, "image.delete", name, "refused", f"used by {count}: {shown}")
            noun = "container uses" if count == 1 else "containers use"
            raise Conflict(
                f"{count} {noun} image {name!r} ({shown}). Delete those containers first, "
                "or retire the image instead (it stays for them, hidden from new ones)."
            )
        if check_only:
            return
        row.delete_instance(recursive=True)
        self.audit(actor, "image.delete", name)

    # ------------------------------------------------------------------ builds

    def dockerfile_folders(self, actor: Actor) -> list[str]:
        """The image folders under [build] dockerfiles, e.g. base-ldap, ipython3-notebook."""
        self._require_images_admin(actor, "image.folders")
        root = Path(self.config.build.dockerfiles)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / "Dockerfile").is_file())

    def build_image(
        self, actor: Actor, folder: str, tag: str | None = None, build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> BuildHandle:
        """Start a build of a dockerfiles/ folder (or a path); iterate the handle for its events.

        Missing base images that come from image folders are built first, and each folder's
        wheelhouse is prepared on the host (DESIGN §5), exactly as `ipynbsrv-tui images build` does.
        """
        self._require_images_admin(actor, "image.build", folder)
        context = self._context(folder)
        root = Path(self.config.build.dockerfiles)
        if context.parent != root.resolve():
            root = context.parent
        engine = self.engine
        from ..engine.dockerfiles import plan_build

        plan = plan_build(context.name, self.config.build, engine.image_exists, tag=tag,
                          buildargs=build_args or {}, nocache=nocache, root=root)
        target = plan.target
        row = Build.create(
            image_ref=target.tag,
            context=str(context),
            build_args=json.dumps(target.buildargs),
            actor=actor.username,
            worker=workers.marker(),
        )
        log_path = self.config.database.resolved_path.parent / "builds" / f"{row.id}.log"
        Build.update(log_path=str(log_path)).where(Build.id == row.id).execute()
        stream = PlannedBuild(engine, plan, {"ipynbsrv.built-by": actor.username} | self.instance_labels,
                              self.config.build.wheelhouse, owner=self.instance_labels)

        def finished(summary: BuildSummary) -> None:
            outcome = "ok" if summary.status == BuildStatus.SUCCEEDED else "failed"
            self.audit(actor, "image.build", target.tag, outcome,
                       f"{summary.status.value}: {summary.error or summary.image_id or ''}")

        self.audit(actor, "image.build.start", target.tag, detail=str(context))
        return BuildHandle(row.id, stream, log_path, on_finish=finished)

    def build_plan(
        self, actor: Actor, folder: str, tag: str | None = None, build_args: dict[str, str] | None = None,
        nocache: bool = False,
    ) -> list[str]:
        """What `build_image` with these arguments would do, one line per image, in order (e.g.
        "ipynbsrv/base-ldap:latest is missing and will be built first, from base-ldap/")."""
        self._require_images_admin(actor, "image.plan", folder)
        context = self._context(folder)
        root = Path(self.config.build.dockerfiles)
        if context.parent != root.resolve():
            root = context.parent
        from ..engine.dockerfiles import plan_build

        plan = plan_build(context.name, self.config.build, self.engine.image_exists, tag=tag,
                          buildargs=build_args or {}, nocache=nocache, root=root)
        lines = []
        for step in plan.steps:
            if step is plan.target:
                lines.append(f"{step.tag} will be built from {step.folder.name}/.")
            else:
                lines.append(f"{step.tag} is missing and will be built first, from {step.folder.name}/.")
        return lines

    def build_defaults(self, actor: Actor, folder: str) -> dict[str, str]:
        """The build args a build of `folder` without any uses, for a form to show them: BASE_IMAGE
        is `[build] base_image`, or the image folder the Dockerfile's default names under the prefix
        (e.g. BASE_IMAGE=debian:bookworm-slim for base-ldap), never left to the Dockerfile unsaid."""
        self._require_images_admin(actor, "image.plan", folder)
        context = self._context(folder)
        root = Path(self.config.build.dockerfiles)
        if context.parent != root.resolve():
            root = context.parent
        from ..engine.dockerfiles import plan_build

        plan = plan_build(context.name, self.config.build, lambda _ref: True, root=root)
        return dict(plan.target.buildargs)

    def list_builds(self, actor: Actor, limit: int = 100) -> list[BuildView]:
        self._require_images_admin(actor, "image.builds")
        return [_build_view(b) for b in Build.select().order_by(Build.id.desc()).limit(limit)]

    def build_log(self, actor: Actor, build_id: int, limit: int | None = None) -> list[BuildEvent]:
        """The stored events of a build, to reopen its log."""
        self._require_images_admin(actor, "image.build-log")
        row = Build.get_or_none(Build.id == build_id)
        if row is None:
            raise NotFound(f"Build {build_id} does not exist.")
        return read_log(Path(row.log_path), limit) if row.log_path else []

    # ------------------------------------------------------------------ helpers

    def _require_images_admin(self, actor: Actor, action: str, target: str = "") -> None:
        if not authz.can_manage_images(actor):
            raise self.refuse(
                actor, action, target, "Only admins may build, register, edit or retire images."
            )

    def _image_row(self, name: str) -> Image:
        row: Image | None = Image.get_or_none(Image.name == name)
        if row is None:
            raise NotFound(f"No registered image named {name!r}.")
        return row

    def _image_fields(
        self, name: str, ref: str, notebook_port: int | str, public_ports: str | tuple[int, ...],
        memory: str, cpus: float | str | None,
    ) -> dict[str, Any]:
        ports = validation.port_list(public_ports)
        return {
            "name": validation.image_name(name),
            "ref": validation.image_reference(ref),
            "notebook_port": validation.port(notebook_port, what="Notebook port"),
            "public_ports": ",".join(str(p) for p in ports),
            "memory": memory.strip() if memory and validation.memory(memory) else "",
            "cpus": validation.cpus(cpus) if cpus not in (None, "") else None,
        }

    def _groups(self, names: Iterable[str]) -> list[Group]:
        groups = []
        for name in names:
            group = Group.get_or_none(Group.name == name)
            if group is None:
                raise NotFound(f"No group named {name!r}. Create it in the Users section first.")
            groups.append(group)
        return groups

    def _context(self, folder: str) -> Path:
        candidate = Path(folder)
        if not candidate.is_dir():
            candidate = Path(self.config.build.dockerfiles) / folder
        if not (candidate / "Dockerfile").is_file():
            raise NotFound(
                f"No Dockerfile in {folder!r}: give a folder under {self.config.build.dockerfiles}/ or a "
                "path."
            )
        return candidate.resolve()


def _build_view(row: Build) -> BuildView:
    return BuildView(
        id=row.id, image_ref=row.image_ref, context=row.context, status=BuildStatus(row.status),
        started=row.started, finished=row.finished, image_id=row.image_id, exit_code=row.exit_code,
        error=row.error, tolerated=row.tolerated, warnings=row.warnings, lines=row.lines, actor=row.actor,
        build_args=_build_args(row.build_args),
    )


def _build_args(stored: str | None) -> dict[str, str]:
    try:
        value = json.loads(stored or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

