"""The Shares section: shared folders for everyone (DESIGN §14); admins see all of them."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from ... import validation
from ...domain import DeleteShareReport, ShareChange, ShareView
from ..account import refused_without_account
from ..widgets.confirm import ConfirmScreen
from ..widgets.forms import FieldSpec, FormScreen
from ..widgets.table import Column
from .listscreen import ListScreen, names

DATA_CHOICES = (("Archive its files under archive/", "archive"), ("Keep its folder", "keep"),
                ("Delete its files", "delete"))


def change_text(change: ShareChange, done: str) -> str:
    """What a grant or revoke did, and which running notebooks need a restart to see it."""
    text = done
    if change.notified:
        text += f" Notified: {', '.join(change.notified)}."
    if change.restart_needed:
        text += f" {change.note} ({', '.join(change.restart_needed)})"
    return text


class SharesScreen(ListScreen):
    """Shares: `n` new, `a` grant a group, `r` revoke one, `d` delete (Cancel is the default; then
    keep / archive / delete its files), `enter` grants and members."""

    TITLE_TEXT = "Shares"
    COLUMNS = (
        Column("name", "Share", 12, grow=1),
        Column("owner", "Owner", 10),
        Column("grants", "Granted to", 12, grow=2),
        Column("members", "Users", 5, justify="right"),
        Column("description", "Description", 10, grow=2),
    )
    FILTER_HINT = "filter by share, owner, group or description"
    EMPTY = "No shares you may use: n creates one."
    HINT = "n new share · a grant a group · r revoke · enter details"
    BINDINGS = [
        Binding("n", "create", "New share"),
        Binding("a", "grant", "Grant"),
        Binding("r", "revoke", "Revoke"),
        Binding("d", "delete", "Delete"),
        *ListScreen.LIST_BINDINGS,
    ]

    def load_call(self):
        return self.app.session.list_shares

    def fields(self, view: ShareView) -> tuple[object, ...]:
        return (view.name, view.owner, view.description, *view.grants)

    def row(self, view: ShareView) -> tuple:
        return (Text(view.name), Text(view.owner), Text(names(view.grants)), str(len(view.members)),
                Text(" ".join(view.description.split())))

    def summary(self, view: ShareView) -> Text:
        text = Text(view.path, style="bold")
        text.append(f"  group {view.group} (gid {view.gid})  users: {names(view.members)}")
        return text

    def details(self, view: ShareView) -> Text:
        text = Text(view.name, style="bold")
        text.append(f"  owned by {view.owner}\n\n")
        for label, value in (
            ("In notebooks", view.path), ("Description", view.description or "-"),
            ("Directory group", f"{view.group} (gid {view.gid}, folder mode 2770)"),
            ("Granted to", names(view.grants)), ("Users", names(view.members)),
        ):
            text.append(f"{label:<16}", style="bold")
            text.append(f"{value}\n")
        text.append(
            "\nGrants and revokes reach running notebooks at their next start: restart them.", style="dim"
        )
        return text

    # ------------------------------------------------------------------ actions

    def action_create(self) -> None:
        if refused_without_account(self.app, "own a share"):
            return
        form = FormScreen("New share", [
            FieldSpec("name", "Name", check=validation.share_name, required=True, placeholder="thesis"),
            FieldSpec("description", "Description", check=validation.description),
        ], submit_label="Create share")

        def submitted(values: dict | None) -> None:
            if values:
                self.run_call(
                    self.app.session.create_share,
                    values["name"],
                    description=values["description"],
                    then=self.done(
                        f"Created share {values['name']}: restart running notebooks to see "
                        f"/data/shares/{values['name']}."
                    ),
                    title="Share not created",
                )

        self.app.push_screen(form, submitted)

    def _group_form(self, view: ShareView, revoke: bool) -> None:
        verb = "Revoke" if revoke else "Grant"
        form = FormScreen(f"{verb} a group {'on' if revoke else 'access to'} {view.name}", [
            FieldSpec("group", "Group or user", check=validation.group_name, required=True,
                  hint="a user's name grants their personal group"),
        ], submit_label=verb)

        def submitted(values: dict | None) -> None:
            if not values:
                return
            group = values["group"]
            call = self.app.session.revoke_share if revoke else self.app.session.grant_share
            past = "Revoked" if revoke else "Granted"

            def changed(change: ShareChange) -> None:
                self.app.notify(
                    change_text(change, f"{past} {change.group} on {change.share}."), markup=False, timeout=10
                )
                self.action_reload()

            self.run_call(call, view.name, group, then=changed, title=f"Not {past.lower()}")

        self.app.push_screen(form, submitted)

    def action_grant(self) -> None:
        view = self.selected_or_warn()
        if view is not None:
            self._group_form(view, revoke=False)

    def action_revoke(self) -> None:
        view = self.selected_or_warn()
        if view is not None:
            self._group_form(view, revoke=True)

    def action_delete(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return

        def chosen(values: dict | None) -> None:
            if values:
                self.run_call(
                    self.app.session.delete_share,
                    view.name,
                    data=values["data"],
                    then=self._deleted,
                    title=f"Share {view.name} not deleted",
                )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.push_screen(FormScreen(f"Files of {view.name}", [
                    FieldSpec("data", "Its files", kind="choice", options=DATA_CHOICES, value="archive"),
                ], submit_label="Delete share"), chosen)

        question = f"Delete the share {view.name}? Its users lose /data/shares/{view.name}."
        self.app.push_screen(
            ConfirmScreen(question, confirm_label="Delete share", cancel_label="Keep share"), confirmed
        )

    def _deleted(self, report: DeleteShareReport) -> None:
        where = report.archived or report.kept or report.removed or "no folder"
        self.app.notify(f"Deleted share {report.share} ({report.data}: {where}).", markup=False)
        self.action_reload()
