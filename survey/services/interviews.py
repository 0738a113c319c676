"""The staff's view of interviews: who may see which, the filtered list, the combined view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
    timeline: list[TimelineEntry]

    @property
    def anonymous(self) -> bool:
        """The candidate answered but chose anonymity: their answers are not shown here."""
        invitation = self.interview.invitation
        return self.response is None and invitation is not None and invitation.status == "completed"

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


@dataclass(frozen=True)
class TimelineEntry:
    """One moment of the invitation; `earlier_link` is set for moments of a link since replaced."""

    label: str
    at: datetime
    earlier_link: int | None = None


def invitation_timeline(invitation: Invitation | None) -> list[TimelineEntry]:
    """The invitation's moments, earlier links' included, in time order."""
    if invitation is None:
        return []
    entries = [
        TimelineEntry(TIMELINE_LABELS.get(event.moment, event.moment), event.at, event.version)
        for event in invitation.history
    ]
    entries += [
        TimelineEntry(label, getattr(invitation, field))
        for label, field in TIMELINE
        if getattr(invitation, field) is not None
    ]
    return sorted(entries, key=lambda entry: entry.at)


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
        candidate_text=[
            (q.text, answers[q.key])
            for q in CURRENT.text_questions
            if q.key in answers and q.key not in mirrored
        ],
        timeline=invitation_timeline(invitation),
    )
