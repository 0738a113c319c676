"""A candidate's survey link: open it, answer it once, or opt out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Invitation, Position, Response, utcnow
from ..questions import CONSENT_CHOICES, TEXT_MAX_CHARS, QuestionSet, pick_language
from ..reports.cells import record_response
from ..tokens import InvalidToken, TokenClaims
from ..webhooks import emit, iso
from .alerts import queue_alert, survey_alert_reasons
from .anonymity import hold_answer
from .invitations import candidate_language, fix_question_set, load_invitation
from .question_sets import questions_for


@dataclass(frozen=True)
class SurveyLink:
    """What a survey or opt-out link leads to.

    state is one of: "open", "invalid", "expired", "completed", "opted_out".
    """

    state: str
    invitation: Invitation | None = None

    @property
    def expired_on(self) -> datetime | None:
        """When the link ran out, for the 410 page."""
        return self.invitation.expires_at if self.invitation else None


def resolve_link(load_token: Any, token: str, now: datetime | None = None) -> SurveyLink:
    """Check a token and say what state its invitation is in. Never spends the link."""
    try:
        claims: TokenClaims = load_token(token)
    except InvalidToken:
        return SurveyLink("invalid")
    invitation = load_invitation(claims.invitation_id)
    if invitation is None or invitation.version != claims.version:
        return SurveyLink("invalid")
    return SurveyLink(invitation.link_state(now or utcnow()), invitation)


def mark_opened(invitation: Invitation, now: datetime | None = None) -> None:
    """Record the first time the link was opened (a mail scanner may be the opener)."""
    if invitation.opened_at is not None:
        return
    db.session.execute(Invitation.opening(invitation.id, now or utcnow()))
    db.session.commit()


def survey_questions(invitation: Invitation) -> QuestionSet:
    """The questions the invitation's link shows: its fixed version, in the candidate's language."""
    version = fix_question_set(invitation)
    return questions_for(version, candidate_language(invitation.interview, version))


class AnswerError(ValueError):
    """An answer the question set does not allow."""


def clean_answers(raw: dict[str, Any], questions: QuestionSet) -> dict[str, Any]:
    """Keep only answered items, checked against the question set."""
    answers: dict[str, Any] = {}
    for question in questions.questions:
        value = raw.get(question.key)
        if value is None or value == "":
            continue
        if question.numeric:
            if isinstance(value, bool) or not isinstance(value, int) or value not in question.values:
                raise AnswerError(f"{question.key}: {value!r} is not on the scale")
        elif question.kind == "choice":
            if value not in question.values:
                raise AnswerError(f"{question.key}: {value!r} is not one of the options")
        else:
            value = str(value).strip()
            if len(value) > TEXT_MAX_CHARS:
                raise AnswerError(f"{question.key}: longer than {TEXT_MAX_CHARS} characters")
            if not value:
                continue
        answers[question.key] = value
    return answers


def submit_response(
    invitation: Invitation,
    raw_answers: dict[str, Any],
    consent: str,
    questions: QuestionSet | None = None,
    now: datetime | None = None,
) -> bool:
    """Store the answers and complete the invitation, once. False if the link was already spent.

    The conditional UPDATE is the gate: only one request can move the invitation out of
    an open state; the unique invitation_id on responses backs it for named answers.
    Anonymous answers are held back sealed (services/anonymity.py): they touch no response,
    no report tally and no alert, and the completion time is kept to the day.
    """
    if consent not in CONSENT_CHOICES:
        raise AnswerError("consent: choose named or anonymous")
    questions = questions or survey_questions(invitation)
    answers = clean_answers(raw_answers, questions)
    now = now or utcnow()
    named = consent == "named"
    spent = db.session.execute(Invitation.completion(invitation, now, now if named else start_of_day(now)))
    if spent.rowcount != 1:
        db.session.rollback()
        return False
    if named:
        response = _build_response(invitation, answers, questions.version, now)
        db.session.add(response)
        record_response(response, questions)
        queue_alert(invitation.interview, "survey", survey_alert_reasons(answers), answers)
        emit("survey.completed", completed_event(invitation, answers, now), now)
    else:
        # Held back sealed: no alert, no webhook, no tally — an event minutes after the submit
        # would tie the answers to the one candidate whose survey just closed.
        hold_answer(invitation.interview, answers, questions.version)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def start_of_day(moment: datetime) -> datetime:
    """Midnight UTC of the day: the finest time kept of an anonymous completion."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def completed_event(invitation: Invitation, answers: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The data of a survey.completed webhook: the answers with their question texts, in the
    language staff read (English where the set speaks it) of the version the candidate answered."""
    company = current_app.config["COMPANY_NAME"]
    version = fix_question_set(invitation)
    questions = questions_for(version, pick_language("en", version.languages))
    interview = invitation.interview
    return {
        "interview_id": interview.id,
        "external_id": interview.external_id,
        "completed_at": iso(now),
        "question_set_version": version.id,
        "answers": [
            {"key": q.key, "question": q.prompt(company), "value": answers[q.key]}
            for q in questions.questions
            if q.key in answers
        ],
    }


def named_response_row(
    invitation_id: int,
    version: int,
    answers: dict[str, Any],
    *,
    position: Position,
    stage: str,
    hiring_manager: str,
    recruiter_id: int | None,
    ends_at: datetime,
    submitted_at: datetime,
) -> dict[str, Any]:
    """A named response's columns: the answers and the grouping attributes copied at submit time
    (the demo seed bulk-inserts the same rows)."""
    return {
        "invitation_id": invitation_id,
        "question_set_version": version,
        "consent": "named",
        "answers": answers,
        "improve_text": answers.get("improve"),
        "position_id": position.id,
        "position_title": position.title,
        "department": position.department,
        "stage": stage,
        "hiring_manager": hiring_manager,
        "recruiter_id": recruiter_id,
        "month": ends_at.strftime("%Y-%m"),
        "submitted_at": submitted_at,
    }


def _build_response(invitation: Invitation, answers: dict[str, Any], version: int, now: datetime) -> Response:
    interview = invitation.interview
    row = named_response_row(
        invitation.id,
        version,
        answers,
        position=interview.position,
        stage=interview.stage,
        hiring_manager=interview.hiring_manager,
        recruiter_id=interview.recruiter_id,
        ends_at=interview.ends_at,
        submitted_at=now,
    )
    return Response(**row)


def opt_out(invitation: Invitation, now: datetime | None = None) -> None:
    """Stop all email to this candidate; an open survey is closed."""
    now = now or utcnow()
    invitation.interview.candidate.opt_out(now)
    invitation.opt_out(now)
    db.session.commit()
