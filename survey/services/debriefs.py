"""The recruiter's debrief-call notes: record them, edit them later, alert on a red flag."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import Debrief, Interview, User, utcnow
from .alerts import debrief_alert_reasons, queue_alert

# Every field the debrief form edits (the mirror table of DESIGN).
DEBRIEF_FIELDS = (
    "interest",
    "self_assessment",
    "next_step_signal",
    "doubts",
    "doubts_cleared",
    "process_issues",
    "culture_score",
    "culture_notes",
    "what_matters",
    "red_flags",
    "red_flag_severity",
    "expected_outcome",
    "referral_potential",
    "open_to_other_roles",
    "free_notes",
)
TEXT_FIELDS = ("doubts", "process_issues", "culture_notes", "what_matters", "red_flags", "free_notes")


def save_debrief(interview: Interview, values: dict[str, Any], author: User) -> Debrief:
    """Create or update the interview's debrief, recording who changed it and when."""
    debrief = interview.debrief
    now = utcnow()
    if debrief is None:
        debrief = Debrief(interview=interview, created_by=author, created_at=now)
        db.session.add(debrief)
    for field in DEBRIEF_FIELDS:
        value = values.get(field)
        if field in TEXT_FIELDS:
            value = (value or "").strip()
        setattr(debrief, field, value)
    debrief.red_flag_severity = debrief.red_flag_severity or "none"
    debrief.updated_by = author
    debrief.updated_at = now
    db.session.flush()
    queue_alert(interview, "debrief", debrief_alert_reasons(debrief), {})
    db.session.commit()
    return debrief
