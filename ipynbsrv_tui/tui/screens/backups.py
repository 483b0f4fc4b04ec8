"""The Backups section (DESIGN §17): the snapshots, what they hold of my home and my shares, and a
restore of a file or folder into `restored/<snapshot time>/`, which never overwrites anything."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from ...domain import BackupEntry, BackupRestore, BackupSnapshot
from ..background import Background
from ..widgets.footer import KeysFooter
from ..widgets.format import printable
from ..widgets.statusbar import StatusBar
from ..widgets.table import Column, VirtualTable

COLUMNS = (
    Column("name", "Name", 16, grow=1),
    Column("kind", "Kind", 8),
    Column("size", "Size", 10, justify="right"),
    Column("time", "Modified", 16),
)
KIND_STYLES = {"dir": "bold", "symlink": "cyan", "other": "dim", "snapshot": "bold"}


def _size(entry: BackupEntry) -> str:
    if entry.kind == "dir":
        return ""
    size = float(entry.size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _when(snapshot: BackupSnapshot | BackupEntry) -> str:
    moment = snapshot.time if isinstance(snapshot, BackupSnapshot) else snapshot.mtime
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""


class BackupsScreen(Background, Screen):
    """Snapshots (newest first); `enter` opens one, then my home and shares as they were, folder by
    folder; `backspace` goes up; `r` restores the highlighted file or folder; F5 reloads."""

    DEFAULT_CSS = """
    BackupsScreen #backup-where { height: 1; padding: 0 1; background: $boost; }
    BackupsScreen #backup-details { height: 2; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("r", "restore", "Restore"),
        Binding("backspace", "up", "Up"),
        Binding("escape", "up", "Back", show=False),
        Binding("f5", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.snapshots: dict[str, BackupSnapshot] = {}
        self.entries: dict[str, BackupEntry] = {}
        self.snapshot: BackupSnapshot | None = None
        self.path = ""  # "" = the homes and shares I may use; else a path my notebooks show

    def compose(self) -> ComposeResult:
        yield StatusBar("Backups")
        yield Static("", id="backup-where")
        yield VirtualTable(COLUMNS, self._row, id="backup-table", empty_text="Loading the backups…")
        yield Static("", id="backup-details")
        yield KeysFooter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#backup-table", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        if self.snapshot is None:
            self.run_call(self.app.session.backup_snapshots, then=self.show_snapshots, group="load",
                          exclusive=True, title="Cannot list the backups")
        else:
            self._open(self.snapshot, self.path)

    def show_snapshots(self, snapshots: list[BackupSnapshot]) -> None:
        self.snapshot, self.path, self.entries = None, "", {}
        self.snapshots = {f"s:{s.id}": s for s in snapshots}
        self.table.empty_text = "No backup yet: the first one runs at the time your admin chose."
        self._show(list(self.snapshots))

    def _open(self, snapshot: BackupSnapshot, path: str, select: str | None = None) -> None:
        def show(entries: list[BackupEntry]) -> None:
            self.snapshot, self.path = snapshot, path
            self.entries = {f"e:{e.path}": e for e in entries}
            self.table.empty_text = "Empty folder."
            self._show(list(self.entries), select)

        self.run_call(
            self.app.session.backup_files,
            snapshot.id,
            path,
            then=show,
            group="load",
            exclusive=True,
            title="Cannot open that backup",
        )

    def _show(self, keys: list[str], select: str | None = None) -> None:
        self.table.set_rows(keys)
        self.table.refresh_rows()
        if select is not None:
            self.table.move_to(select)
        self._show_where()
        self._show_details()

    def _row(self, key: str) -> tuple[Text | str, ...]:
        if key.startswith("s:"):
            snapshot = self.snapshots[key]
            return (Text(snapshot.short_id, style="bold"), Text("snapshot"), "", _when(snapshot))
        entry = self.entries[key]
        name = printable(entry.path if not self.path else entry.name) + ("/" if entry.kind == "dir" else "")
        return (
            Text(name, style=KIND_STYLES.get(entry.kind, "")),
            Text(entry.kind),
            _size(entry),
            _when(entry),
        )

    def current(self) -> BackupEntry | BackupSnapshot | None:
        key = self.table.cursor_key
        if key is None:
            return None
        return self.snapshots.get(key) if key.startswith("s:") else self.entries.get(key)

    def _show_where(self) -> None:
        text = Text()
        if self.snapshot is None:
            text.append("Backups, newest first: enter opens one", style="dim")
        else:
            text.append(f"{_when(self.snapshot)} ({self.snapshot.short_id})", style="bold")
            text.append(" › " + printable(self.path or "my home and shares"))
        self.query_one("#backup-where", Static).update(text)

    def _show_details(self) -> None:
        item = self.current()
        text = Text(style="dim")
        if isinstance(item, BackupSnapshot):
            text.append("enter: what it holds of your home and your shares")
        elif isinstance(item, BackupEntry):
            where = "the share's restored/" if item.path.startswith("/data/shares/") else "~/restored/"
            text.append(
                f"r: restore {printable(item.path)} into {where}<snapshot time>/ (nothing is overwritten)"
            )
            if item.kind == "dir":
                text.append(" · enter: open")
        self.query_one("#backup-details", Static).update(text)

    @on(VirtualTable.RowHighlighted, "#backup-table")
    def _highlighted(self, _event: VirtualTable.RowHighlighted) -> None:
        self._show_details()

    @on(VirtualTable.RowSelected, "#backup-table")
    def _selected(self, _event: VirtualTable.RowSelected) -> None:
        item = self.current()
        if isinstance(item, BackupSnapshot):
            self._open(item, "")
        elif isinstance(item, BackupEntry) and item.kind == "dir" and self.snapshot is not None:
            self._open(self.snapshot, item.path)

    def action_up(self) -> None:
        if self.snapshot is None:
            return
        if not self.path:
            self.show_snapshots(list(self.snapshots.values()))
            return
        came_from = self.path
        parent = came_from.rsplit("/", 1)[0]
        roots = {"/home", "/data/shares"}
        self._open(self.snapshot, "" if parent in roots or not parent else parent, select=f"e:{came_from}")

    # ------------------------------------------------------------------ restore

    def action_restore(self) -> None:
        item = self.current()
        if not isinstance(item, BackupEntry) or self.snapshot is None:
            self.app.notify("Open a snapshot and choose a file or folder to restore.", severity="warning",
                            markup=False)
            return

        def done(result: BackupRestore) -> None:
            skipped = f" Not restored: {', '.join(result.skipped)}." if result.skipped else ""
            self.app.notify(f"Restored {result.path} to {result.target}.{skipped}", title="Restored",
                            markup=False, timeout=10)

        self.run_call(self.app.session.backup_restore, item.path, self.snapshot.id, then=done,
                      title=f"{item.name} not restored", notify_start=f"Restoring {item.name}…")
