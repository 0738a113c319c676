"""The staff's view of interviews: who may see which, the filtered list, the combined view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from ..extensions import db
from ..models import (
    Candidate,
    Debrief,
    Interview,
    Invitation,
    Position,
    QuestionSetVersion,
    Response,
    User,
    utcnow,
)
from ..questions import MIRROR, Gap, Question, QuestionSet, perception_gaps
from .question_sets import questions_for

PER_PAGE = 25


def sees_all(user: User) -> bool:
    """HR and admins see every interview; recruiters only their own."""
    return user.role in ("hr", "admin")


def scoped(stmt: Select, user: User) -> Select:
    """Limit an interview query to what this user may see."""
    return stmt if sees_all(user) else stmt.where(Interview.recruiter_id == user.id)


def interview_details(interview_id: int) -> Select:
    """One interview with everything its pages and the API show (the timeline history in a second query)."""
    return (
        select(Interview)
        .where(Interview.id == interview_id)
        .options(
            joinedload(Interview.candidate),
            joinedload(Interview.position),
            joinedload(Interview.invitation).selectinload(Invitation.history),
            joinedload(Interview.debrief).joinedload(Debrief.updated_by),
            joinedload(Interview.recruiter),
        )
    )


def interview_for(user: User, interview_id: int, *, to_change: bool = False) -> Interview | None:
    """The interview if this user may see it (or change it: owners only), else None."""
    interview = db.session.scalar(scoped(interview_details(interview_id), user))
    if interview is None or (to_change and interview.recruiter_id != user.id):
        return None
    return interview


PAGE_SIZES = (25, 50, 100)
# Sortable columns of the list: URL name → the column sorted on.
SORT_COLUMNS = {
    "date": Interview.ends_at,
    "candidate": Candidate.name,
    "position": Position.title,
    "stage": Interview.stage,
    "status": Invitation.status,
    "recruiter": User.name,
}


@dataclass(frozen=True)
class InterviewFilters:
    """The list's search, filters, order and page size; None means "any"."""

    status: str | None = None
    stage: str | None = None
    position_id: int | None = None
    needs_debrief: bool = False
    q: str = ""
    recruiter_id: int | None = None
    department: str | None = None
    # Instants (UTC): the first and the day after the last day asked for, in the user's zone.
    ends_from: datetime | None = None
    ends_before: datetime | None = None
    sort: str = "date"
    descending: bool = True
    per_page: int = PER_PAGE


def search_condition(q: str):
    """Candidate name or email, position title or an external id containing the text (any case)."""
    text = q.strip().lower()
    columns = (Candidate.name, Candidate.email, Position.title, Interview.external_id, Candidate.external_id)
    return or_(*(func.lower(column).contains(text, autoescape=True) for column in columns))


def _filtered(stmt: Select, filters: InterviewFilters, now: datetime | None) -> Select:
    conditions = []
    if filters.q.strip():
        conditions.append(search_condition(filters.q))
    if filters.status:
        conditions.append(Invitation.status == filters.status)
    if filters.stage:
        conditions.append(Interview.stage == filters.stage)
    if filters.position_id:
        conditions.append(Interview.position_id == filters.position_id)
    if filters.recruiter_id:
        conditions.append(Interview.recruiter_id == filters.recruiter_id)
    if filters.department:
        conditions.append(Position.department == filters.department)
    if filters.ends_from:
        conditions.append(Interview.ends_at >= filters.ends_from)
    if filters.ends_before:
        conditions.append(Interview.ends_at < filters.ends_before)
    if filters.needs_debrief:
        # Only interviews that have happened can have had their debrief call.
        conditions += [Debrief.id.is_(None), Interview.ends_at <= (now or utcnow())]
    return stmt.where(*conditions)


def interviews_query(user: User, filters: InterviewFilters, now: datetime | None = None) -> Select:
    """The user's interviews, filtered and sorted, with everything the list shows in the same query."""
    column = SORT_COLUMNS.get(filters.sort, Interview.ends_at)
    order = column.desc() if filters.descending else column.asc()
    tiebreak = Interview.id.desc() if filters.descending else Interview.id.asc()
    stmt = (
        select(Interview)
        .join(Interview.candidate)
        .join(Interview.position)
        .join(Interview.recruiter)
        .outerjoin(Interview.invitation)
        .outerjoin(Interview.debrief)
        .options(
            contains_eager(Interview.candidate),
            contains_eager(Interview.position),
            contains_eager(Interview.recruiter),
            contains_eager(Interview.invitation),
            contains_eager(Interview.debrief),
        )
        .order_by(order.nulls_last() if filters.sort == "status" else order, tiebreak)
    )
    return scoped(_filtered(stmt, filters, now), user)


def list_interviews(user: User, filters: InterviewFilters, page: int):
    """One page of the user's interviews (a Flask-SQLAlchemy Pagination): two queries per page."""
    per_page = filters.per_page if filters.per_page in PAGE_SIZES else PER_PAGE
    return db.paginate(interviews_query(user, filters), page=page, per_page=per_page, error_out=False)


@dataclass(frozen=True)
class FilterChoices:
    """What the list's filter menus offer: only values the user's interviews use."""

    stages: list[str]
    positions: list[tuple[int, str]]
    departments: list[str]
    recruiters: list[tuple[int, str]]


def filter_choices(user: User) -> FilterChoices:
    """The stages, positions, departments (and, for hr/admin, recruiters) of the user's interviews."""
    stages = list(
        db.session.scalars(scoped(select(Interview.stage).distinct(), user).order_by(Interview.stage))
    )
    positions_stmt = scoped(
        select(Position.id, Position.title, Position.location)
        .join(Interview, Interview.position_id == Position.id)
        .distinct(),
        user,
    ).order_by(Position.title, Position.location)
    positions = [
        (pid, f"{title} ({location})" if location else title)
        for pid, title, location in db.session.execute(positions_stmt)
    ]
    departments_stmt = scoped(
        select(Position.department).join(Interview, Interview.position_id == Position.id).distinct(), user
    ).order_by(Position.department)
    recruiters: list[tuple[int, str]] = []
    if sees_all(user):
        recruiters_stmt = (
            select(User.id, User.name)
            .where(User.id.in_(select(Interview.recruiter_id).distinct()))
            .order_by(User.name)
        )
        recruiters = [(uid, name) for uid, name in db.session.execute(recruiters_stmt)]
    return FilterChoices(stages, positions, list(db.session.scalars(departments_stmt)), recruiters)


@dataclass
class CombinedView:
    """What the combined view shows for one interview."""

    interview: Interview
    response: Response | None
    gaps: list[Gap]
    other_items: list[tuple[Question, Any]]
    candidate_text: list[tuple[str, str]]
    timeline: list[TimelineEntry]

    @property
    def anonymous(self) -> bool:
        """The candidate answered but chose anonymity: their answers are not shown here."""
        invitation = self.interview.invitation
        return self.response is None and invitation is not None and invitation.answered

    @property
    def scored(self) -> list[Gap]:
        """The pairs compared by a gap or a rule, in DESIGN's order."""
        return [gap for gap in self.gaps if gap.pair.kind != "text"]

    @property
    def text_pairs(self) -> list[Gap]:
        """The free-text pairs, shown side by side and never scored."""
        return [gap for gap in self.gaps if gap.pair.kind == "text"]

    @property
    def flagged(self) -> int:
        """How many mirrored pairs disagree enough to flag."""
        return sum(1 for gap in self.gaps if gap.flagged)


TIMELINE = (
    ("Scheduled to send", "send_after"),
    ("Email written", "issued_at"),
    ("Sent", "sent_at"),
    ("Reminded", "reminded_at"),
    ("Opened", "opened_at"),
    ("Completed", "completed_at"),
    ("Opted out", "opted_out_at"),
    ("Cancelled", "cancelled_at"),
    ("Link expires", "expires_at"),
)
TIMELINE_LABELS = {field: label for label, field in TIMELINE}


ANONYMOUS_COMPLETION = "Completed anonymously (only the day is kept)"


@dataclass(frozen=True)
class TimelineEntry:
    """One moment of the invitation; `earlier_link` is set for moments of a link since replaced."""

    label: str
    at: datetime
    earlier_link: int | None = None
    day_only: bool = False  # an anonymous completion keeps only its day


def invitation_timeline(invitation: Invitation | None, anonymous: bool = False) -> list[TimelineEntry]:
    """The invitation's moments, earlier links' included, in time order. An anonymous completion
    keeps only its day, so it is listed by that day and after the other moments of the same day."""
    if invitation is None:
        return []
    entries = [
        TimelineEntry(TIMELINE_LABELS.get(event.moment, event.moment), event.at, event.version)
        for event in invitation.history
    ]
    for label, field in TIMELINE:
        at = getattr(invitation, field)
        if at is None:
            continue
        if anonymous and field == "completed_at":
            entries.append(TimelineEntry(ANONYMOUS_COMPLETION, at, day_only=True))
        else:
            entries.append(TimelineEntry(label, at))

    def order(entry: TimelineEntry) -> datetime:
        return entry.at + timedelta(days=1) - timedelta(microseconds=1) if entry.day_only else entry.at

    return sorted(entries, key=order)


def answered_questions(response: Response | None) -> QuestionSet:
    """The questions a response answered (its version), as staff read them: English if the set
    speaks it, else the set's first language."""
    if response is None:
        return QuestionSet(version=0, questions=())
    return questions_for(db.session.get(QuestionSetVersion, response.question_set_version), "en")


def combined_view(interview: Interview) -> CombinedView:
    """The candidate's named answers beside the debrief, pair by pair, with the gaps flagged."""
    invitation = interview.invitation
    response = None
    if invitation is not None:
        response = db.session.scalar(select(Response).where(Response.invitation_id == invitation.id))
    answers = response.answers if response else {}
    questions = answered_questions(response)
    mirrored = {pair.survey_key for pair in MIRROR}
    return CombinedView(
        interview=interview,
        response=response,
        gaps=perception_gaps(answers, interview.debrief, questions) if response else [],
        other_items=[
            (question, answers[question.key])
            for question in questions.questions
            if question.kind != "text" and question.key not in mirrored and question.key in answers
        ],
        candidate_text=[
            (q.text, answers[q.key])
            for q in questions.text_questions
            if q.key in answers and q.key not in mirrored
        ],
        timeline=invitation_timeline(
            invitation,
            anonymous=response is None and invitation is not None and invitation.answered,
        ),
    )
