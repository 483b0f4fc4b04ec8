"""Item 8 of issue 9: a fresh store pointed at an existing LDAP tree lists its users at once, and
changes made in LDAP by other tools reach the store within [directory] sync_interval."""

from __future__ import annotations

import pytest

from ipynbsrv_tui.domain import Actor
from tests.fixtures.slapd import SEED_USERS

pytestmark = pytest.mark.ldap


def test_an_empty_store_syncs_an_ldap_directory_on_first_use(ldap_directory_config):
    from ipynbsrv_tui.service import build_service
    from ipynbsrv_tui.store.db import close_database

    service = build_service(ldap_directory_config.replace(directory={"sync_interval": 3600}))
    try:
        root = Actor("root", 0, True, ())
        names = {user.username for user in service.list_users(root)}
        assert set(SEED_USERS) <= names  # not [] with no hint
        alice = SEED_USERS["alice"]
        assert service.actor_for_uid(alice.uid).username == "alice"
        service.directory.set_active("alice", False)  # another tool disables her in LDAP
        service.sync_if_due(0)  # what the broker's sync loop does every sync_interval
        assert not {u.username: u for u in service.list_users(root)}["alice"].active
    finally:
        close_database()
