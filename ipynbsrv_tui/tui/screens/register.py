"""Register an engine image, or edit a registered one, by keyboard only (DESIGN §6, §9)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from ... import validation
from ...domain import ImageDefaults, ImageInfo, ImageView
from ..background import Background, error_text
from ..widgets.dialog import Dialog
from ..widgets.forms import (
    Field,
    FormSwitch,
    cpus_rule,
    first_invalid,
    group_names_rule,
    image_name_rule,
    memory_rule,
    port_list_rule,
    port_rule,
    reference_rule,
    text_input,
)

# The fields a ref's ipynbsrv.* labels pre-fill (input id -> ImageDefaults attribute).
PREFILLED = {
    "name": "name",
    "description": "description",
    "command": "command",
    "notebook-port": "notebook_port",
    "public-ports": "public_ports",
}
HELP = "Enter save · Esc cancel · Tab next · → completes · Space toggles"


def engine_refs(images: list[ImageInfo]) -> list[str]:
    """Every tag on the engine, sorted, for completing the ref field."""
    return sorted({tag for info in images for tag in info.tags if tag and tag != "<none>:<none>"})


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


class RegisterImageScreen(Background, Dialog[ImageView | None]):
    """The registration form: name, ref (completed from the engine's images), description,
    command template, notebook port, public ports, public flag, access groups and limits.

    Picking a ref pre-fills the fields you have not typed in from the image's `ipynbsrv.*`
    labels. Every field is checked as you type; Enter saves, Escape cancels. With `image`,
    the same form edits that registered image (its name cannot change).
    """

    DEFAULT_CSS = """
    RegisterImageScreen { align: center middle; }
    RegisterImageScreen > #dialog {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    RegisterImageScreen #title { text-style: bold; height: 1; }
    RegisterImageScreen #fields { height: auto; max-height: 100%; }
    RegisterImageScreen #form-status { height: auto; color: $error; }
    RegisterImageScreen #form-status.-info { color: $text-muted; }
    RegisterImageScreen #form-help { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "save", "Save"),
        Binding("ctrl+s", "save", "Save", show=False),
    ]
    AUTO_FOCUS = "Input"  # the name, or the ref when editing (the name is fixed then)

    def __init__(self, image: ImageView | None = None) -> None:
        super().__init__()
        self.image = image
        self.refs: list[str] = []
        self._touched: set[str] = set()
        self._defaults_for: str | None = image.ref if image else None
        self._saving = False
        self._fix_note = False

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        image = self.image
        notebooks = self.app.config.notebooks
        title = f"Edit image {image.name}" if image else "Register an image"
        with Vertical(id="dialog"):
            yield Static(Text(title), id="title")
            with VerticalScroll(id="fields"):
                name = text_input(image.name if image else "", id="name", validators=[image_name_rule()])
                name.disabled = image is not None
                yield Field("Name", name, hint="" if image else "how users see it, e.g. python3")
                yield Field(
                    "Ref",
                    text_input(
                        image.ref if image else "",
                        id="ref",
                        validators=[reference_rule()],
                        placeholder="repository:tag on the engine",
                    ),
                    hint="loading the engine's images…",
                )
                yield Field("Description", text_input(image.description if image else "", id="description",
                                                      optional=True))
                yield Field("Command", text_input(image.command if image else "", id="command", optional=True,
                                                  placeholder="the image's own command"))
                yield Field("Notebook port", text_input(str(image.notebook_port if image else 8888),
                                                        id="notebook-port",
                                                        validators=[port_rule("Notebook port")]))
                yield Field(
                    "Public ports",
                    text_input(
                        _text(image.public_ports) if image else "",
                        id="public-ports",
                        optional=True,
                        validators=[port_list_rule()],
                        placeholder="e.g. 22, 8080",
                    ),
                )
                yield Field("Public", FormSwitch(value=image.is_public if image else True, id="public"),
                            hint="every user may use it (otherwise: the access groups)")
                yield Field("Access groups", text_input(_text(image.access_groups) if image else "",
                                                        id="access-groups", optional=True,
                                                        validators=[group_names_rule()],
                                                        placeholder="comma-separated group names"))
                yield Field("Memory", text_input(image.memory if image else "", id="memory", optional=True,
                                                 validators=[memory_rule()],
                                                 placeholder=f"default {notebooks.memory}, e.g. 512m or 2g"))
                yield Field("CPUs", text_input(_text(image.cpus) if image else "", id="cpus", optional=True,
                                               validators=[cpus_rule()],
                                               placeholder=f"default {notebooks.cpus:g}, e.g. 0.5"))
            yield Static("", id="form-status")
            yield Static(HELP, id="form-help")

    def on_mount(self) -> None:
        self.run_call(
            self.app.session.engine_images, then=self._engine_images_loaded, failed=self._engine_images_failed
        )
        self.run_call(self.app.session.list_groups, then=self._groups_loaded, failed=lambda _exc: None)

    def field(self, input_id: str) -> Field:
        widget = self.query_one(f"#{input_id}")
        parent = widget.parent
        while parent is not None and not isinstance(parent, Field):
            parent = parent.parent
        assert isinstance(parent, Field)
        return parent

    # ------------------------------------------------------------------ loading

    def _engine_images_loaded(self, images: list[ImageInfo]) -> None:
        self.refs = engine_refs(images)
        self.query_one("#ref", Input).suggester = SuggestFromList(self.refs, case_sensitive=True)
        self._show_ref_matches(self.query_one("#ref", Input).value)

    def _engine_images_failed(self, exc: BaseException) -> None:
        self.field("ref").set_hint(f"Cannot list the engine's images: {error_text(exc)}")

    def _groups_loaded(self, groups) -> None:
        names = [g.name for g in groups]
        if names:
            shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
            self.field("access-groups").set_hint(f"groups: {shown}")

    def _show_ref_matches(self, value: str) -> None:
        if not self.refs:
            self.field("ref").set_hint("no images on the engine: build one first (b on the Images screen)")
            return
        if value in self.refs:
            self.field("ref").set_hint("on the engine")
            return
        found = [ref for ref in self.refs if value in ref] if value else self.refs
        if not found:
            self.field("ref").set_hint("not on the engine")
            return
        shown = ", ".join(found[:4]) + (f" (+{len(found) - 4})" if len(found) > 4 else "")
        self.field("ref").set_hint(f"on the engine: {shown}")

    # ------------------------------------------------------------------ typing

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        input_id = event.input.id or ""
        if event.input.has_focus:
            self._touched.add(input_id)
        if self._fix_note and not self._invalid_count():  # the marked fields are fixed: the note goes
            self._fix_note = False
            self._status("")
        if input_id == "ref":
            self._show_ref_matches(event.value)
            if event.value in self.refs and event.value != self._defaults_for:
                self._defaults_for = event.value
                self.run_call(self.app.session.image_defaults, event.value, then=self.apply_defaults,
                          failed=lambda exc: self.field("ref").set_hint(error_text(exc)))

    def apply_defaults(self, defaults: ImageDefaults) -> None:
        """Fill the fields not typed in from the ref's ipynbsrv.* labels."""
        if defaults.ref != self.query_one("#ref", Input).value:
            return
        for input_id, attribute in PREFILLED.items():
            widget = self.query_one(f"#{input_id}", Input)
            if input_id in self._touched or widget.disabled:
                continue
            value = _text(getattr(defaults, attribute))
            if input_id == "name" and not value:
                continue
            widget.value = value
        if not defaults.registrable:
            self.field("ref").set_hint(
                f"{defaults.ref} is marked ipynbsrv.registrable=false (a base image): register an image "
                "built from it"
            )
        else:
            self.field("ref").set_hint("on the engine; fields filled from its ipynbsrv.* labels")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    # ------------------------------------------------------------------ saving

    def values(self) -> dict:
        """The form as keyword arguments for register_image / update_image (all fields valid)."""

        def get(input_id: str) -> str:
            return self.query_one(f"#{input_id}", Input).value.strip()

        cpus = get("cpus")
        return {
            "name": get("name"),
            "ref": get("ref"),
            "description": get("description"),
            "command": get("command"),
            "notebook_port": validation.port(get("notebook-port"), what="Notebook port"),
            "public_ports": ",".join(str(p) for p in validation.port_list(get("public-ports"))),
            "is_public": self.query_one("#public", FormSwitch).value,
            "access_groups": list(validation.group_names(get("access-groups"))),
            "memory": get("memory"),
            "cpus": validation.cpus(cpus) if cpus else None,
        }

    def action_save(self) -> None:
        if self._saving:
            return
        bad = first_invalid(self.query(Field))
        if bad is not None:
            self._status(
                f"{bad.label}: fix the marked field{'s' if self._invalid_count() > 1 else ''} first."
            )
            self._fix_note = True
            bad.widget.focus()
            return
        values = self.values()
        self._saving = True
        self._status("Saving…", info=True)
        session = self.app.session
        if self.image is None:
            self.run_call(session.register_image, then=self._saved, failed=self._save_failed, **values)
        else:
            name = values.pop("name")
            self.run_call(session.update_image, name, then=self._saved, failed=self._save_failed, **values)

    def _invalid_count(self) -> int:
        return sum(1 for field in self.query(Field) if field.failed)

    def _saved(self, view: ImageView) -> None:
        self._saving = False
        self.dismiss(view)

    def _save_failed(self, exc: BaseException) -> None:
        self._saving = False
        self._status(error_text(exc))
        self.show_error(exc, "Image not saved")

    def _status(self, text: str, info: bool = False) -> None:
        status = self.query_one("#form-status", Static)
        status.update(Text(text))
        status.set_class(info, "-info")

    def action_cancel(self) -> None:
        self.dismiss(None)
