"""The Groups section: collaboration groups for everyone (DESIGN §14); admins see all of them."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from ... import validation
from ...domain import CollabGroupView
from ..account import refused_without_account
from ..widgets.confirm import ConfirmScreen
from ..widgets.forms import FieldSpec, FormScreen
from ..widgets.table import Column
from .listscreen import ListScreen, names


def group_kind(view: CollabGroupView) -> Text:
    if view.is_personal:
        return Text("personal", style="dim")
    return Text("public", style="green") if view.is_public else Text("private")


class GroupsScreen(ListScreen):
    """Collaboration groups: `n` new, `a` add a member, `x` remove one, `+` join a public group,
    `e` leave, `i` share an image you own with the group, `d` delete (Cancel is the default),
    `enter` members, admins and shares."""

    TITLE_TEXT = "Groups"
    COLUMNS = (
        Column("name", "Group", 12, grow=2),
        Column("kind", "Kind", 8),
        Column("creator", "Creator", 10, grow=1),
        Column("members", "Members", 7, justify="right"),
        Column("you", "You", 6),
    )
    FILTER_HINT = "filter by group, creator or member"
    EMPTY = "No groups yet: n creates one."
    HINT = "n new group · a add member · + join · enter details"
    # The footer leaves out keys from its end when they do not fit (80 columns): what every user
    # does (filter, create, join, leave) first, a group creator's member keys after.
    BINDINGS = [
        *ListScreen.FILTER_BINDINGS,
        Binding("n", "create", "New group"),
        Binding("plus", "join", "Join", key_display="+"),
        Binding("e", "leave", "Leave"),
        Binding("a", "add_member", "Add member"),
        Binding("x", "remove_member", "Remove member"),
        Binding("d", "delete", "Delete"),
        Binding("i", "share_image", "Share image", show=False),
        ListScreen.RELOAD_BINDING,
    ]

    def load_call(self):
        return self.app.session.collab_groups

    def fields(self, view: CollabGroupView) -> tuple[object, ...]:
        return (view.name, view.creator, *view.members)

    def row(self, view: CollabGroupView) -> tuple:
        you = "admin" if view.can_manage and view.is_member else ("member" if view.is_member else "")
        return (Text(view.name), group_kind(view), Text(view.creator), str(len(view.members)), you)

    def summary(self, view: CollabGroupView) -> Text:
        text = Text(view.name, style="bold")
        text.append(f"  gid {view.gid}  members: {names(view.members)}")
        return text

    def details(self, view: CollabGroupView) -> Text:
        text = Text(view.name, style="bold")
        text.append(f"  ({group_kind(view).plain}, gid {view.gid})\n\n")
        for label, value in (
            ("Creator", view.creator or "-"), ("Description", view.description or "-"),
            ("Members", names(view.members)), ("Group admins", names(view.admins)),
            ("Shares", names(view.shares)),
        ):
            text.append(f"{label:<14}", style="bold")
            text.append(f"{value}\n")
        text.append("\nMembers see the group's shares in their notebooks at /data/shares; "
                    "running notebooks see a change at their next start.", style="dim")
        return text

    # ------------------------------------------------------------------ actions

    def action_create(self) -> None:
        if refused_without_account(self.app, "create a group"):
            return
        form = FormScreen(
            "New collaboration group",
            [
                FieldSpec("name", "Name", check=validation.group_name, required=True, placeholder="lab"),
                FieldSpec("public", "Anyone may join", kind="switch", value=False),
                FieldSpec(
                    "description",
                    "Description",
                    check=lambda value: validation.text(value, "The description", 128, single_line=True),
                ),
            ],
            submit_label="Create group",
        )

        def submitted(values: dict | None) -> None:
            if values:
                self.run_call(
                    self.app.session.create_collab_group,
                    values["name"],
                    public=bool(values["public"]),
                    description=values["description"],
                    then=self.done(f"Created group {values['name']}."),
                    title="Group not created",
                )

        self.app.push_screen(form, submitted)

    def _member_form(self, view: CollabGroupView, remove: bool) -> None:
        title = f"{'Remove a member from' if remove else 'Add a member to'} {view.name}"
        form = FormScreen(title, [
            FieldSpec("user", "Username", check=validation.username, required=True),
            FieldSpec("admin", "Only admin rights" if remove else "Group admin", kind="switch", value=False),
        ], submit_label="Remove" if remove else "Add")

        def submitted(values: dict | None) -> None:
            if not values:
                return
            user = values["user"]
            if remove:
                self.run_call(
                    self.app.session.remove_collab_member,
                    view.name,
                    user,
                    admin_only=bool(values["admin"]),
                    then=self.done(f"Removed {user} from {view.name}."),
                    title="Member not removed",
                )
            else:
                self.run_call(
                    self.app.session.add_collab_member,
                    view.name,
                    user,
                    admin=bool(values["admin"]),
                    then=self.done(
                        f"Added {user} to {view.name}: their running notebooks see the "
                        "group's shares at their next start."
                    ),
                    title="Member not added",
                )

        self.app.push_screen(form, submitted)

    def action_add_member(self) -> None:
        view = self.selected_or_warn()
        if view is not None:
            self._member_form(view, remove=False)

    def action_remove_member(self) -> None:
        view = self.selected_or_warn()
        if view is not None:
            self._member_form(view, remove=True)

    def action_share_image(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return
        form = FormScreen(f"Share an image with {view.name}", [
            FieldSpec("image", "Image", check=validation.image_name, required=True,
                      hint="an image you own (committed from a notebook); its members are notified"),
        ], submit_label="Share image")

        def submitted(values: dict | None) -> None:
            if values:
                self.run_call(self.app.session.share_image, values["image"], view.name,
                              then=self.done(f"Shared image {values['image']} with {view.name}."),
                              title="Image not shared")

        self.app.push_screen(form, submitted)

    def action_join(self) -> None:
        view = self.selected_or_warn()
        if view is not None and not refused_without_account(self.app, "join a group"):
            self.run_call(self.app.session.join_group, view.name,
                      then=self.done(f"Joined {view.name}: restart running notebooks to see its shares."),
                      title="Not joined")

    def action_leave(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_call(self.app.session.leave_group, view.name, then=self.done(f"Left {view.name}."),
                          title="Group not left")

        self.app.push_screen(
            ConfirmScreen(f"Leave the group {view.name}?", confirm_label="Leave group", cancel_label="Stay"),
            confirmed,
        )

    def action_delete(self) -> None:
        view = self.selected_or_warn()
        if view is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_call(self.app.session.delete_collab_group, view.name,
                          then=self.done(f"Deleted group {view.name}."), title="Group not deleted")

        question = (f"Delete the group {view.name}? Its members lose the shares granted to it "
                    "(running notebooks at their next start).")
        self.app.push_screen(
            ConfirmScreen(question, confirm_label="Delete group", cancel_label="Keep group"), confirmed
        )
