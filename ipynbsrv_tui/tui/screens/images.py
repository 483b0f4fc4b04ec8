"""The Images section: registered images, registering, editing, retiring, deleting, building."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.binding import Binding

from ...domain import ImageView
from ..widgets import format as fmt
from ..widgets.confirm import ConfirmScreen
from ..widgets.table import Column
from .build import BuildFormScreen, BuildRequest, BuildScreen, FolderPickerScreen
from .build_history import BuildHistoryScreen, status_text
from .listscreen import ListScreen
from .register import RegisterImageScreen

COLUMNS = (
    Column("name", "Name", 14, grow=1),  # "tiny (retired)" fits at 80 columns
    Column("ref", "Ref", 18, grow=2),
    Column("description", "Description", 8, grow=2),
    Column("port", "Port", 5, justify="right"),
    Column("public", "Public", 6),
    Column("owner", "Owner", 8),
    Column("containers", "Used", 4, justify="right"),
    Column("build", "Last build", 10),
)


def image_row(view: ImageView) -> tuple[Text | str, ...]:
    """The table cells of one image, as plain text."""
    name = Text(view.name)
    if view.retired:
        name.stylize("dim")
        name.append(" (retired)", style="dim italic")
    return (
        name,
        Text(view.ref),
        Text(fmt.printable(view.description)),
        str(view.notebook_port),
        "yes" if view.is_public else "no",
        Text(view.owner or "system", style="" if view.owner else "dim"),
        str(view.containers),
        status_text(view.last_build_status),
    )


def image_details(view: ImageView) -> Text:
    """The lines under the table about the highlighted image."""
    text = Text()
    text.append(view.name, style="bold")
    text.append(f"  {view.ref}")
    if view.docker_id:
        text.append(f"  {view.docker_id[:19]}", style="dim")
    if view.retired:
        text.append("  retired: hidden from new containers", style="yellow")
    text.append("\n")
    text.append(view.description or "(no description)", style="" if view.description else "dim")
    text.append("\n")
    parts = [f"command: {view.command or '(the image’s own)'}"]
    if view.public_ports:
        parts.append("public ports: " + ", ".join(str(p) for p in view.public_ports))
    if not view.is_public:
        parts.append("groups: " + (", ".join(view.access_groups) or "(none: admins only)"))
    parts.append(f"memory: {view.memory or 'default'}")
    parts.append(f"CPUs: {view.cpus:g}" if view.cpus is not None else "CPUs: default")
    if view.source_folder:
        parts.append(f"from {view.source_folder}")
    text.append(" · ".join(parts), style="dim")
    return text


class ImagesScreen(ListScreen):
    """Registered images (admins): name, ref, notebook port, public, owner, containers using it and
    the last build's status. `n` register, `e`/Enter edit, `t` retire or unretire, `d` delete,
    `b` build, `h` build history, `/` filter, f5 reload."""

    DEFAULT_CSS = """
    ImagesScreen #list-details { height: 4; }
    """
    TITLE_TEXT = "Images"
    COLUMNS = COLUMNS
    FILTER_HINT = "filter by name, ref, owner or description"
    EMPTY = "No images registered yet: n registers one from the engine, b builds one."
    HINT = "n register an image · b build one · h build history"
    LOAD_ERROR = "Cannot list the images"
    NOTHING_SELECTED = "No image selected."
    BINDINGS = [
        *ListScreen.FILTER_BINDINGS,  # first: at 80 columns the footer drops keys from its end
        Binding("n", "register", "Register"),
        Binding("e", "edit", "Edit"),
        Binding("b", "build", "Build"),
        Binding("h", "history", "Builds"),
        Binding("t", "retire", "Retire"),
        Binding("d", "delete", "Delete"),
        ListScreen.RELOAD_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__()
        self._move_to: str | None = None

    def load_call(self) -> Callable[[], list[ImageView]]:
        return self.app.session.list_images

    def fields(self, view: ImageView) -> tuple[object, ...]:
        return (view.name, view.ref, view.owner or "system", view.description)

    def row(self, view: ImageView) -> tuple[Text | str, ...]:
        return image_row(view)

    def summary(self, view: ImageView) -> Text:
        return image_details(view)

    def open(self, view: ImageView) -> None:
        self.app.push_screen(RegisterImageScreen(view), self._saved)

    def show_items(self, views: list) -> None:
        super().show_items(views)
        if self._move_to is not None and self.table.move_to(self._move_to):
            self._move_to = None

    # ------------------------------------------------------------------ actions

    def action_register(self) -> None:
        self.app.push_screen(RegisterImageScreen(), self._saved)

    def action_edit(self) -> None:
        self.action_details()

    def _saved(self, view: ImageView | None) -> None:
        if view is not None:
            self.app.notify(f"Saved image {view.name} ({view.ref}).", title="Image saved", markup=False)
            self._move_to = view.name
            self.action_reload()

    def action_retire(self) -> None:
        """Retiring asks first (new containers can no longer use the image); unretiring does not."""
        view = self.selected_or_warn()
        if view is None:
            return
        retire = not view.retired

        def done(updated: ImageView) -> None:
            state = "retired: hidden from new containers" if updated.retired else "back in use"
            self.app.notify(f"Image {updated.name} is {state}.", markup=False)
            self.action_reload()

        def call() -> None:
            self.run_call(self.app.session.retire_image, view.name, retire, then=done,
                          title="Image not retired" if retire else "Image not unretired")

        if not retire:
            call()
            return
        used = f" Its {view.containers} container(s) keep it." if view.containers else ""
        question = (
            f"Retire image {view.name} ({view.ref})? Nobody can create new containers from it "
            f"until you unretire it (t again).{used}"
        )
        self.app.push_screen(ConfirmScreen(question, confirm_label="Retire"),
                             lambda yes: call() if yes else None)

    def action_delete(self) -> None:
        """The service checks first (containers still using the image refuse it), then we ask."""
        view = self.selected_or_warn()
        if view is None:
            return
        question = (
            f"Delete the registration of image {view.name} ({view.ref})? "
            "The engine image stays; nobody can create containers from it here any more."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_call(
                    self.app.session.delete_image,
                    view.name,
                    then=lambda _none: self._deleted(view),
                    title=f"Image {view.name} not deleted",
                )

        self.run_call(self.app.session.delete_image, view.name, check_only=True,
                      then=lambda _none: self.app.push_screen(ConfirmScreen(question), answered),
                      title=f"Image {view.name} cannot be deleted")

    def _deleted(self, view: ImageView) -> None:
        self.app.notify(f"Deleted the registration of {view.name}.", title="Image deleted", markup=False)
        self.action_reload()

    def action_history(self) -> None:
        self.app.push_screen(BuildHistoryScreen())

    def action_build(self) -> None:
        def folder_picked(folder: str | None) -> None:
            if folder:
                self.app.push_screen(BuildFormScreen(folder), form_done)

        def form_done(request: BuildRequest | None) -> None:
            if request is not None:
                self.app.push_screen(BuildScreen(request))

        self.app.push_screen(FolderPickerScreen(), folder_picked)
