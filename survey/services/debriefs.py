"""The recruiter's debrief-call notes: record them, edit them later, alert on a red flag."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import DEBRIEF_TEXT_FIELDS, Debrief, Interview, User, utcnow
from .alerts import debrief_alert_reasons, queue_alert
from .webhooks import emit, iso

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


# What a debrief.recorded webhook carries: the structured reads, never the free-text notes.
EVENT_FIELDS = (
    "interest",
    "self_assessment",
    "next_step_signal",
    "doubts_cleared",
    "culture_score",
    "red_flag_severity",
    "expected_outcome",
    "referral_potential",
    "open_to_other_roles",
)


def debrief_event(interview: Interview, debrief: Debrief) -> dict[str, Any]:
    """The data of a debrief.recorded webhook."""
    return {
        "interview_id": interview.id,
        "external_id": interview.external_id,
        "recorded_at": iso(debrief.updated_at),
        **{name: getattr(debrief, name) for name in EVENT_FIELDS},
    }


def save_debrief(interview: Interview, values: dict[str, Any], author: User) -> Debrief:
    """Create or update the interview's debrief, recording who changed it and when."""
    debrief = interview.debrief
    now = utcnow()
    if debrief is None:
        debrief = Debrief(interview=interview, created_by=author, created_at=now)
        db.session.add(debrief)
    for field in DEBRIEF_FIELDS:
        value = values.get(field)
        if field in DEBRIEF_TEXT_FIELDS:
            value = (value or "").strip()
        setattr(debrief, field, value)
    debrief.red_flag_severity = debrief.red_flag_severity or "none"
    debrief.updated_by = author
    debrief.updated_at = now
    db.session.flush()
    queue_alert(interview, "debrief", debrief_alert_reasons(debrief), {})
    emit("debrief.recorded", debrief_event(interview, debrief), now)
    db.session.commit()
    return debrief
