"""The one form kit: declared forms (FieldSpec + FormScreen) on the shared Field, and the new-notebook
form's defaults (image used last or the only one, the chosen image's limits as hints, owner asked)."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Input, Select

from ipynbsrv_tui import validation
from ipynbsrv_tui.domain import ImageView
from ipynbsrv_tui.tui.widgets.forms import Field, FieldSpec, FormScreen
from ipynbsrv_tui.tui.widgets.notebook_form import NewNotebookForm

from .conftest import wait_until

SMALL = ImageView("small", "ipynbsrv/small:latest", memory="1g", cpus=0.5, is_public=True)
BIG = ImageView("big", "ipynbsrv/big:latest", is_public=True)


class FormApp(App):
    def __init__(self, form: FormScreen) -> None:
        super().__init__()
        self.form = form
        self.results: list = []

    def on_mount(self) -> None:
        self.push_screen(self.form, self.results.append)


async def test_new_notebook_defaults_to_the_image_used_last_with_its_own_limits_as_hints():
    form = NewNotebookForm([BIG, SMALL], default_memory="2g", default_cpus=1.0, last_image="small")
    app = FormApp(form)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        assert form.query_one("#field-image", Select).value == "small"
        assert form.query_one("#field-memory", Input).placeholder.startswith("image default (1g)")
        assert form.query_one("#field-cpus", Input).placeholder.startswith("image default (0.5)")
        form.query_one("#field-image", Select).value = "big"
        await pilot.pause()
        assert form.query_one("#field-memory", Input).placeholder.startswith("image default (2g)")


async def test_new_notebook_takes_the_only_image_or_asks_for_one():
    only = FormApp(NewNotebookForm([SMALL]))
    async with only.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        assert only.form.query_one("#field-image", Select).value == "small"

    several = FormApp(NewNotebookForm([BIG, SMALL]))
    async with several.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        form = several.form
        assert form.query_one("#field-image", Select).value is Select.NULL
        await pilot.press(*"thesis", "enter")
        assert several.results == [] and "Image is required." in str(form.query_one("#error-image").render())
        form.query_one("#field-image", Select).value = "big"
        await pilot.pause()
        assert not form.query_one("#row-image", Field).failed and not form.query_one("#form-error").display
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: several.results, what="the form to close")
        assert several.results[0]["image"] == "big"


async def test_admin_form_asks_for_the_owner():
    app = FormApp(NewNotebookForm([SMALL], owner=""))
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        form = app.form
        await pilot.press(*"thesis", "enter")
        assert app.results == [] and "Owner is required." in str(form.query_one("#error-owner").render())


async def test_fix_the_marked_fields_note_leaves_once_they_are_fixed():
    form = FormScreen("Clone", [FieldSpec("name", "Name", required=True, check=validation.container_name)])
    app = FormApp(form)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        await pilot.press(*"bad name", "enter")
        note = form.query_one("#form-error")
        assert note.display and "Fix the marked fields" in str(note.render())
        assert form.query_one("#row-name", Field).failed
        for _ in range(5):
            await pilot.press("backspace")
        await pilot.pause()
        assert not note.display
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.results, what="the form to close")
        assert app.results == [{"name": "bad"}]


async def test_only_the_focused_fields_label_stands_out():
    app = FormApp(NewNotebookForm([SMALL]))
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        form = app.form
        assert [f.id for f in form.query(Field) if f.has_class("-focused")] == ["row-name"]
        await pilot.press("tab", "tab")
        await pilot.pause()
        assert [f.id for f in form.query(Field) if f.has_class("-focused")] == ["row-description"]
