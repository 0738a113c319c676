"""Leads to keep in touch with, and the brief that prepares the next candidate for a position."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Candidate, Debrief, Interview, Invitation, Position, Response, User
from ..reports.themes import cluster_themes
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


@dataclass(frozen=True)
class BriefTopic:
    """A recurring point of the brief: what it is, how often, and its latest example."""

    label: str
    count: int
    latest: BriefNote
    cleared: int | None = None  # doubts only: how many of these were cleared on the call


@dataclass
class PositionBrief:
    """What debriefs for one position say, summarised: recurring priorities, doubts, process issues."""

    position: Position
    debriefs: int
    notes: list[BriefNote]
    topics: dict[str, list[BriefTopic]] = field(default_factory=dict)
    one_offs: dict[str, list[BriefNote]] = field(default_factory=dict)
    mentions: dict[str, int] = field(default_factory=dict)  # debriefs that say anything on the topic

    def of(self, field_name: str) -> list[BriefNote]:
        """The notes that say something about one topic."""
        return [note for note in self.notes if getattr(note, field_name)]


BRIEF_TOPICS = ("what_matters", "doubts", "process_issues")
# A point is "recurring" once two debriefs raise it.
RECURRING = 2
TOPICS_SHOWN = 6
ONE_OFFS_SHOWN = 5


def summarise(notes: list[BriefNote], field_name: str) -> tuple[list[BriefTopic], list[BriefNote]]:
    """The recurring points of one topic across notes (newest first), merged by shared phrases,
    and the latest few notes that raise something no other debrief does."""
    said = [note for note in notes if getattr(note, field_name)]
    themes = cluster_themes([(getattr(note, field_name), 1) for note in said], RECURRING, limit=TOPICS_SHOWN)
    topics, covered = [], set()
    for theme in themes:
        covered |= set(theme.members)
        members = [said[index] for index in theme.members]
        cleared = None
        if field_name == "doubts":
            cleared = sum(1 for note in members if note.doubts_cleared)
        topics.append(BriefTopic(theme.label, theme.count, members[0], cleared))
    others = [note for index, note in enumerate(said) if index not in covered]
    return topics, others[:ONE_OFFS_SHOWN]


def position_brief(position_id: int) -> PositionBrief | None:
    """The brief for a position from its latest debriefs; None if there is no such position."""
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
        .order_by(Interview.ends_at.desc(), Interview.id.desc())
        .limit(BRIEF_LIMIT)
    )
    notes = [BriefNote(*row) for row in db.session.execute(stmt)]
    brief = PositionBrief(position, len(notes), notes)
    for topic in BRIEF_TOPICS:
        brief.topics[topic], brief.one_offs[topic] = summarise(notes, topic)
        brief.mentions[topic] = len(brief.of(topic))
    return brief
