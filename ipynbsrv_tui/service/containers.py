"""Use cases on notebook containers: create, lifecycle, clone, snapshot, commit, logs, stats."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from peewee import JOIN

from .. import validation
from ..config import web_notebook_url
from ..domain import (
    Actor,
    AlreadyExists,
    Conflict,
    ConnectionInfo,
    ContainerChange,
    ContainerSpec,
    ContainerState,
    ContainerStats,
    ContainerView,
    EngineError,
    Mount,
    NotFound,
    Placement,
    StoreError,
    ValidationError,
)
from ..interface import Stream
from ..store.models import Container, Image, Snapshot, User, database_proxy, utcnow
from . import authz, ports, workers
from .base import Component, Ports
from .readiness import Readiness
from .sshport import ssh_port_option

if TYPE_CHECKING:
    from ..engine.protocol import Engine

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_LOG_LINES = 10_000  # the most lines one container_logs call reads into memory

RUNNING_STATES = ("running", "paused", "starting")  # what counts against [quotas] running_per_user

ACTION_STATES = {
    "start": ContainerState.RUNNING,
    "stop": ContainerState.EXITED,
    "restart": ContainerState.RUNNING,
    "suspend": ContainerState.PAUSED,
    "resume": ContainerState.RUNNING,
}


def gone_advice(target: str, snapshots: int) -> str:
    """What to do about a notebook whose engine container was removed outside ipynbsrv: reconcile,
    the live list and every refused action say the same."""
    restore = f"restore one of its {snapshots} snapshots (R), " if snapshots else ""
    return (
        f"{target}: its engine container is gone (removed outside ipynbsrv); {restore}recreate it from its "
        "image (s) or delete it (d). Its home folder is kept either way."
    )


def engine_name(owner_uid: int, name: str) -> str:
    """Containers are named `ipynbsrv-<owner's uid>-<name>` on the engine: a uid has no '-', so two
    owners' names never meet (DESIGN §5)."""
    return f"ipynbsrv-{owner_uid}-{name}"


KEEP_LABEL = "ipynbsrv.kept-from"  # on the images a restart with new share mounts commits: the row id


def is_keep_ref(ref: str, prefix: str) -> bool:
    """A restart-with-new-mounts image: `<prefix>-keep/…` (before 2026-12: `ipynbsrv-keep/…`)."""
    return ref.startswith((f"{prefix}-keep/", "ipynbsrv-keep/"))


def ref_part(text: str) -> str:
    """`text` as one lower-case Docker repository component: its letters and digits joined by '-'."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "x"


SHARE_GIDS_LABEL = "ipynbsrv.share-gids"  # name:gid of each share mounted, as the container was made


def _share_gids(shares: list[tuple[str, int]]) -> str:
    return ",".join(f"{name}:{gid}" for name, gid in sorted(shares))


def managed_labels(
    instance: str, owner: str, container_id: int, image_name: str, key: str = ""
) -> dict[str, str]:
    """The labels of a notebook container: reconcile adopts it for a row only when all of
    instance, owner, container id and key match (DESIGN §5)."""
    labels = {
        "ipynbsrv.managed": "true",
        "ipynbsrv.instance": instance,
        "ipynbsrv.owner": owner,
        "ipynbsrv.container": str(container_id),
        "ipynbsrv.image": image_name,
    }
    if key:
        labels["ipynbsrv.key"] = key
    return labels


class ShareMounts(Protocol):
    """What a container's start asks of the shares: the folders and gids its owner may mount."""

    def usable_share_mounts(self, user: User) -> list[tuple[str, int]]: ...


class Containers(Component):
    """Notebook containers, for their owners and for admins."""

    def __init__(self, ports: Ports, *, readiness: Readiness, share_mounts: ShareMounts) -> None:
        super().__init__(ports)
        self.readiness = readiness
        self.share_mounts = share_mounts

    # ------------------------------------------------------------------ reading

    def list_containers(self, actor: Actor, owner: str | None = None) -> list[ContainerView]:
        """Admins see every container (or one owner's); others only their own."""
        if not actor.is_admin:
            return self._views(actor, owner=actor.username)
        return self._views(actor, owner=owner)

    def get_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self._visible_view(actor, container_id, "container.show")

    def _visible_view(self, actor: Actor, container_id: int, action: str) -> ContainerView:
        views = self._views(actor, container_id=container_id)
        if not views:
            raise NotFound(_no_container(container_id))
        if not authz.can_act_on_container(actor, views[0].owner):
            raise self.hide(actor, action, f"container {container_id}", _no_container(container_id))
        return views[0]

    def connection_info(self, actor: Actor, container_id: int) -> ConnectionInfo:
        """The URL with its token and the `ssh -L` command that reaches it from a laptop."""
        view = self._visible_view(actor, container_id, "container.connect")
        port = view.host_port
        url = view.url or ""
        target = self._tunnel_target()
        if self.swarm_mode:  # the notebook's port is published on its node (DESIGN §15)
            target = Container.get_by_id(container_id).node_address or target
        host = url.split("://", 1)[-1].split(":", 1)[0] if url else self._url_host()
        return ConnectionInfo(
            url=url,
            token=view.token or "",
            host_port=port,
            tunnel_command=f"ssh -N{ssh_port_option(self.config.notebooks.ssh_port)} "
            f"-L {port}:{target}:{port} {view.owner}@{self.public_host()}",
            local_url=url.replace(f"http://{host}:", "http://127.0.0.1:", 1),
            web_url=web_notebook_url(self.config, view.owner, view.name) if self.config.web.enabled else "",
        )

    def container_logs(self, actor: Actor, container_id: int, tail: int = 500) -> list[str]:
        """The last `tail` lines, at most MAX_LOG_LINES (they are read into memory; follow_logs streams)."""
        row = self.visible(actor, container_id, "container.logs")
        if not row.docker_id:
            return []
        if not isinstance(tail, int) or not 0 <= tail <= MAX_LOG_LINES:
            tail = MAX_LOG_LINES
        return self.engine.logs(row.docker_id, tail=tail)

    def follow_logs(
        self, actor: Actor, container_id: int, tail: int = 200, timestamps: bool = False
    ) -> Stream[str]:
        """A closeable iterator of log lines that ends when closed or when the container stops
        (each line after the engine's time of it with `timestamps`)."""
        row = self.visible(actor, container_id, "container.logs")
        return self.engine.follow_logs(engine_id(row), tail=tail, timestamps=timestamps)

    def container_stats(self, actor: Actor, container_id: int) -> ContainerStats:
        row = self.visible(actor, container_id, "container.stats")
        return self.engine.stats(engine_id(row))

    # ------------------------------------------------------------------ creating

    def create_container(
        self,
        actor: Actor,
        name: str,
        image: str,
        description: str = "",
        memory: str | None = None,
        cpus: float | None = None,
        owner: str | None = None,
        start: bool = True,
    ) -> ContainerView:
        """Create (and by default start) a notebook container from a registered image."""
        name = validation.container_name(name)
        owner_name = owner or actor.username
        if not authz.is_owner_or_admin(actor, owner_name):
            raise self.refuse(actor, "container.create", f"{owner_name}/{name}",
                              "Only admins may create containers for other users.")
        image_row = Image.get_or_none(Image.name == image)
        if image_row is None:
            raise NotFound(f"No registered image named {image!r}. Pick one from the image list.")
        self._require_image_use(actor, image_row, f"{owner_name}/{name}")
        description = validation.description(description)
        self._check_limits(actor, image_row, memory, cpus)
        owner_row = self.user_row(owner_name)
        view = self._create_from(
            actor, owner_row, name, image_row, image_row.ref, description,
            memory or image_row.memory, cpus if cpus is not None else image_row.cpus,
            clone_of=None, start=start,
        )
        return view

    def _create_from(
        self, actor: Actor, owner: User, name: str, image: Image, image_ref: str, description: str,
        memory: str, cpus: float | None, *, clone_of: Container | None, start: bool,
        host_port: int | None = None, token: str | None = None, public: dict[str, int] | None = None,
    ) -> ContainerView:
        if Container.select().where((Container.owner == owner) & (Container.name == name)).exists():
            raise AlreadyExists(
                f"{owner.username} already has a container named {name!r}. Choose another name."
            )
        public_wanted = [p for p in validation.port_list(image.public_ports)]
        if start:
            self._check_running_quota(actor, owner.id, None)
        refusal = ""
        with database_proxy.atomic():
            refusal = self._over_container_quota(actor, owner)
            if not refusal:
                if host_port is None:
                    allocated = ports.allocate(
                        self.config.notebooks.port_range,
                        self.config.notebooks.bind_address,
                        1 + len(public_wanted),
                        check_host=not self.swarm_mode,
                    )
                    host_port = allocated[0]
                    public = {str(p): allocated[i + 1] for i, p in enumerate(public_wanted)}
                row = Container.create(
                    name=name, owner=owner, image=image, image_ref=image_ref, description=description,
                    host_port=host_port, public_ports=json.dumps(public or {}),
                    token=token or secrets.token_hex(24), base_url=f"/user/{owner.username}/{name}/",
                    state=ContainerState.CREATED.value, memory=memory or "", cpus=cpus, clone_of=clone_of,
                    key=secrets.token_hex(8), worker=workers.marker(),
                )
        if refusal:
            raise self.refuse(actor, "container.create", f"{owner.username}/{name}", refusal)
        with workers.working("container", row.id):
            try:
                self.data.ensure_user(owner.username, owner.uid, owner.gid)
                info = self.engine.create(self.spec(row, image))
                row.docker_id = info.id
                recorded = Container.update(docker_id=info.id, worker="").where(
                    (Container.id == row.id) & (Container.key == row.key)).execute()
                if not recorded:
                    raise NotFound(f"{owner.username}/{name} was rolled back by reconcile while the engine "
                                   "created it. Create it again.")
                if start:
                    self.engine.start(info.id)
                    self.set_state(row, ContainerState.RUNNING, started=True)
            except Exception as exc:
                self._undo_create(row)
                self.audit(actor, "container.create", f"{owner.username}/{name}", "failed", str(exc))
                raise
        self.audit(
            actor,
            "container.create",
            f"{owner.username}/{name}",
            detail=f"image={image_ref} port={host_port}",
        )
        if start:
            self.readiness.watch_readiness(row.id)
        return self.view(row, actor)

    def _check_limits(self, actor: Actor, image: Image, memory: str | None, cpus: float | None,
                      action: str = "container.create") -> None:
        """Valid sizes, and for non-admins within the image's own limits, then the configured ceilings."""
        max_memory, max_cpus = self.limit_ceilings(image, actor)
        if memory:
            wanted = validation.memory(memory)
            if max_memory and wanted > validation.memory(max_memory):
                raise self.refuse(actor, action, image.name,
                                  f"Memory {memory} is over the most you may choose for image {image.name}, "
                                  f"{max_memory}: choose 6m to {max_memory}.")
        if cpus is not None:
            wanted_cpus = validation.cpus(cpus)
            if max_cpus is not None and wanted_cpus > max_cpus:
                raise self.refuse(
                    actor,
                    action,
                    image.name,
                    f"{wanted_cpus:g} CPUs is over the most you may choose for image {image.name}, "
                    f"{max_cpus:g}: choose 0.01 to {max_cpus:g}.",
                )

    def _over_container_quota(self, actor: Actor, owner: User) -> str:
        """Why the owner may not have another container ("" = they may). Asked inside the create's
        transaction, so two creates at once cannot both pass."""
        limit = self.config.quotas.containers_per_user
        if actor.is_admin or Container.select().where(Container.owner == owner).count() < limit:
            return ""
        return (f"You have {limit} containers, the most one user may have ([quotas] containers_per_user). "
                "Delete one first, or ask an admin.")

    def _check_running_quota(self, actor: Actor, owner_id: int, container_id: int | None) -> None:
        if actor.is_admin:
            return
        limit = self.config.quotas.running_per_user
        running = Container.select().where(
            (Container.owner == owner_id) & Container.state.in_(RUNNING_STATES)
            & (Container.id != (container_id or 0))).count()
        if running >= limit:
            raise self.refuse(actor, "container.start", str(container_id or ""),
                              f"You have {running} running containers, the most one user may have ([quotas] "
                              "running_per_user). Stop one first, or ask an admin.")

    def _apply_share_changes(self, row: Container) -> None:
        """Before a start or restart: when the owner's shares changed since the engine object was
        made, make it again (`Engine.remake`) with the new share mounts and groups, keeping its
        name, port, token and URL, and on one host its own files (a commit of its writable layer;
        a swarm task keeps none, DESIGN §15). An engine failure fails the start: it is not swallowed."""
        shares = self.share_mounts.usable_share_mounts(row.owner)
        wanted = sorted(f"/data/shares/{name}" for name, _ in shares)
        have = sorted(target for target in self.engine.mount_targets(row.docker_id)
                      if target.startswith("/data/shares/"))
        # a share deleted and made again under the same name has another gid: the same mount
        # targets, but groups the container does not have (made before the label: names only)
        made_with = self.engine.inspect(row.docker_id).labels.get(SHARE_GIDS_LABEL)
        if have == wanted and made_with in (None, _share_gids(shares)):
            return
        image: Image = row.image
        old_ref = row.image_ref
        ref = (
            f"{self.config.build.image_prefix}-keep/{ref_part(row.owner.username)}-{row.id}"
            f":{int(time.time() * 1000)}"
        )
        info, kept = self.engine.remake(row.docker_id, self.spec(row, image), keep_as=ref)
        row.docker_id = info.id
        if kept:
            row.image_ref = kept
        row.save()
        self.set_state(row, ContainerState.CREATED)
        if kept and is_keep_ref(old_ref, self.config.build.image_prefix) and not Snapshot.select().where(
                Snapshot.image_ref == old_ref).exists():
            self.remove_image_quietly(old_ref)

    def _undo_create(self, row: Container) -> None:
        """Nothing is half-done: remove the engine object and the row of a failed create. When the
        store cannot be written now (busy, full), the row keeps this process's marker and reconcile
        rolls it back."""
        if row.docker_id:
            try:
                self.engine.remove(row.docker_id, force=True)
            except EngineError:
                pass
        try:
            Container.delete().where((Container.id == row.id) & (Container.key == row.key)).execute()
        except StoreError:
            pass

    def spec(self, row: Container, image: Image) -> ContainerSpec:
        owner: User = row.owner
        cfg = self.config.notebooks
        env = {
            "OWNER": owner.username,
            "NB_UID": str(owner.uid),
            "NB_GID": str(owner.gid),
            "BASE_URL": row.base_url,
            "JUPYTER_TOKEN": row.token,
            "NOTEBOOK_PORT": str(image.notebook_port),
            "PUBLIC_PORTS": image.public_ports.replace(" ", ""),
        }
        if self.directory.kind == "ldap":
            env["LDAP_URI"] = self.config.directory.uri
            env["LDAP_BASE"] = _parent_dn(self.config.directory.user_base)
        root = self.data
        shares = self.share_mounts.usable_share_mounts(owner)
        # always set: a container made again from a commit must not inherit the old value
        env["NB_GROUPS"] = ",".join(str(gid) for _, gid in shares)
        mounts = (
            Mount(str(root.home_of(owner.username)), f"/home/{owner.username}"),
            # each share the owner may use, on its own: a container never sees the others' names
            *(Mount(str(root.share_of(name)), f"/data/shares/{name}") for name, _ in shares),
            Mount(str(root.public), "/data/public"),
        )
        memory = row.memory or image.memory or cfg.memory
        cpus = row.cpus if row.cpus is not None else (image.cpus if image.cpus is not None else cfg.cpus)
        public = {int(k): v for k, v in json.loads(row.public_ports or "{}").items()}
        return ContainerSpec(
            name=engine_name(owner.uid, row.name),
            image=row.image_ref or image.ref,
            labels=managed_labels(self.instance_id, owner.username, row.id, image.name, row.key)
            | {SHARE_GIDS_LABEL: _share_gids(shares)},
            environment=env,
            mounts=mounts,
            command=image.command or None,
            notebook_port=image.notebook_port,
            host_port=row.host_port,
            bind_address=cfg.bind_address,
            public_ports=public,
            memory_bytes=validation.memory(memory),
            nano_cpus=int(float(cpus) * 1e9),
            pids_limit=cfg.pids,
            hostname=row.name[:63],
            group_add=tuple(gid for _, gid in shares),
        )

    # ------------------------------------------------------------------ lifecycle

    def start_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self._lifecycle(actor, container_id, "start", lambda e, d: e.start(d))

    def stop_container(self, actor: Actor, container_id: int) -> ContainerView:
        timeout = self.config.notebooks.stop_timeout
        return self._lifecycle(actor, container_id, "stop", lambda e, d: e.stop(d, timeout=timeout))

    def restart_container(self, actor: Actor, container_id: int) -> ContainerView:
        timeout = self.config.notebooks.stop_timeout
        return self._lifecycle(actor, container_id, "restart", lambda e, d: e.restart(d, timeout=timeout))

    def suspend_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self._lifecycle(actor, container_id, "suspend", lambda e, d: e.pause(d))

    def resume_container(self, actor: Actor, container_id: int) -> ContainerView:
        return self._lifecycle(actor, container_id, "resume", lambda e, d: e.unpause(d))

    def _lifecycle(
        self, actor: Actor, container_id: int, action: str, call: Callable[[Engine, str], object]
    ) -> ContainerView:
        row = self.visible(actor, container_id, f"container.{action}")
        target = f"{row.owner.username}/{row.name}"
        if not row.docker_id:
            raise NotFound(
                f"{target} has no engine container. Run reconcile (E in Containers, or `ipynbsrv-tui "
                "reconcile`) to repair it."
            )
        if row.state == ContainerState.MISSING.value:
            self.audit(actor, f"container.{action}", target, "failed", "engine container gone")
            raise Conflict(gone_advice(target, row.snapshots.count()))
        if action in ("start", "restart", "resume") and row.state not in RUNNING_STATES:
            self._check_running_quota(actor, row.owner.id, row.id)
        try:
            if action in ("start", "restart"):
                self._apply_share_changes(row)
            call(self.engine, row.docker_id)
        except NotFound as exc:  # removed behind our back, before its event reached the store
            self.audit(actor, f"container.{action}", target, "failed", str(exc))
            if self._engine_lost(row):
                self.set_state(row, ContainerState.MISSING)
                raise Conflict(gone_advice(target, row.snapshots.count())) from None
            raise
        except Exception as exc:
            self.audit(actor, f"container.{action}", target, "failed", str(exc))
            raise
        started = action in ("start", "restart")
        self.set_state(row, ACTION_STATES[action], started=started)
        self.audit(actor, f"container.{action}", target)
        if started:
            self.readiness.watch_readiness(row.id)
        return self.view(row, actor)

    def _engine_lost(self, row: Container) -> bool:
        """Whether the row's engine container is gone (not merely unreachable)."""
        try:
            self.engine.inspect(row.docker_id)
        except NotFound:
            return True
        except EngineError:
            return False
        return False

    def recreate_container(self, actor: Actor, container_id: int) -> ContainerView:
        """Make a notebook whose engine container is gone again from its image: same name, port,
        token, URL and home; it is left stopped."""
        row = self.visible(actor, container_id, "container.recreate")
        target = f"{row.owner.username}/{row.name}"
        if row.docker_id and not self._engine_lost(row):
            raise Conflict(f"{target} still has its engine container: there is nothing to recreate.")
        ref = row.image_ref or (row.image.ref if row.image else "")
        if not ref or not self.engine.image_exists(ref):
            raise NotFound(
                f"The image {ref or '(none)'} of {target} is gone from the engine as well: restore a "
                "snapshot or delete the notebook."
            )
        info = self.engine.create(self.spec(row, row.image))
        row.docker_id = info.id
        row.save()
        self.set_state(row, ContainerState.CREATED)
        self.audit(actor, "container.recreate", target)
        return self.view(row, actor)

    def delete_container(self, actor: Actor, container_id: int) -> None:
        """Remove the engine container, its snapshot images and the store row."""
        row = self.visible(actor, container_id, "container.delete")
        owner = row.owner.username
        target = f"{owner}/{row.name}"
        if row.docker_id:
            self.engine.remove(row.docker_id, force=True)
        for snapshot in row.snapshots:
            self.remove_image_quietly(snapshot.image_ref)
        if row.image_ref and row.image and row.image_ref != row.image.ref:
            still_used = Container.select().where(
                (Container.image_ref == row.image_ref) & (Container.id != row.id)
            ).exists()
            if not still_used:
                self.remove_image_quietly(row.image_ref)
        with database_proxy.atomic():
            Container.update(clone_of=None).where(Container.clone_of == row).execute()
            row.delete_instance(recursive=False)
        self.audit(actor, "container.delete", target)
        # The engine's destroy event came while the row still existed (it read as "missing"):
        # say that it is gone, so that the owner's open screen drops it at once.
        self.announce(ContainerChange(container_id, "delete", None, owner=owner))

    def remove_image_quietly(self, ref: str) -> None:
        try:
            self.engine.remove_image(ref, force=True)
        except EngineError:
            pass

    # ------------------------------------------------------------------ copies

    def clone_container(self, actor: Actor, container_id: int, new_name: str) -> ContainerView:
        """A new container of the same owner from a commit of this one (its home is shared anyway)."""
        new_name = validation.container_name(new_name)
        source = self.visible(actor, container_id, "container.clone")
        # A clone is a new container: the owner's ceilings apply to the limits it copies (an admin
        # may have given the source more than its owner may choose).
        self._check_limits(actor, source.image, source.memory, source.cpus, "container.clone")
        owner = source.owner
        if Container.select().where((Container.owner == owner) & (Container.name == new_name)).exists():
            raise AlreadyExists(
                f"{owner.username} already has a container named {new_name!r}. Choose another name."
            )
        ref = (
            f"{self.config.build.image_prefix}-clones/{ref_part(owner.username)}-{ref_part(source.name)}"
            f"-{source.id}:{new_name}-{int(time.time())}"
        )
        self.engine.commit(
            engine_id(source), ref, labels={"ipynbsrv.clone-of": str(source.id)} | self.instance_labels
        )
        try:
            return self._create_from(
                actor, owner, new_name, source.image, ref, source.description, source.memory, source.cpus,
                clone_of=source, start=source.state == ContainerState.RUNNING.value,
            )
        except Exception:
            self.remove_image_quietly(ref)
            raise

    # ------------------------------------------------------------------ helpers

    def visible(self, actor: Actor, container_id: int, action: str) -> Container:
        # Only the owner's columns every caller needs: fewer columns make a noticeably cheaper query
        # on the broker's hot path; the image loads on demand for the few actions that use it.
        row: Container | None = (Container.select(Container, User.id, User.username, User.uid, User.gid)
                                 .join(User).where(Container.id == container_id).first())
        if row is None:
            raise NotFound(_no_container(container_id))
        if not authz.can_act_on_container(actor, row.owner.username):
            raise self.hide(actor, action, f"container {container_id}", _no_container(container_id))
        return row

    def _require_image_use(self, actor: Actor, image: Image, target: str) -> None:
        groups = [access.group.name for access in image.access]
        owner = image.owner.username if image.owner_id else None
        if image.retired:
            raise ValidationError(f"Image {image.name!r} is retired: pick another image.")
        if not authz.can_use_image(
            actor, owner=owner, is_public=image.is_public, retired=False, access_groups=groups
        ):
            raise self.refuse(actor, "container.create", target, f"You may not use image {image.name!r}.")

    def user_row(self, username: str) -> User:
        try:
            return self._mirror_user(username)
        except NotFound:
            raise NotFound(
                f"User {username!r} is not in the directory. Create or sync the user first."
            ) from None

    def set_state(self, row: Container, state: ContainerState, started: bool = False) -> None:
        """Record a new state; `started` (a start or restart) also clears the last activity, so the
        notebook reads `starting` until it answers (DESIGN §5)."""
        row.state = state.value
        row.state_changed = utcnow()
        changes = {Container.state: row.state, Container.state_changed: row.state_changed}
        if started:
            row.last_activity = None
            row.started = row.state_changed
            changes[Container.last_activity] = None
            changes[Container.started] = row.started
        Container.update(changes).where(Container.id == row.id).execute()
        if self.swarm_mode and row.docker_id:
            placement = (
                self.engine.inspect(row.docker_id).placement if state is ContainerState.RUNNING else None
            )
            record_placement(row.id, placement)

    def _url_host(self) -> str:
        """The host in notebook URLs: loopback (reached through `ssh -L`), this host, or the bind address."""
        address = self.config.notebooks.bind_address
        if address in LOOPBACK:
            return "127.0.0.1"
        return self.public_host() if address in ("0.0.0.0", "::") else address

    def _tunnel_target(self) -> str:
        address = self.config.notebooks.bind_address
        return "127.0.0.1" if address in ("0.0.0.0", "::") else address

    def view(self, row: Container, actor: Actor) -> ContainerView:
        return self._views(actor, container_id=row.id)[0]

    def _views(
        self, actor: Actor, owner: str | None = None, container_id: int | None = None
    ) -> list[ContainerView]:
        """Views of every container, one owner's, or one container, from plain rows (model objects
        cost ~50 µs each, too much for 10,000; so does a dict per row)."""
        rows = _view_rows(owner, container_id)
        sources = {row[_CLONE_OF] for row in rows if row[_CLONE_OF]}
        names = (
            dict(Container.select(Container.id, Container.name).where(Container.id.in_(sources)).tuples())
            if sources
            else {}
        )
        defaults = self.config.notebooks
        host = self._url_host()
        swarm = self.swarm_mode
        sizes: dict[str, int] = {}
        views = []
        for (
            cid,
            name,
            image_ref,
            state_value,
            host_port,
            description,
            token,
            base_url,
            docker_id,
            created,
            state_changed,
            started,
            last_activity,
            clone_of,
            memory,
            cpus,
            public_ports,
            node_name,
            node_address,
            node_lost,
            owner_name,
            image_name,
            image_memory,
            image_cpus,
        ) in rows:
            allowed = authz.can_act_on_container(actor, owner_name)
            memory = memory or image_memory or defaults.memory
            if memory not in sizes:
                sizes[memory] = validation.memory(memory)
            cpus = cpus if cpus is not None else (image_cpus if image_cpus is not None else defaults.cpus)
            state = _STATES.get(state_value, ContainerState.UNKNOWN)
            last_activity = _moment(last_activity)
            if state is ContainerState.RUNNING and last_activity is None:
                state = ContainerState.STARTING
            url_host = (node_address or host) if swarm else host
            views.append(
                ContainerView(
                    id=cid,
                    name=name,
                    owner=owner_name,
                    image=image_name or "",
                    image_ref=image_ref,
                    state=state,
                    host_port=host_port,
                    description=description[: validation.DESCRIPTION_MAX],  # rows made before the limit
                    url=f"http://{url_host}:{host_port}{base_url}?token={token}" if allowed else None,
                    token=token if allowed else None,
                    docker_id=docker_id,
                    created=_moment(created),
                    started_at=_moment(started or state_changed) if state in _UP_STATES else None,
                    last_activity=last_activity,
                    clone_of=names.get(clone_of),
                    memory_limit=sizes[memory],
                    cpus=float(cpus),
                    public_ports=json.loads(public_ports) if public_ports not in ("", "{}") else {},
                    ready=state is ContainerState.RUNNING,
                    node=node_name,
                    node_lost=bool(node_lost),
                )
            )
        return views


# `_views` unpacks the rows in exactly this order.
VIEW_COLUMNS = (
    Container.id,
    Container.name,
    Container.image_ref,
    Container.state,
    Container.host_port,
    Container.description,
    Container.token,
    Container.base_url,
    Container.docker_id,
    Container.created,
    Container.state_changed,
    Container.started,
    Container.last_activity,
    Container.clone_of.alias("clone_of"),
    Container.memory,
    Container.cpus,
    Container.public_ports,
    Container.node_name,
    Container.node_address,
    Container.node_lost,
    User.username.alias("owner"),
    Image.name.alias("image_name"),
    Image.memory.alias("image_memory"),
    Image.cpus.alias("image_cpus"),
)


# The view query's SQL, built once per shape: building it is most of a small call's cost
# (0.3 ms of peewee per query), which the broker pays for every user's list.
_VIEW_SQL: dict[str, str] = {}
_CLONE_OF = 13  # the position of clone_of in VIEW_COLUMNS
_STATES = {state.value: state for state in ContainerState}
# States whose row shows how long the notebook has been up (a paused one is still up, as in `docker ps`).
_UP_STATES = (ContainerState.STARTING, ContainerState.RUNNING, ContainerState.PAUSED)


def _view_rows(owner: str | None, container_id: int | None) -> list[tuple[Any, ...]]:
    shape, params = ("id", [container_id]) if container_id is not None else (
        ("owner", [owner]) if owner else ("all", []))
    sql = _VIEW_SQL.get(shape)
    if sql is None:
        query = _with_owner_and_image(Container.select(*VIEW_COLUMNS)).order_by(User.username, Container.name)
        if shape == "id":
            query = query.where(Container.id == 0)
        elif shape == "owner":
            query = query.where(User.username == "")
        sql, template = query.sql()
        assert len(template) == len(params), "the view query takes exactly its one filter value"
        _VIEW_SQL[shape] = sql
    rows: list[tuple[Any, ...]] = database_proxy.execute_sql(sql, params).fetchall()
    return rows


def _moment(value: Any) -> datetime | None:
    """A stored DateTimeField value as peewee reads it, without peewee's per-value overhead."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return cast(datetime | None, Container.created.python_value(value))


def _with_owner_and_image(query: Any) -> Any:
    """Join owner and image so that views need no further queries."""
    return query.join(User).switch(Container).join(Image, join_type=JOIN.LEFT_OUTER)


def record_placement(container_id: int, placement: Placement | None) -> None:
    """Store where a swarm-mode notebook runs (nothing: it runs nowhere)."""
    Container.update(
        node_id=placement.node_id if placement else "", node_name=placement.node_name if placement else "",
        node_address=placement.address if placement else "", node_lost=placement.lost if placement else False,
    ).where(Container.id == container_id).execute()


def _no_container(container_id: object) -> str:
    """The one answer for a container that does not exist or that the caller may not see."""
    return f"Container {container_id} does not exist (it may have been deleted)."


def engine_id(row: Container) -> str:
    """The container's engine id; NotFound when the store has none (the engine is not asked)."""
    if not row.docker_id:
        raise NotFound(
            f"{row.owner.username}/{row.name} has no engine container. Run reconcile (E in Containers, or "
            "`ipynbsrv-tui reconcile`) to repair it."
        )
    return str(row.docker_id)


def _parent_dn(dn: str) -> str:
    """`ou=people,dc=example,dc=org` → `dc=example,dc=org` (the search base for nslcd)."""
    return dn.split(",", 1)[1] if "," in dn else dn
