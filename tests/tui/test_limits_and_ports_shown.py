"""The new-notebook form shows the allowed limits, the details list every published port (issue 9 items 3,
6)."""

from __future__ import annotations

from ipynbsrv_tui.domain import ContainerState, ContainerView, ImageView
from ipynbsrv_tui.tui.widgets.containerinfo import ports_text
from ipynbsrv_tui.tui.widgets.notebook_form import NewNotebookForm


def _image(name: str, max_memory: str = "", max_cpus: float | None = None) -> ImageView:
    return ImageView(name=name, ref=f"x/{name}:latest", max_memory=max_memory, max_cpus=max_cpus)


def test_the_form_shows_the_range_a_user_may_choose():
    images = [_image("a", "2g", 1.0), _image("b", "8g", 4.0), _image("c")]
    form = NewNotebookForm(images, default_memory="2g", default_cpus=1.0)
    assert form.limit_hints("a") == ("image default (2g), 6m to 2g", "image default (1), 0.01 to 1")
    assert form.limit_hints("b") == ("image default (2g), 6m to 8g", "image default (1), 0.01 to 4")
    assert form.limit_hints("c") == (
        "image default (2g), e.g. 2g",
        "image default (1), e.g. 1.5",
    )  # admins: any
    chosen = NewNotebookForm(images, last_image="b")
    placeholders = {spec.name: spec.placeholder for spec in chosen.fields}
    assert placeholders["memory"].endswith("6m to 8g") and placeholders["cpus"].endswith("0.01 to 4")


def test_the_details_list_every_published_port():
    view = ContainerView(
        id=1,
        name="nb",
        owner="alice",
        image="withssh",
        image_ref="x",
        state=ContainerState.RUNNING,
        host_port=49152,
        public_ports={"22": 49153},
    )
    assert ports_text(view).plain == "49152 (notebook) · 22 → 49153"


def test_the_memory_column_is_never_cut():
    """"83.7M/51…" was cut at every width (issue 28, bug 6): the cell fits the column, always."""
    from hypothesis import given
    from hypothesis import strategies as st

    from ipynbsrv_tui.domain import ContainerStats
    from ipynbsrv_tui.tui.widgets import format as fmt

    assert fmt.memory(ContainerStats(1.0, int(83.7 * 1024**2), 512 * 1024**2, 3)) == "84M/512M"
    assert fmt.memory(ContainerStats(1.0, int(8.5 * 1024**2), int(1.8 * 1024**3), 3)) == "8.5M/1.8G"

    @given(st.integers(1, 2**50), st.integers(0, 2**50))
    def fits(used: int, limit: int) -> None:
        cell = fmt.memory(ContainerStats(1.0, used, limit, 3))
        assert len(cell) <= fmt.MEMORY_WIDTH, cell

    fits()


async def test_the_sparklines_say_their_scale():
    """Issue 28, item 11: a sparkline spans its lowest to highest sample, so 15 % memory drew a full
    graph; the labels now give the share of the limit and the graph's range."""
    from textual.app import App

    from ipynbsrv_tui.domain import ContainerStats
    from ipynbsrv_tui.tui.widgets.stats import StatsPanel

    view = ContainerView(
        id=1,
        name="nb",
        owner="alice",
        image="i",
        image_ref="x",
        state=ContainerState.RUNNING,
        host_port=49152,
        cpus=1.0,
        memory_limit=1024**3,
    )
    history = [
        ContainerStats(5.0, 100 * 1024**2, 1024**3, 3),
        ContainerStats(12.5, 150 * 1024**2, 1024**3, 4),
    ]

    class Host(App):
        def compose(self):
            yield StatsPanel()

    app = Host()
    async with app.run_test(size=(80, 24)):
        panel = app.query_one(StatsPanel)
        panel.show(view, history)
        cpu = str(panel.query_one("#cpu-label").render())
        memory = str(panel.query_one("#memory-label").render())
    assert cpu == "CPU  12.5% of 1 CPU  graph 5.0–12.5%"
    assert memory.startswith("Memory  150M of 1G (15%)") and memory.endswith("graph 100M–150M")
