"""The audit log: who did what, when."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from ..extensions import db
from ..models import AuditEvent, User


def record_event(
    action: str,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit writes it with the change it records."""
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user._get_current_object()
    event = AuditEvent(
        action=action,
        details=details or {},
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.email if actor else "cli"),
        ip_address=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
