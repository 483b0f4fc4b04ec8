"""A build the test holds open: the session fake the build panel's and the app's tests share."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from ipynbsrv_tui.domain import BuildEvent, BuildEventKind, BuildStatus, BuildSummary, ImageView

from .conftest import FixedSession


class GatedBuild:
    """A build that prints one step, then waits for `gate` (or a cancel) before it succeeds."""

    build_id: int | None = 9

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.cancelled = False
        self.summary: BuildSummary | None = None

    def __iter__(self) -> Iterator[BuildEvent]:
        yield BuildEvent(BuildEventKind.STEP, "Step 1/1 : RUN sleep", step=1, total_steps=1)
        self.gate.wait(30)
        status = BuildStatus.CANCELLED if self.cancelled else BuildStatus.SUCCEEDED
        self.summary = BuildSummary(status, None if self.cancelled else "sha256:" + "c" * 64, None, None,
                                    0, 0, 1, 1.0)

    def cancel(self) -> None:
        self.cancelled = True
        self.gate.set()


class BuildingSession(FixedSession):
    """A session whose every build is the one `GatedBuild` the test opens and closes."""

    def __init__(self) -> None:
        super().__init__()
        self.build = GatedBuild()

    def build_image(self, folder: str, tag: str | None = None, build_args: dict[str, str] | None = None,
                    nocache: bool = False) -> GatedBuild:
        return self.build

    def list_images(self, include_retired: bool = True) -> list[ImageView]:
        return []
