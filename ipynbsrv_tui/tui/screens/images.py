"""The Images section: registered images, registering, editing, retiring, deleting, building."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from ...domain import ImageView
from ..background import Background
from ..widgets import format as fmt
from ..widgets.confirm import ConfirmScreen
from ..widgets.filterbar import FilterBar, matches
from ..widgets.footer import KeysFooter
from ..widgets.statusbar import StatusBar
from ..widgets.table import Column, VirtualTable
from .build import BuildFormScreen, BuildRequest, BuildScreen, FolderPickerScreen
from .build_history import BuildHistoryScreen, status_text
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


def image_details(view: ImageView | None) -> Text:
    """The lines under the table about the highlighted image."""
    if view is None:
        return Text("n register an image · b build one · h build history", style="dim")
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


class ImagesScreen(Background, Screen):
    """Registered images (admins): name, ref, notebook port, public, owner, containers using it and
    the last build's status. `n` register, `e`/Enter edit, `t` retire or unretire, `d` delete,
    `b` build, `h` build history, `/` filter."""

    DEFAULT_CSS = """
    ImagesScreen #image-details { height: 4; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("n", "register", "Register"),
        Binding("e", "edit", "Edit"),
        Binding("b", "build", "Build"),
        Binding("h", "history", "Builds"),
        Binding("t", "retire", "Retire"),
        Binding("d", "delete", "Delete"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f5", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, ImageView] = {}
        self._move_to: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("Images")
        yield FilterBar("filter by name, ref, owner or description", id="image-filter")
        yield VirtualTable(
            COLUMNS, self._row, id="images",
            empty_text="No images registered yet: n registers one from the engine, b builds one.",
        )
        yield Static(image_details(None), id="image-details")
        yield KeysFooter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#images", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        self.run_call(self.app.session.list_images, then=self.show_images, group="load", exclusive=True,
                  title="Cannot list the images")

    def show_images(self, views: list[ImageView]) -> None:
        self.images = {view.name: view for view in views}
        self._apply_filter()
        if self._move_to is not None and self.table.move_to(self._move_to):
            self._move_to = None

    def _apply_filter(self) -> None:
        query = self.query_one(FilterBar).value
        keys = [
            name for name, v in self.images.items()
            if matches(query, v.name, v.ref, v.owner or "system", v.description)
        ]
        self.table.set_rows(keys)
        self.table.refresh_rows()
        self._show_details()

    def _row(self, name: str):
        return image_row(self.images[name])

    def current(self) -> ImageView | None:
        key = self.table.cursor_key
        return self.images.get(key) if key is not None else None

    def _selected_or_warn(self) -> ImageView | None:
        view = self.current()
        if view is None:
            self.app.notify("No image selected.", severity="warning", markup=False)
        return view

    def _show_details(self) -> None:
        self.query_one("#image-details", Static).update(image_details(self.current()))

    @on(VirtualTable.RowHighlighted, "#images")
    def _highlighted(self, _event: VirtualTable.RowHighlighted) -> None:
        self._show_details()

    @on(VirtualTable.RowSelected, "#images")
    def _selected(self, event: VirtualTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    @on(Input.Changed, "#image-filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self._apply_filter()

    @on(FilterBar.Done)
    def _filter_done(self, _event: FilterBar.Done) -> None:
        self.table.focus()

    # ------------------------------------------------------------------ actions

    def action_register(self) -> None:
        self.app.push_screen(RegisterImageScreen(), self._saved)

    def action_edit(self) -> None:
        view = self._selected_or_warn()
        if view is not None:
            self.app.push_screen(RegisterImageScreen(view), self._saved)

    def _saved(self, view: ImageView | None) -> None:
        if view is not None:
            self.app.notify(f"Saved image {view.name} ({view.ref}).", title="Image saved", markup=False)
            self._move_to = view.name
            self.action_reload()

    def action_retire(self) -> None:
        """Retiring asks first (new containers can no longer use the image); unretiring does not."""
        view = self._selected_or_warn()
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
        view = self._selected_or_warn()
        if view is None:
            return
        question = (
            f"Delete the registration of image {view.name} ({view.ref})? "
            "The engine image stays; nobody can create containers from it here any more."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_call(self.app.session.delete_image, view.name, then=lambda _none: self._deleted(view),
                          title=f"Image {view.name} not deleted")

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
