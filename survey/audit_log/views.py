"""`/admin/audit`: the audit log, newest first, paginated, filtered by action."""

from __future__ import annotations

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice, SelectField

from ..access import requested_page, role_required
from ..extensions import db
from ..models import AuditEvent
from . import bp

PER_PAGE = 50
# Plain words for the actions the app records; an unknown action shows as recorded.
ACTION_LABELS = {
    "sign_in": "Signed in",
    "sign_in.failed": "Failed sign-in",
    "data.erase": "Candidate erased on request",
    "data.purge": "Retention purge",
    "user.created": "User created",
    "user.role_changed": "Role changed",
    "user.deactivated": "User deactivated",
    "user.reactivated": "User reactivated",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "reports.export": "Report exported",
    "leads.export": "Leads downloaded",
    "lead.contacted": "Lead marked contacted",
    "lead.uncontacted": "Lead contacted mark removed",
    "interview.reassigned": "Interview reassigned",
}


class AuditFilterForm(FlaskForm):
    """Which action to show; a GET filter that changes nothing, so no CSRF token."""

    class Meta:
        csrf = False

    action = SelectField("Action", choices=[SelectChoice("", "All actions")], default="")


def action_label(action: str) -> str:
    """The plain-words name of an audit action."""
    return ACTION_LABELS.get(action, action)


@bp.get("/audit")
@role_required("admin")
def events():
    """The audit log for admins."""
    recorded = db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    form = AuditFilterForm(request.args)
    form.action.choices = [
        SelectChoice("", "All actions"),
        *(SelectChoice(a, action_label(a)) for a in recorded),
    ]
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if form.validate() and form.action.data:
        stmt = stmt.where(AuditEvent.action == form.action.data)
    page = db.paginate(stmt, page=requested_page(), per_page=PER_PAGE, error_out=False)
    return render_template("audit_log/events.html", form=form, page=page, action_label=action_label)
