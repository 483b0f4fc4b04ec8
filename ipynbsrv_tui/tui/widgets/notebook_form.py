"""The form that creates a notebook container from an image the user may use."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.widgets import Input, Select

from ... import validation
from ...domain import ImageView
from .forms import FieldSpec, FormScreen


class NewNotebookForm(FormScreen):
    """Name, image, description, memory and CPUs (and the owner, asked of admins creating one).

    The image defaults to the one used last (`last_image`), or to the only one there is; the
    memory and CPU hints give the chosen image's own limits (else the configured defaults).
    """

    def __init__(self, images: list[ImageView], owner: str | None = None, default_memory: str = "",
                 default_cpus: float | None = None, last_image: str | None = None) -> None:
        options = [(f"{image.name} — {image.description}" if image.description else image.name, image.name)
                   for image in images]
        names = [image.name for image in images]
        chosen = last_image if last_image in names else (names[0] if len(names) == 1 else "")
        self.images = {image.name: image for image in images}
        self.default_memory = default_memory
        self.default_cpus = default_cpus
        memory_hint, cpus_hint = self.limit_hints(chosen)
        fields = [
            FieldSpec(
                "name", "Name", required=True, check=validation.container_name, placeholder="e.g. thesis"
            ),
            FieldSpec(
                "image",
                "Image",
                kind="choice",
                options=options,
                required=True,
                value=chosen,
                placeholder="Choose an image",
            ),
            FieldSpec("description", "Description", placeholder="optional", check=validation.description),
            FieldSpec("memory", "Memory limit", check=validation.memory, placeholder=memory_hint),
            FieldSpec("cpus", "CPUs", check=validation.cpus, placeholder=cpus_hint),
        ]
        if owner is not None:
            fields.append(FieldSpec("owner", "Owner", value=owner, required=True, check=validation.username,
                                    placeholder="the user it is for, e.g. alice",
                                    hint="Admins may create a notebook for any directory user."))
        super().__init__("New notebook", fields, submit_label="Create")

    def limit_hints(self, image_name: str | None) -> tuple[str, str]:
        """The memory and CPU placeholders for an image: its own limits, else the defaults, and the
        most the user may choose (DESIGN §8; admins: any)."""
        image = self.images.get(image_name or "")
        memory = (image.memory if image and image.memory else self.default_memory)
        cpus = image.cpus if image and image.cpus is not None else self.default_cpus
        most_memory = f", 6m to {image.max_memory}" if image and image.max_memory else ", e.g. 2g"
        most_cpus = f", 0.01 to {image.max_cpus:g}" if image and image.max_cpus is not None else ", e.g. 1.5"
        return (f"image default{f' ({memory})' if memory else ''}{most_memory}",
                f"image default{f' ({cpus:g})' if cpus else ''}{most_cpus}")

    @on(Select.Changed, "#field-image")
    def _image_changed(self, event: Select.Changed) -> None:
        memory_hint, cpus_hint = self.limit_hints(None if event.value is Select.NULL else str(event.value))
        self.query_one("#field-memory", Input).placeholder = memory_hint
        self.query_one("#field-cpus", Input).placeholder = cpus_hint

    def create_arguments(self, values: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of `session.create_container` for these values."""
        arguments: dict[str, Any] = {
            "name": values["name"].strip(),
            "image": values["image"],
            "description": values["description"].strip(),
            "memory": values["memory"].strip() or None,
            "cpus": float(values["cpus"]) if values["cpus"].strip() else None,
        }
        if "owner" in values:
            arguments["owner"] = values["owner"].strip()
        return arguments
