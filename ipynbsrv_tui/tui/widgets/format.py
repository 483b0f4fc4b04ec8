"""How values look on screen: states, sizes, durations, usage. Every result is plain text or `Text`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.text import Text

from ...domain import ContainerState, ContainerStats
from ...validation import format_bytes

STATE_STYLES = {
    ContainerState.STARTING: "cyan",
    ContainerState.RUNNING: "green",
    ContainerState.PAUSED: "yellow",
    ContainerState.RESTARTING: "yellow",
    ContainerState.CREATED: "cyan",
    ContainerState.EXITED: "bright_black",
    ContainerState.DEAD: "red",
    ContainerState.MISSING: "red",
    ContainerState.REMOVING: "yellow",
    ContainerState.UNKNOWN: "magenta",
}


def now() -> datetime:
    """The current time as naive UTC (the store's convention); tests replace it for stable snapshots."""
    return datetime.now(UTC).replace(tzinfo=None)


def state_text(state: ContainerState) -> Text:
    return Text(state.value, style=STATE_STYLES.get(state, ""))


def duration(seconds: float) -> str:
    """A short duration: 45s, 12m, 3h05, 2d4h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"


def since(moment: datetime | None) -> str:
    """Time elapsed since `moment` (naive UTC), or '-' when unknown."""
    if moment is None:
        return "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return duration((now() - moment).total_seconds())


def ago(moment: datetime | None) -> str:
    """'5m ago' style, or 'never'."""
    return "never" if moment is None else f"{since(moment)} ago"


def size(number: int | float | None) -> str:
    return "-" if not number else format_bytes(number)


def cpu(stats: ContainerStats | None) -> str:
    return "-" if stats is None else f"{stats.cpu_percent:.0f}%"


def short_size(number: int | float | None) -> str:
    """A size in at most 4 characters: 8.5M, 84M, 512M, 1.8G (a decimal only below 10)."""
    if not number:
        return "-"
    value = float(number)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if round(value) < 1000 or unit == "P":
            break
        value /= 1024
    if unit == "B":
        return f"{value:.0f}B"
    text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
    return text.removesuffix(".0") + unit


MEMORY_WIDTH = 9  # short_size/short_size: the list's Memory column is never cut


def memory(stats: ContainerStats | None, limit: int = 0) -> str:
    """`120M/2G`: used against the container's limit (the engine's limit when the store has none),
    at most MEMORY_WIDTH characters."""
    if stats is None:
        return "-" if not limit else f"-/{short_size(limit)}"
    cap = limit or stats.memory_limit
    used = short_size(stats.memory_bytes)
    return f"{used}/{short_size(cap)}" if cap else used


def usage_bar(fraction: float, width: int = 20) -> Text:
    """A text gauge `[#####.....] 25%`, coloured by how close the value is to the limit."""
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    style = "green" if fraction < 0.7 else ("yellow" if fraction < 0.9 else "red")
    bar = Text("[")
    bar.append("#" * filled, style=style)
    bar.append("." * (width - filled), style="bright_black")
    bar.append(f"] {fraction * 100:.0f}%")
    return bar


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(value: str) -> str:
    """Untrusted text made safe for one screen line: tabs expanded, control characters shown as �."""
    if "\t" in value:
        value = value.expandtabs(4)
    return _CONTROL.sub("\ufffd", value)
