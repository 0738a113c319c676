"""A candidate's survey link: open it, answer it once, or opt out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

from flask import current_app
from sqlalchemy import Connection, Engine, Row, Select, bindparam, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from ..database import one_writer_at_a_time
from ..driver_sql import DriverStatement, per_database, prepare
from ..extensions import db
from ..models import (
    Candidate,
    HeldAnswer,
    Interview,
    Invitation,
    Position,
    QuestionSetVersion,
    Response,
    WebhookEndpoint,
    link_state,
    random_id,
    utcnow,
)
from ..questions import CONSENT_CHOICES, TEXT_MAX_CHARS, QuestionSet
from ..sealing import seal
from ..tokens import InvalidToken, TokenClaims
from .alerts import queue_alert, survey_alert_reasons
from .anonymity import cohort_payload
from .errors import DomainError
from .invitations import candidate_language, fix_question_set
from .question_sets import published_questions, questions_for
from .report_facts import interview_standing
from .tallies import ResponseCounts, record_response, response_counts
from .webhooks import emit, iso


@dataclass(frozen=True)
class LinkTarget:
    """What the survey page needs to know about one invitation: one row, no ORM objects."""

    invitation_id: int
    version: int
    status: str
    expires_at: datetime | None
    opened_at: datetime | None
    candidate_id: int
    candidate_opted_out_at: datetime | None
    interview_id: int
    external_id: str | None
    stage: str
    hiring_manager: str
    recruiter_id: int | None
    ends_at: datetime
    position_id: int | None
    position_title: str
    department: str
    # The question-set version fixed on the link (None until it is issued), with its publication
    # time (together they name its questions in this process's cache), and the candidate's
    # language and time zone.
    question_set_version_id: int | None
    version_published_at: datetime | None
    language: str
    timezone: str
    # Whether any webhook endpoint exists: without one, an answer needs no event lookup at all.
    has_webhooks: bool


@cache
def _link_target_statement() -> Select:
    """Built once: SQLAlchemy then finds its compiled form in the cache on every request.

    Core columns (not ORM entities and loader options) keep each request to one cached
    statement and one plain row, the cheapest way to read the four joined tables.
    """
    invitations, interviews = Invitation.__table__, Interview.__table__
    candidates, positions = Candidate.__table__, Position.__table__
    versions = QuestionSetVersion.__table__
    return (
        select(
            invitations.c.id.label("invitation_id"),
            invitations.c.version,
            invitations.c.status,
            invitations.c.expires_at,
            invitations.c.opened_at,
            candidates.c.id.label("candidate_id"),
            candidates.c.opted_out_at.label("candidate_opted_out_at"),
            interviews.c.id.label("interview_id"),
            interviews.c.external_id,
            interviews.c.stage,
            interviews.c.hiring_manager,
            interviews.c.recruiter_id,
            interviews.c.ends_at,
            positions.c.id.label("position_id"),
            positions.c.title.label("position_title"),
            positions.c.department,
            invitations.c.question_set_version_id,
            versions.c.published_at.label("version_published_at"),
            interviews.c.language,
            interviews.c.timezone,
            select(WebhookEndpoint.__table__.c.id).exists().label("has_webhooks"),
        )
        .select_from(
            invitations.join(interviews, interviews.c.id == invitations.c.interview_id)
            .join(candidates, candidates.c.id == interviews.c.candidate_id)
            .join(positions, positions.c.id == interviews.c.position_id)
            .outerjoin(versions, versions.c.id == invitations.c.question_set_version_id)
        )
        .where(invitations.c.id == bindparam("invitation_id"))
    )


def load_link_target(invitation_id: int, connection: Connection | None = None) -> LinkTarget | None:
    """The invitation behind a link, with what its pages need, in one query (on the session's
    connection unless given one: a plain Core statement needs none of the ORM's execute path)."""
    connection = connection or db.session.connection()
    row = connection.execute(_link_target_statement(), {"invitation_id": invitation_id}).one_or_none()
    return LinkTarget(*row) if row is not None else None


def survey_questions(invitation: Invitation) -> QuestionSet:
    """The questions the invitation's link shows: its fixed version, in the candidate's language."""
    version = fix_question_set(invitation)
    return questions_for(version, candidate_language(invitation.interview, version))


def link_questions(target: LinkTarget, language: str | None = None) -> QuestionSet:
    """The questions a link shows, in the candidate's language (or `language`, where the set
    speaks it). A published version is read once per process; a link whose version is not yet
    fixed gets it fixed, as `survey_questions` does (the caller's transaction keeps it)."""
    if target.question_set_version_id is None or target.version_published_at is None:
        invitation = db.session.get(Invitation, target.invitation_id)
        if language is None:
            return survey_questions(invitation)
        return questions_for(fix_question_set(invitation), language)
    return published_questions(
        target.question_set_version_id, target.version_published_at, language or target.language
    )


@dataclass(frozen=True)
class SurveyLink:
    """What a survey or opt-out link leads to.

    state is one of: "open", "invalid", "expired", "completed", "opted_out".
    """

    state: str
    invitation: LinkTarget | None = None

    @property
    def expired_on(self) -> datetime | None:
        """When the link ran out, for the 410 page."""
        return self.invitation.expires_at if self.invitation else None


def resolve_link(
    load_token: Any, token: str, now: datetime | None = None, connection: Connection | None = None
) -> SurveyLink:
    """Check a token and say what state its invitation is in. Never spends the link."""
    try:
        claims: TokenClaims = load_token(token)
    except InvalidToken:
        return SurveyLink("invalid")
    target = load_link_target(claims.invitation_id, connection)
    if target is None or target.version != claims.version:
        return SurveyLink("invalid")
    return SurveyLink(
        link_state(target.status, target.candidate_opted_out_at, target.expires_at, now or utcnow()), target
    )


def read_survey_link(load_token: Any, token: str, now: datetime | None = None) -> SurveyLink:
    """Resolve a link for showing its survey (then `mark_opened`). Never spends it.

    The read stands alone, so it runs on a pooled connection of its own in autocommit mode, not
    in the ORM session: no BEGIN and ROLLBACK round trips on PostgreSQL (SQLite's driver begins
    no transaction for a read anyway), and a repeat open, the common case, never creates a
    session at all. The first-open UPDATE, when there is one, goes through the session.
    """
    with _reading_engine().connect() as connection:
        return resolve_link(load_token, token, now, connection)


def _reading_engine() -> Engine:
    """The app's engine for single reads: autocommit where the driver would otherwise open a
    transaction (same pool; SQLite's isolation level is left alone, switching it costs PRAGMAs)."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        return engine
    return _autocommit_engine(engine)


@cache
def _autocommit_engine(engine: Engine) -> Engine:
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def mark_opened(target: LinkTarget, now: datetime | None = None) -> None:
    """Record the first time the link was opened (a mail scanner may be the opener); commits.

    A repeat open writes nothing: the row already says when it was first opened.
    """
    if target.opened_at is not None:
        return
    params = {"b_invitation_id": target.invitation_id, "b_now": now or utcnow()}
    db.session.connection().execute(_mark_opened_statement(), params)
    db.session.commit()  # with a question-set version fixed on the link just now, if it was


@cache
def _mark_opened_statement():
    return Invitation.opening()


class AnswerError(DomainError):
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
    invitation: LinkTarget | Invitation,
    raw_answers: dict[str, Any],
    consent: str,
    questions: QuestionSet | None = None,
    now: datetime | None = None,
) -> bool:
    """Store the answers and complete the invitation, once. False if the link was already spent.

    The conditional UPDATE is the gate: only one request can move the invitation out of
    an open state; the unique invitation_id on responses backs it for named answers. A named
    answer, its report tally, any alert and any webhook event are written in the same
    transaction (seven statements, then the commit, when nothing alerts and no webhook endpoint
    exists). Anonymous answers are held back sealed (services/anonymity.py): they touch no
    response, no report tally, no alert and no webhook, and the completion time is kept to the day.

    Everything the answer writes is worked out before its write turn (on SQLite no other answer
    writes meanwhile): inside it only the statements run, compiled once as the driver's own SQL.
    """
    if consent not in CONSENT_CHOICES:
        raise AnswerError("consent: choose named or anonymous")
    target = invitation if isinstance(invitation, LinkTarget) else load_link_target(invitation.id)
    if target is None:
        return False
    questions = questions or link_questions(target)
    answers = clean_answers(raw_answers, questions)
    now = now or utcnow()
    named = consent == "named"
    spend = _spend_values(target, now, completed_at=now if named else start_of_day(now))
    if named:
        response = _response_values(target, answers, questions.version, now)
        store = partial(_store_named, target, answers, now, response, response_counts(response, questions))
    else:
        # Held back sealed: no alert, no webhook, no tally — an event minutes after the submit
        # would tie the answers to the one candidate whose survey just closed.
        store = partial(_hold, _held_values(target, answers, questions.version))
    with one_writer_at_a_time(db.session):
        try:
            return _complete(spend, store)
        except BaseException:
            # Ended before the turn passes on: an open transaction would keep SQLite's write lock
            # and leave the next writer waiting in its busy handler.
            db.session.rollback()
            raise


def _complete(spend: dict[str, Any], store: Callable[[Connection, Row], None]) -> bool:
    """Spend the link and store the answers in one transaction; False if it was already spent."""
    connection = db.session.connection()
    standing = _spend_statement(connection.dialect).execute(connection, spend).first()
    if standing is None:
        db.session.rollback()
        return False
    store(connection, standing)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _store_named(
    target: LinkTarget,
    answers: dict[str, Any],
    now: datetime,
    response: dict[str, Any],
    counts: ResponseCounts,
    connection: Connection,
    standing: Row,
) -> None:
    """The response, its tallies, any alert and the survey.completed event (the caller commits)."""
    _insert_response_statement(connection.dialect, tuple(response)).execute(connection, response)
    record_response(connection, response, counts, standing)
    _alert_on(target, answers)
    if target.has_webhooks:
        emit("survey.completed", completed_event(target, answers, now), now)


def _held_values(target: LinkTarget, answers: dict[str, Any], version: int) -> dict[str, Any]:
    """The sealed answer's row under a random id."""
    payload = cohort_payload(target.ends_at, target.department, answers, version)
    return {"id": random_id(), "sealed": seal(payload)}


def _hold(values: dict[str, Any], connection: Connection, standing: Row) -> None:
    """One INSERT of the sealed answer (the caller commits)."""
    connection.execute(_insert_held_statement(), values)


def start_of_day(moment: datetime) -> datetime:
    """Midnight UTC of the day: the finest time kept of an anonymous completion."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def completed_event(target: LinkTarget, answers: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The data of a survey.completed webhook: the answers with their question texts, in the
    language staff read (English where the set speaks it) of the version the candidate answered."""
    company = current_app.config["COMPANY_NAME"]
    questions = link_questions(target, language="en")
    return {
        "interview_id": target.interview_id,
        "external_id": target.external_id,
        "completed_at": iso(now),
        "question_set_version": questions.version,
        "answers": [
            {"key": q.key, "question": q.prompt(company), "value": answers[q.key]}
            for q in questions.questions
            if q.key in answers
        ],
    }


@per_database
def _spend_statement(dialect: Dialect) -> DriverStatement:
    # What the answer's report facts depend on comes back with the spend, read in its transaction.
    return prepare(Invitation.completion().returning(*interview_standing(Invitation.__table__)), dialect)


def _spend_values(target: LinkTarget, now: datetime, completed_at: datetime) -> dict[str, Any]:
    """The spend's parameters: it moves the invitation from open to completed, or finds nothing if
    another request got there first; it returns the interview's outcome and whether it has a
    debrief (`interview_standing`)."""
    return {
        "b_invitation_id": target.invitation_id,
        "b_version": target.version,
        "b_now": now,
        "b_completed_at": completed_at,
    }


@per_database
def _insert_response_statement(dialect: Dialect, columns: tuple[str, ...]) -> DriverStatement:
    return prepare(insert(Response.__table__), dialect, columns)


@cache
def _insert_held_statement():
    return insert(HeldAnswer.__table__)


def named_response_row(
    invitation_id: int,
    version: int,
    answers: dict[str, Any],
    *,
    position_id: int | None,
    position_title: str,
    department: str,
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
        "position_id": position_id,
        "position_title": position_title,
        "department": department,
        "stage": stage,
        "hiring_manager": hiring_manager,
        "recruiter_id": recruiter_id,
        "month": ends_at.strftime("%Y-%m"),
        "submitted_at": submitted_at,
    }


def _response_values(target: LinkTarget, answers: dict[str, Any], version: int, now: datetime) -> dict:
    row = named_response_row(
        target.invitation_id,
        version,
        answers,
        position_id=target.position_id,
        position_title=target.position_title,
        department=target.department,
        stage=target.stage,
        hiring_manager=target.hiring_manager,
        recruiter_id=target.recruiter_id,
        ends_at=target.ends_at,
        submitted_at=now,
    )
    return {"id": uuid.uuid4().hex, **row}


def _alert_on(target: LinkTarget, answers: dict[str, Any]) -> None:
    reasons = survey_alert_reasons(answers)
    if reasons:  # rare: only then is the interview loaded for the alert email
        queue_alert(db.session.get(Interview, target.interview_id), "survey", reasons, answers)


def opt_out(target: LinkTarget, now: datetime | None = None) -> None:
    """Stop all email to this candidate; an open survey is closed."""
    now = now or utcnow()
    db.session.execute(Candidate.opting_out(target.candidate_id, now))
    db.session.execute(Invitation.opting_out(target.invitation_id, now))
    db.session.commit()
