"""Record who did what to what, and how it ended (the AuditEvent table)."""

from __future__ import annotations

from ipynbsrv_tui.store.models import AuditEvent

OUTCOMES = ("ok", "refused", "failed")


def audit(actor: str, action: str, target: str = "", outcome: str = "ok", detail: str = "") -> AuditEvent:
    """Write one AuditEvent and return it. `outcome` is one of OUTCOMES."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    event: AuditEvent = AuditEvent.create(
        actor=actor, action=action, target=target, outcome=outcome, detail=detail
    )
    return event
