"""Actions on one notebook container, shared by the Containers, My notebooks and details screens.

Every session call runs in a thread worker; the answer updates the container book at once and
the engine event confirms it a moment later. Destructive actions ask first (Cancel is the
default): also a stop or restart, which loses the running kernels, unless the notebook is idle
by the idle policy. `s` on a paused notebook resumes it (its kernels are kept); `u` is in the
footer whenever the highlighted notebook is paused. Names are asked for in a form that validates
as you type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from textual.app import SuspendNotSupported
from textual.binding import Binding
from textual.screen import Screen

from ... import validation
from ...domain import ConnectionInfo, ContainerState, ContainerView, UserView
from ..account import refused_without_account
from ..background import Background
from ..shell import find_docker, run_shell, shell_banner, shell_command, show_plain
from ..widgets.confirm import ConfirmScreen

RUNNING_STATES = (
    ContainerState.STARTING,
    ContainerState.RUNNING,
    ContainerState.PAUSED,
    ContainerState.RESTARTING,
)
CLIPBOARD_NOTE = "sent to your terminal's clipboard (OSC 52; some terminals need it allowed)"


class ContainerScreen(Background, Screen):
    """Base of the screens that act on the selected container (see `selected_id`)."""

    BINDINGS = [
        Binding("s", "toggle_start", "Start/stop"),
        Binding("r", "restart", "Restart"),
        Binding("p", "suspend", "Suspend", show=False),
        # Shown while the highlighted notebook is paused; otherwise `u` falls through to the next.
        Binding("u", "resume_selected", "Resume"),
        Binding("u", "resume", "Resume", show=False),
        Binding("d", "delete", "Delete"),
        Binding("c", "clone", "Clone", show=False),
        Binding("t", "snapshot", "Snapshot", show=False),
        Binding("R", "restore", "Restore snapshot", show=False, key_display="R"),
        Binding("m", "commit", "Commit to image", show=False),
        Binding("y", "copy_url", "Copy URL", show=False),
        Binding("Y", "copy_tunnel", "Copy ssh -L", show=False, key_display="Y"),
        Binding("x", "shell", "Shell as owner", show=False),
        Binding("o", "show_url", "URL as plain text", show=False),
    ]

    def selected_id(self) -> int | None:
        """The container the actions apply to (the highlighted row, or the details' container)."""
        return None

    def selected(self) -> ContainerView | None:
        view = self.app.book.get(self.selected_id())
        if view is None:
            self.app.notify("Select a container first.", severity="warning", markup=False)
        return view

    # ------------------------------------------------------------------ running calls

    def call_session(
        self,
        doing: str,
        done: str,
        fn: Callable[..., Any],
        *args: Any,
        removes: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Run a session action off the UI thread, saying `doing` now and `done` when it answered;
        a ContainerView answer goes into the book, `removes` leaves it."""
        self.run_call(fn, *args, then=partial(self._done, done, removes), notify_start=doing,
                      group="container-actions", **kwargs)

    def _done(self, done: str, removes: int | None, result: Any) -> None:
        if isinstance(result, ContainerView):
            self.app.book.put(result)
        elif removes is not None:
            self.app.book.remove(removes)
        self.app.notify(done, markup=False)

    # ------------------------------------------------------------------ lifecycle

    def action_toggle_start(self) -> None:
        view = self.selected()
        if view is None:
            return
        if view.state == ContainerState.MISSING:
            self.offer_recreate(view)
        elif view.state == ContainerState.PAUSED:
            # A stop here would lose the kernels the pause kept: `s` brings it back instead.
            self.call_session(f"Resuming {_label(view)}…",
                              f"Resumed {_label(view)}: it was paused, its kernels are as they were.",
                              self.app.session.resume_container, view.id)
        elif view.state in RUNNING_STATES:
            self._confirm_kernel_loss(
                view,
                "Stop",
                "Keep running",
                lambda: self.call_session(
                    f"Stopping {_label(view)}…",
                    f"Stopped {_label(view)}.",
                    self.app.session.stop_container,
                    view.id,
                ),
            )
        else:
            self.call_session(
                f"Starting {_label(view)}…",
                f"Started {_label(view)}.",
                self.app.session.start_container,
                view.id,
            )

    def offer_recreate(self, view: ContainerView) -> None:
        """A notebook whose engine container was removed outside ipynbsrv: make it again from its image."""
        question = (
            f"The engine container of {_label(view)} is gone (removed outside ipynbsrv). Recreate it from "
            f"its image? Name, port, token and the home folder of {view.owner} stay; it starts stopped. "
            "(R restores a snapshot instead, d deletes it.)"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_session(f"Recreating {_label(view)}…", f"Recreated {_label(view)}; s starts it.",
                                  self.app.session.recreate_container, view.id)

        self.app.push_screen(ConfirmScreen(question, "Recreate", "Keep as is"), answered)

    def action_restart(self) -> None:
        if (view := self.selected()) and view.state == ContainerState.MISSING:
            self.offer_recreate(view)
        elif view:
            self._confirm_kernel_loss(
                view,
                "Restart",
                "Keep running",
                lambda: self.call_session(
                    f"Restarting {_label(view)}…",
                    f"Restarted {_label(view)}.",
                    self.app.session.restart_container,
                    view.id,
                ),
            )

    def _confirm_kernel_loss(
        self, view: ContainerView, verb: str, keep: str, act: Callable[[], None]
    ) -> None:
        """Ask before an action that ends the running kernels (Cancel is the default), unless there are
        none yet (starting) or the notebook is idle by the idle policy."""
        if view.state not in (ContainerState.RUNNING, ContainerState.PAUSED) or self._idle(view):
            act()
            return
        question = (f"{verb} {_label(view)}? Its running kernels end and the variables in them are lost; "
                    "files saved in the notebook stay.")

        def answered(yes: bool | None) -> None:
            if yes:
                act()

        self.app.push_screen(ConfirmScreen(question, f"{verb}, losing kernels", keep), answered)

    def _idle(self, view: ContainerView) -> bool:
        """Idle by the policy: no activity for longer than `[notebooks] idle_timeout` (when there is one)."""
        timeout = self.app.config.notebooks.idle_timeout
        last = view.last_activity
        if timeout <= 0 or last is None:
            return False
        last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
        return datetime.now(UTC) - last > timedelta(seconds=timeout)

    def action_suspend(self) -> None:
        if view := self.selected():
            if not view.up:
                self.app.notify(
                    f"{_label(view)} is {view.state.value}; only a running container can be suspended.",
                    severity="warning",
                    markup=False,
                )
                return
            self.call_session(
                f"Suspending {_label(view)}…",
                f"Suspended {_label(view)}.",
                self.app.session.suspend_container,
                view.id,
            )

    def action_resume_selected(self) -> None:
        self.action_resume()

    def action_resume(self) -> None:
        """Resume the selected suspended notebook; otherwise all of your own suspended notebooks."""
        view = self.app.book.get(self.selected_id())
        if view is not None and view.state == ContainerState.PAUSED:
            self.call_session(f"Resuming {_label(view)}…", f"Resumed {_label(view)}.",
                              self.app.session.resume_container, view.id)
        else:
            self.resume_own()

    def resume_own(self) -> None:
        self.run_call(self.app.session.resume_suspended, then=self._resumed_own, group="container-actions")

    def _resumed_own(self, resumed: list[ContainerView]) -> None:
        for view in resumed:
            self.app.book.put(view)
        names = ", ".join(view.name for view in resumed)
        self.app.notify(f"Resumed {names}." if resumed else "You have no suspended notebooks.", markup=False)

    def action_delete(self) -> None:
        view = self.selected()
        if view is None:
            return
        question = (f"Delete notebook container {_label(view)}? The container and its snapshots are removed; "
                    f"the home folder of {view.owner} stays.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_session(
                    f"Deleting {_label(view)}…",
                    f"Deleted {_label(view)}.",
                    self.app.session.delete_container,
                    view.id,
                    removes=view.id,
                )

        self.app.push_screen(ConfirmScreen(question, "Delete"), answered)

    # ------------------------------------------------------------------ copies

    def action_clone(self) -> None:
        from ..widgets.forms import FieldSpec, FormScreen  # loaded on first use: the first screen is sooner

        view = self.selected()
        if view is None:
            return
        form = FormScreen(
            f"Clone {_label(view)}",
            [FieldSpec("name", "Name of the copy", value=f"{view.name}-copy", required=True,
                   check=validation.container_name, hint="Letters, digits, '_', '.', '-'.")],
            submit_label="Clone",
        )

        def answered(values: dict | None) -> None:
            if values:
                name = values["name"].strip()
                self.call_session(f"Cloning {_label(view)} to {name}…", f"Cloned {_label(view)} to {name}.",
                                  self.app.session.clone_container, view.id, name)

        self.app.push_screen(form, answered)

    def action_snapshot(self) -> None:
        from ..widgets.forms import FieldSpec, FormScreen  # loaded on first use: the first screen is sooner

        view = self.selected()
        if view is None:
            return
        form = FormScreen(
            f"Snapshot {_label(view)}",
            [
                FieldSpec("name", "Snapshot name", placeholder="e.g. before-upgrade", required=True,
                      check=validation.container_name),
                FieldSpec("description", "Description", placeholder="optional", check=validation.description),
            ],
            submit_label="Snapshot",
        )

        def answered(values: dict | None) -> None:
            if values:
                name = values["name"].strip()
                self.call_session(
                    f"Taking snapshot {name} of {_label(view)}…",
                    f"Snapshot {name} of {_label(view)} saved.",
                    self.app.session.snapshot_container,
                    view.id,
                    name,
                    values["description"].strip(),
                )

        self.app.push_screen(form, answered)

    def action_restore(self) -> None:
        if view := self.selected():
            self._pick_snapshot(view)

    def _pick_snapshot(self, view: ContainerView) -> None:
        self.run_call(self.app.session.list_snapshots, view.id, then=partial(self._choose_snapshot, view),
                      group="container-actions")

    def _choose_snapshot(self, view: ContainerView, snapshots: list) -> None:
        if not snapshots:
            self.app.notify(f"{_label(view)} has no snapshots yet: take one with t.", severity="warning",
                            markup=False)
            return
        options = []
        for snap in reversed(snapshots):
            when = snap.created.strftime("%Y-%m-%d %H:%M") if snap.created else ""
            extra = f" — {snap.description}" if snap.description else ""
            options.append((f"{snap.name}  {when}{extra}", snap))

        def chosen(snapshot) -> None:
            if snapshot is None:
                return
            question = (
                f"Restore {_label(view)} to snapshot {snapshot.name}? The container is re-created from "
                "the snapshot (same URL and token); changes made since, outside the home folder, are lost."
            )

            def answered(yes: bool | None) -> None:
                if yes:
                    self.call_session(
                        f"Restoring {_label(view)} to {snapshot.name}…",
                        f"Restored {_label(view)} to {snapshot.name}.",
                        self.app.session.restore_snapshot,
                        view.id,
                        snapshot.id,
                    )

            self.app.push_screen(ConfirmScreen(question, "Restore"), answered)

        from ..widgets.picker import PickerScreen

        self.app.push_screen(PickerScreen(f"Restore {_label(view)} to which snapshot?", options), chosen)

    def action_commit(self) -> None:
        from ..widgets.forms import FieldSpec, FormScreen

        view = self.selected()
        if view is None or refused_without_account(self.app, "own a committed image"):
            return
        is_admin = self.app.session.actor.is_admin
        form = FormScreen(
            f"Commit {_label(view)} to a new image",
            [
                FieldSpec(
                    "name",
                    "Image name",
                    required=True,
                    check=validation.image_name,
                    placeholder="e.g. my-analysis-env",
                ),
                FieldSpec("description", "Description", placeholder="optional", check=validation.description),
                FieldSpec(
                    "public",
                    "Public (everyone may use it)",
                    kind="switch",
                    value=False,
                    disabled=not is_admin,
                    hint="" if is_admin else "Only admins may publish images; yours stays private.",
                ),
            ],
            submit_label="Commit",
        )

        def answered(values: dict | None) -> None:
            if values:
                name = values["name"].strip()
                self.call_session(
                    f"Committing {_label(view)} to image {name}…",
                    f"Image {name} registered from {_label(view)}.",
                    self.app.session.commit_container,
                    view.id,
                    name,
                    values["description"].strip(),
                    bool(values["public"]),
                )

        self.app.push_screen(form, answered)

    # ------------------------------------------------------------------ connection

    def action_copy_url(self) -> None:
        view = self.selected()
        if view is None:
            return
        if view.state == ContainerState.MISSING:
            self._say_engine_gone(view)
            return
        if not view.url:
            self.app.notify(
                "The URL of this container is not visible to you.", severity="warning", markup=False
            )
            return
        self.app.copy_to_clipboard(view.url)
        note = (
            ""
            if view.state != ContainerState.STARTING
            else f"\n{_label(view)} is {view.state.value}: the URL works once the notebook answers."
        )
        self.app.notify(f"URL of {_label(view)} {CLIPBOARD_NOTE}:\n{view.url}{note}", markup=False)

    def action_copy_tunnel(self) -> None:
        if (view := self.selected()) and view.state == ContainerState.MISSING:
            self._say_engine_gone(view)
        elif view:
            self._copy_tunnel(view)

    def _say_engine_gone(self, view: ContainerView) -> None:
        self.app.notify(
            f"{_label(view)} has no URL: its engine container is gone. s recreates it, R restores a "
            "snapshot, d deletes it.",
            severity="warning",
            markup=False,
        )

    def _copy_tunnel(self, view: ContainerView) -> None:
        def copy(info: ConnectionInfo) -> None:
            self.app.copy_to_clipboard(info.tunnel_command)
            self.app.notify(
                f"ssh -L command {CLIPBOARD_NOTE}:\n{info.tunnel_command}\nthen open {info.local_url}",
                markup=False,
            )

        self.app.book.fetch_connection(view.id, then=copy)


    def action_show_url(self) -> None:
        """The URL (and the ssh command) alone on the terminal, so it can be selected in one piece."""
        view = self.selected()
        if view is None:
            return
        if view.state == ContainerState.MISSING:
            self._say_engine_gone(view)
            return
        if not view.url or view.state == ContainerState.STARTING:
            self.app.notify("The URL is offered once the notebook answers.", severity="warning", markup=False)
            return
        info = self.app.book.connections.get(view.id)
        lines = [view.url] + ([f"or through ssh: {info.tunnel_command}", f"then open {info.local_url}"]
                              if info is not None else [])
        try:
            with self.app.suspend():
                show_plain(f"{_label(view)}:", lines)
        except SuspendNotSupported:
            self.app.notify("\n".join(lines), title=f"URL of {_label(view)}", markup=False, timeout=20)

    # ------------------------------------------------------------------ shell

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "shell":
            return self.app.session.actor.is_admin  # admins only; hidden from everyone else
        if action == "resume_selected":  # False: hidden, and `u` falls through to "resume your own"
            view = self.app.book.get(self.selected_id())
            return view is not None and view.state == ContainerState.PAUSED
        return True

    def action_shell(self) -> None:
        """Open a shell in the selected running container as its owner (embedded mode only)."""
        view = self.selected()
        if view is None:
            return
        if self.app.session.mode != "embedded":
            self.app.notify(
                "x opens a shell only when ipynbsrv-tui talks to the engine itself (embedded mode); "
                "through the broker it cannot. Run it on the host as an admin.",
                severity="warning",
                markup=False,
            )
            return
        if view.state not in (ContainerState.RUNNING, ContainerState.STARTING) or not view.docker_id:
            self.app.notify(f"{_label(view)} is {view.state.value}: start it (s) first.", severity="warning",
                            markup=False)
            return
        if find_docker() is None:
            self.app.notify("The docker command is not installed here; x needs it for `docker exec`.",
                            severity="error", markup=False)
            return
        self.run_call(self.app.session.get_user, view.owner, then=lambda owner: self._open_shell(view, owner),
                      title=f"No shell in {_label(view)}")

    def _open_shell(self, view: ContainerView, owner: UserView) -> None:
        docker = find_docker() or "docker"
        command = shell_command(view, owner, self.app.config.docker.url, docker)
        try:
            with self.app.suspend():
                status = run_shell(command, shell_banner(view, owner))
        except SuspendNotSupported:
            self.app.notify("This terminal cannot hand itself over to a shell (e.g. in a browser).",
                            severity="warning", markup=False)
            return
        if status not in (0, 130):
            self.app.notify(f"The shell in {_label(view)} ended with status {status}.", severity="warning",
                            markup=False)


def _label(view: ContainerView) -> str:
    return f"{view.owner}/{view.name}"
