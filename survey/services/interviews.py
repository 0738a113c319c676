"""The staff's view of interviews: who may see which, the filtered list, the combined view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager, joinedload

from ..extensions import db
from ..models import Debrief, Interview, Invitation, Position, Response, User, utcnow
from ..questions import CURRENT, MIRROR, Gap, Question, perception_gaps

PER_PAGE = 25


def sees_all(user: User) -> bool:
    """HR and admins see every interview; recruiters only their own."""
    return user.role in ("hr", "admin")


def scoped(stmt: Select, user: User) -> Select:
    """Limit an interview query to what this user may see."""
    return stmt if sees_all(user) else stmt.where(Interview.recruiter_id == user.id)


def interview_details(interview_id: int) -> Select:
    """One interview with everything its pages and the API show, loaded in a single query."""
    return (
        select(Interview)
        .where(Interview.id == interview_id)
        .options(
            joinedload(Interview.candidate),
            joinedload(Interview.position),
            joinedload(Interview.invitation),
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


@dataclass(frozen=True)
class InterviewFilters:
    """The list's filters; None means "any"."""

    status: str | None = None
    stage: str | None = None
    position_id: int | None = None
    needs_debrief: bool = False


def interviews_query(user: User, filters: InterviewFilters, now: datetime | None = None) -> Select:
    """Newest first, with candidate, position, invitation and debrief loaded in the same query."""
    stmt = (
        select(Interview)
        .join(Interview.candidate)
        .join(Interview.position)
        .outerjoin(Interview.invitation)
        .outerjoin(Interview.debrief)
        .options(
            contains_eager(Interview.candidate),
            contains_eager(Interview.position),
            contains_eager(Interview.invitation),
            contains_eager(Interview.debrief),
        )
        .order_by(Interview.ends_at.desc(), Interview.id.desc())
    )
    if filters.status:
        stmt = stmt.where(Invitation.status == filters.status)
    if filters.stage:
        stmt = stmt.where(Interview.stage == filters.stage)
    if filters.position_id:
        stmt = stmt.where(Interview.position_id == filters.position_id)
    if filters.needs_debrief:
        # Only interviews that have happened can have had their debrief call.
        stmt = stmt.where(Debrief.id.is_(None), Interview.ends_at <= (now or utcnow()))
    return scoped(stmt, user)


def list_interviews(user: User, filters: InterviewFilters, page: int):
    """One page of the user's interviews (a Flask-SQLAlchemy Pagination): two queries per page."""
    return db.paginate(interviews_query(user, filters), page=page, per_page=PER_PAGE, error_out=False)


def filter_choices(user: User) -> tuple[list[str], list[tuple[int, str]]]:
    """The stages and positions the user's interviews use, for the filter menus."""
    base = scoped(select(Interview.stage).distinct(), user)
    stages = list(db.session.scalars(base.order_by(Interview.stage)))
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
    return stages, positions


@dataclass
class CombinedView:
    """What the combined view shows for one interview."""

    interview: Interview
    response: Response | None
    gaps: list[Gap]
    other_items: list[tuple[Question, Any]]
    candidate_text: list[tuple[str, str]]
    timeline: list[tuple[str, datetime]]

    @property
    def anonymous(self) -> bool:
        """The candidate answered but chose anonymity: their answers are not shown here."""
        invitation = self.interview.invitation
        return self.response is None and invitation is not None and invitation.status == "completed"

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


ANONYMOUS_COMPLETION = "Completed anonymously (only the day is kept)"


def invitation_timeline(invitation: Invitation | None, anonymous: bool = False) -> list[tuple[str, datetime]]:
    """The invitation's moments, in time order. An anonymous completion keeps only its day, so
    it is listed by that day and after the other moments of the same day."""
    if invitation is None:
        return []
    moments = [(label, getattr(invitation, field)) for label, field in TIMELINE]
    moments = [
        (ANONYMOUS_COMPLETION if anonymous and field == "completed_at" else label, at)
        for (label, at), (_, field) in zip(moments, TIMELINE, strict=True)
    ]

    def order(item: tuple[str, datetime]) -> datetime:
        label, at = item
        return at + timedelta(days=1) - timedelta(microseconds=1) if label == ANONYMOUS_COMPLETION else at

    return sorted(((label, at) for label, at in moments if at is not None), key=order)


def combined_view(interview: Interview) -> CombinedView:
    """The candidate's named answers beside the debrief, pair by pair, with the gaps flagged."""
    invitation = interview.invitation
    response = None
    if invitation is not None:
        response = db.session.scalar(select(Response).where(Response.invitation_id == invitation.id))
    answers = response.answers if response else {}
    mirrored = {pair.survey_key for pair in MIRROR}
    return CombinedView(
        interview=interview,
        response=response,
        gaps=perception_gaps(answers, interview.debrief) if response else [],
        other_items=[
            (question, answers[question.key])
            for question in CURRENT.scale_questions
            if question.key not in mirrored and question.key in answers
        ],
        candidate_text=[(q.text, answers[q.key]) for q in CURRENT.text_questions if q.key in answers],
        timeline=invitation_timeline(
            invitation,
            anonymous=response is None and invitation is not None and invitation.status == "completed",
        ),
    )
