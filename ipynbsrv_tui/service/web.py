"""Web access (DESIGN §16): the login and the per-request decision of the web gateway, made here
so that the gateway decides nothing itself and every refusal is in the audit log."""

from __future__ import annotations

from ..domain import Actor, IpynbsrvError, NotAuthorized
from . import authz
from .base import Component, Ports
from .users import Users


class WebAccess(Component):
    """Who logs in on the web and which notebooks they may reach; audits both."""

    def __init__(self, ports: Ports, *, users: Users) -> None:
        super().__init__(ports)
        self.users = users

    def web_login(self, username: str, password: str, address: str) -> Actor:
        """The directory checks the password (LDAP bind, or the local scrypt hash); then the account
        must be active. Any failure is one NotAuthorized that tells nothing more, audited with its reason."""
        try:
            user = self.directory.authenticate(username, password)
            actor = self.users.actor_for_username(user.username)
        except IpynbsrvError as exc:
            self.audit(username or "?", "web.login", address, "refused", str(exc)[:200])
            raise NotAuthorized("Wrong user name or password.") from None
        self.audit(actor, "web.login", address)
        return actor

    def web_may_open(self, actor: Actor, owner: str) -> bool:
        """A notebook is reached by its owner and by admins, as in the console (DESIGN §8)."""
        return authz.can_act_on_container(actor, owner)

    def web_owns(self, username: str, owner: str) -> bool:
        """The web's fast path: a session's own notebook needs no actor (only the check that the session
        still holds), so this rule takes the session's user name."""
        return authz.is_owner(username, owner)

    def web_resumes(self, actor: Actor, owner: str) -> bool:
        """A suspended notebook is resumed by its owner's web request, as their login resumes it; an
        admin's request only learns it is suspended (resuming is the owner's or the console's act)."""
        return authz.is_owner(actor.username, owner)

    def credential_stamp(self, username: str) -> str | None:
        """The directory's stamp of the account's credentials, None when it is gone or expired."""
        return self.directory.credential_stamp(username)

    def web_refused(self, username: str, target: str, reason: str) -> None:
        self.audit(username, "web.request", target, "refused", reason)
