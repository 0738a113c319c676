"""Leads to keep in touch with, and the brief for a position's next candidate."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from ..access import role_required
from ..models import ROLES
from ..services.leads import leads_for
from ..services.leads import position_brief as brief_for
from . import bp


@bp.get("/leads")
@role_required(*ROLES)
def leads():
    """Named promoters and likely referrers who were not hired."""
    return render_template("recruiter/leads.html", leads=leads_for(current_user))


@bp.get("/positions/<int:position_id>/brief")
@role_required(*ROLES)
def position_brief(position_id: int):
    """What debriefs say matters for this position, the doubts raised and the process issues."""
    brief = brief_for(position_id)
    if brief is None:
        abort(404)
    return render_template("recruiter/position_brief.html", brief=brief)
