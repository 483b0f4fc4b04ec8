"""ctrl+p: every section and every action of every section, found by name.

Actions are read from the key bindings of each section's screen class (so a section's palette
entries always match its keys) and of the screen on top (e.g. a container's details).
Running one switches to the section first, then runs the action on the screen that has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from textual.binding import Binding, BindingsMap
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: a title, a help line and what it does."""

    title: str
    help: str
    run: Callable[[], object]


def class_bindings(screen_class: type) -> list[Binding]:
    """The bindings a screen class ends up with, bases first, later keys overriding earlier ones."""
    by_key: dict[str, Binding] = {}
    for base in reversed(screen_class.__mro__):
        if isinstance(base, type) and issubclass(base, DOMNode) and "BINDINGS" in base.__dict__:
            for key, bindings in BindingsMap(base.__dict__["BINDINGS"]).key_to_bindings.items():
                by_key[key] = bindings[-1]
    return list(by_key.values())


def action_name(action: str) -> str:
    return action.split("(", 1)[0].strip()


def section_commands(app, screen) -> Iterator[PaletteCommand]:
    """Go-to entries for each section, then one entry per described binding of each section."""
    seen: set[str] = set()
    for section in app.sections:
        title = f"Go to {section.title}"
        seen.add(title)
        yield PaletteCommand(title, f"Switch to the {section.title} section (key {section.key})",
                             partial(app.action_section, section.mode))
    for section in app.sections:
        for binding in class_bindings(section.screen_class):
            if not binding.description or binding.system:
                continue
            title = f"{section.title}: {binding.description}"
            if title in seen:
                continue
            seen.add(title)
            key = app.get_key_display(binding)
            yield PaletteCommand(title, f"key {key} in {section.title}",
                                 partial(app.run_section_action, section.mode, binding.action))
    for active in screen.active_bindings.values():
        binding = active.binding
        if active.node is app or not binding.description or binding.system:
            continue
        label = getattr(screen, "palette_label", None) or type(screen).__name__.removesuffix("Screen")
        title = f"{label}: {binding.description}"
        if title in seen:
            continue
        seen.add(title)
        yield PaletteCommand(title, f"key {app.get_key_display(binding)} here",
                             partial(active.node.run_action, binding.action))
    for binding in app.BINDINGS:
        if isinstance(binding, Binding) and binding.description and not binding.action.startswith("section("):
            title = binding.description
            if title not in seen:
                seen.add(title)
                yield PaletteCommand(title, f"key {app.get_key_display(binding)}",
                                     partial(app.run_action, binding.action))


class SectionCommands(Provider):
    """Palette provider for every section and action of the app."""

    async def discover(self) -> Hits:
        for command in section_commands(self.app, self.screen):
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in section_commands(self.app, self.screen):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
