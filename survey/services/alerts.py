"""Alerts: tell an interview's recruiter, once, about a detractor, an unfair experience or a red flag.

Anonymous responses raise no alert at all: an email about "an anonymous detractor" arriving
minutes after one candidate's survey was sent would identify that candidate.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Alert, Debrief, Interview
from ..questions import nps_category
from .outbox import enqueue
from .webhooks import emit

UNFAIR_MAX = 2
REASON_TEXT = {
    "detractor": "The candidate would not recommend applying (score {nps} of 10).",
    "unfair": "The candidate did not feel treated fairly and with respect ({fair} of 5).",
    "red_flag": "Your debrief records a high-severity red flag.",
}


def survey_alert_reasons(answers: dict[str, Any]) -> list[str]:
    """Why a named response deserves the recruiter's attention (empty list: it does not)."""
    reasons = []
    if nps_category(answers.get("nps")) == "detractor":
        reasons.append("detractor")
    if answers.get("fair") is not None and answers["fair"] <= UNFAIR_MAX:
        reasons.append("unfair")
    return reasons


def debrief_alert_reasons(debrief: Debrief) -> list[str]:
    """Why a debrief deserves an alert: a high-severity red flag."""
    return ["red_flag"] if debrief.red_flag_severity == "high" else []


def queue_alert(interview: Interview, source: str, reasons: list[str], context: dict[str, Any]) -> bool:
    """Write the alert and its email in the caller's transaction, unless this source already alerted.

    The unique (interview, source) row is the guard; a savepoint keeps the caller's work
    when a concurrent request got there first. The caller commits.
    """
    if not reasons:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(Alert(interview_id=interview.id, source=source, reasons=reasons))
    except IntegrityError:
        return False
    emit(
        "alert.raised",
        {
            "interview_id": interview.id,
            "external_id": interview.external_id,
            "source": source,
            "reasons": reasons,
        },
    )
    recruiter = interview.recruiter
    enqueue(
        "alert",
        recruiter.email,
        one_line(f"Alert: {interview.candidate.name}, {interview.position.title} ({interview.stage})"),
        "recruiter_alert",
        {
            "recruiter_name": recruiter.name,
            "candidate_name": interview.candidate.name,
            "position_title": interview.position.title,
            "stage": interview.stage,
            "reasons": [REASON_TEXT[reason].format(**context) for reason in reasons],
            "interview_url": interview_url(interview),
        },
    )
    return True


def interview_url(interview: Interview) -> str:
    """The absolute link to an interview's combined view, for emails (works outside a request)."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/interviews/{interview.id}"


def one_line(text: str) -> str:
    """Collapse line breaks and other control characters, which an email header cannot carry."""
    return " ".join("".join(" " if ord(char) < 32 or ord(char) == 127 else char for char in text).split())
