"""Reading a Dockerfile: its ARG defaults, the final stage's LABELs and the images it starts FROM."""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class DockerfileInfo:
    """What a Dockerfile declares: ARG defaults, the final stage's LABELs and the FROM images."""

    args: dict[str, str | None]
    labels: dict[str, str]
    froms: tuple[str, ...]

    def arg(self, name: str) -> str | None:
        """The default of ARG `name` ("" when declared without a default, None when not declared)."""
        if name not in self.args:
            return None
        return self.args[name] or ""


def parse_dockerfile(text: str) -> DockerfileInfo:
    """Read ARG defaults (first declaration with a default wins), LABELs and FROMs of a Dockerfile."""
    args: dict[str, str | None] = {}
    labels: dict[str, str] = {}
    froms: list[str] = []
    for instruction, rest in _instructions(text):
        if instruction == "ARG":
            for word in shell_words(rest):
                name, sep, value = word.partition("=")
                if args.get(name) is None:
                    args[name] = value if sep else None
        elif instruction == "FROM":
            words = [w for w in shell_words(rest) if not w.startswith("--")]
            if words:
                froms.append(words[0])
            labels = {}  # only the final stage's labels reach the image
        elif instruction == "LABEL":
            labels.update(_label_pairs(rest))
    return DockerfileInfo(args=args, labels=labels, froms=tuple(froms))


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) per logical line: comments dropped, `\\` continuations joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            instruction, _, rest = line.partition(" ")
            result.append((instruction.upper(), rest.strip()))
    if pending.strip():
        instruction, _, rest = pending.strip().partition(" ")
        result.append((instruction.upper(), rest.strip()))
    return result


def shell_words(text: str) -> list[str]:
    """Shell-like words of an instruction (split on blanks when the quoting is broken)."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _label_pairs(text: str) -> dict[str, str]:
    words = shell_words(text)
    if len(words) == 2 and "=" not in words[0]:  # legacy form: LABEL key value
        return {words[0]: words[1]}
    return {key: value for key, sep, value in (w.partition("=") for w in words) if sep}
