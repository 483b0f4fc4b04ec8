"""What only a directory user may do is refused before any form opens (issue 28, bug 5): root
administers everything but owns nothing, so a form for a notebook, an image, a group or a share of
its own could only fail at the end."""

from __future__ import annotations

from typing import Any


def refused_without_account(app: Any, what: str) -> bool:
    """True (and says why, and what to do) when the actor is not a directory user and so cannot `what`."""
    actor = app.session.actor
    if actor.is_directory_user:
        return False
    app.notify(f"{actor.username} is not a directory user, so cannot {what}. Log in as a directory user "
               "(an admin account) for that.", title="Not possible as " + actor.username, severity="warning",
               markup=False)
    return True
