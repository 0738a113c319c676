"""The audit log: who did what, when.

A service names the actor itself (`actor`, or `actor_label` for a command, an API key or someone
not signed in); it never looks at the request. The address a web request came from is added by the
web layer as the event is written (`survey/request_origin.py`).
"""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditEvent, User


def record_event(
    action: str,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit writes it with the change it records.

    Without an actor and a label the event is a command's ("cli")."""
    event = AuditEvent(
        action=action,
        details=details or {},
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.email if actor else "cli"),
    )
    db.session.add(event)
    return event


def record_report_export(
    fmt: str, filters: dict[str, Any], actor: User | None = None, actor_label: str | None = None
) -> None:
    """Write the audit event of a report export (who, when, which format and filters: the active
    ones, by name), committed before the file streams."""
    record_event("reports.export", {"format": fmt, "filters": filters}, actor=actor, actor_label=actor_label)
    db.session.commit()
