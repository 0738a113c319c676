"""Leads to keep in touch with, and the brief that prepares the next candidate for a position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Candidate, Debrief, Interview, Invitation, Position, Response, User
from .interviews import scoped

PROMOTER_MIN_NPS = 9
REFERRAL_MIN = 4
BRIEF_LIMIT = 100


@dataclass(frozen=True)
class Lead:
    """One interview whose candidate is worth keeping in touch with."""

    interview_id: int
    candidate_name: str
    candidate_email: str
    position_title: str
    stage: str
    ends_at: datetime
    nps: int | None
    referral_potential: int | None
    open_to_other_roles: bool | None


def leads_for(user: User, limit: int = 200) -> list[Lead]:
    """Named promoters (9–10) or referral potential 4+, never hired, still willing to hear from us."""
    nps = Response.answers["nps"].as_integer()
    hired = aliased(Interview)
    stmt = (
        select(
            Interview.id,
            Candidate.name,
            Candidate.email,
            Position.title,
            Interview.stage,
            Interview.ends_at,
            nps,
            Debrief.referral_potential,
            Debrief.open_to_other_roles,
        )
        .join(Interview.candidate)
        .join(Interview.position)
        .outerjoin(Interview.invitation)
        # Only named responses carry an invitation id: anonymous answers never surface here.
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .outerjoin(Interview.debrief)
        .where(
            or_(nps >= PROMOTER_MIN_NPS, Debrief.referral_potential >= REFERRAL_MIN),
            Candidate.opted_out_at.is_(None),
            ~exists().where(and_(hired.candidate_id == Candidate.id, hired.outcome == "hired")),
        )
        .order_by(Interview.ends_at.desc(), Interview.id.desc())
        .limit(limit)
    )
    return [Lead(*row) for row in db.session.execute(scoped(stmt, user))]


@dataclass(frozen=True)
class BriefNote:
    """One debrief's contribution to a position brief (no candidate named)."""

    stage: str
    hiring_manager: str
    ends_at: datetime
    what_matters: str
    doubts: str
    doubts_cleared: bool | None
    process_issues: str


@dataclass
class PositionBrief:
    """What debriefs for one position say: what matters, doubts, process issues."""

    position: Position
    debriefs: int
    notes: list[BriefNote]

    def of(self, field: str) -> list[BriefNote]:
        """The notes that say something about one topic."""
        return [note for note in self.notes if getattr(note, field)]


def position_brief(position_id: int) -> PositionBrief | None:
    """The brief for a position, newest debriefs first; None if there is no such position."""
    position = db.session.get(Position, position_id)
    if position is None:
        return None
    stmt = (
        select(
            Interview.stage,
            Interview.hiring_manager,
            Interview.ends_at,
            Debrief.what_matters,
            Debrief.doubts,
            Debrief.doubts_cleared,
            Debrief.process_issues,
        )
        .join(Debrief.interview)
        .where(Interview.position_id == position_id)
        .order_by(Interview.ends_at.desc())
        .limit(BRIEF_LIMIT)
    )
    notes = [BriefNote(*row) for row in db.session.execute(stmt)]
    return PositionBrief(position, len(notes), notes)
