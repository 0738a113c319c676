"""Where a web request came from, written onto the audit events it records.

Services record audit events without knowing whether a person clicked, a command ran or a worker
woke up (`services/audit.py`); the address a request came from is the web layer's to know. Just
before the session writes an event added during a request, the request's client address (after
`trust_proxies`) is put on it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from .models import AuditEvent


def stamp_request_address(session: Session, flush_context: Any, instances: Any) -> None:
    """Give each new audit event of this request's flush the request's client address."""
    if not has_request_context():
        return
    for obj in session.new:
        if isinstance(obj, AuditEvent) and obj.ip_address is None:
            obj.ip_address = request.remote_addr


def init_request_origin(app: Flask) -> None:
    """Stamp audit events with their request's address at every flush (once per process)."""
    if not event.contains(Session, "before_flush", stamp_request_address):
        event.listen(Session, "before_flush", stamp_request_address)
