"""Sparklines of a container's CPU and memory use over the last samples."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from ...domain import ContainerStats, ContainerView
from . import format as fmt


class StatsPanel(Vertical):
    """CPU and memory: the current value against the limit, and a sparkline of the history."""

    DEFAULT_CSS = """
    StatsPanel { height: auto; padding: 0 1; }
    StatsPanel .stats-label { margin-top: 1; }
    StatsPanel Sparkline { height: 3; margin: 0 0; }
    StatsPanel .stats-hint { color: $text-muted; margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="cpu-label", classes="stats-label", markup=False)
        yield Sparkline([], id="cpu-spark")
        yield Static("", id="memory-label", classes="stats-label", markup=False)
        yield Sparkline([], id="memory-spark")
        yield Static("", id="stats-hint", classes="stats-hint", markup=False)

    def show(self, view: ContainerView | None, history: Sequence[ContainerStats]) -> None:
        latest = history[-1] if history else None
        cpu_label = Text("CPU  ", style="bold")
        memory_label = Text("Memory  ", style="bold")
        if latest is None:
            cpu_label.append("no sample yet", style="dim")
            memory_label.append("no sample yet", style="dim")
        else:
            cpus = view.cpus if view else 0
            cpu_label.append(f"{latest.cpu_percent:.1f}%" + (f" of {cpus:g} CPU" if cpus else ""))
            limit = (view.memory_limit if view else 0) or latest.memory_limit
            memory_label.append(
                f"{fmt.size(latest.memory_bytes)}" + (f" of {fmt.size(limit)}" if limit else "")
            )
            if limit:
                memory_label.append(f" ({100 * latest.memory_bytes / limit:.0f}%)")
            memory_label.append(f"  pids {latest.pids}", style="dim")
            # A sparkline spans its lowest to its highest sample: say so, or 15 % looks full.
            cpu = [sample.cpu_percent for sample in history]
            cpu_label.append(f"  graph {min(cpu):.1f}–{max(cpu):.1f}%", style="dim")
            memory = [sample.memory_bytes for sample in history]
            memory_label.append(f"  graph {fmt.size(min(memory))}–{fmt.size(max(memory))}", style="dim")
        self.query_one("#cpu-label", Static).update(cpu_label)
        self.query_one("#memory-label", Static).update(memory_label)
        self.query_one("#cpu-spark", Sparkline).data = [s.cpu_percent for s in history] or [0.0]
        self.query_one("#memory-spark", Sparkline).data = [float(s.memory_bytes) for s in history] or [0.0]
        running = view is not None and view.state.value in ("starting", "running", "paused")
        hint = (
            f"{len(history)} samples, newest on the right" if running else "Sampled while the container runs."
        )
        self.query_one("#stats-hint", Static).update(Text(hint))
