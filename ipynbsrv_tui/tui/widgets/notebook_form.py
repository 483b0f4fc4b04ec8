"""The form that creates a notebook container from an image the user may use."""

from __future__ import annotations

from typing import Any

from ... import validation
from ...domain import ImageView
from .form import Field, FormScreen


class NewNotebookForm(FormScreen):
    """Name, image, description, memory and CPUs (and the owner, for admins creating for others)."""

    def __init__(self, images: list[ImageView], owner: str | None = None, default_memory: str = "",
                 default_cpus: float | None = None) -> None:
        options = [(f"{image.name} — {image.description}" if image.description else image.name, image.name)
                   for image in images]
        fields = [
            Field("name", "Name", required=True, check=validation.container_name, placeholder="e.g. thesis"),
            Field("image", "Image", kind="choice", options=options, required=True,
                  value=options[0][1] if options else ""),
            Field("description", "Description", placeholder="optional"),
            Field("memory", "Memory limit", check=validation.memory,
                  placeholder=f"image default{f' ({default_memory})' if default_memory else ''}, e.g. 2g"),
            Field("cpus", "CPUs", check=validation.cpus,
                  placeholder=f"image default{f' ({default_cpus:g})' if default_cpus else ''}, e.g. 1.5"),
        ]
        if owner is not None:
            fields.append(Field("owner", "Owner", value=owner, required=True, check=validation.username,
                                hint="Admins may create a notebook for any directory user."))
        super().__init__("New notebook", fields, submit_label="Create")
        self.images = {image.name: image for image in images}

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
