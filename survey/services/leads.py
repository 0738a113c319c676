"""Leads to keep in touch with, and the brief that prepares the next candidate for a position."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Candidate, Debrief, Interview, Invitation, Position, Response, User, utcnow
from ..questions import PROMOTER_MIN
from ..themes import cluster_themes
from .audit import record_event
from .errors import DomainError
from .interviews import scoped

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
    contacted_at: datetime | None
    recruiter_id: int


NPS = Response.answers["nps"].as_integer()
LEAD_SORTS = {
    "date": Interview.ends_at,
    "candidate": Candidate.name,
    "position": Position.title,
    "stage": Interview.stage,
    "recommend": NPS,
    "referral": Debrief.referral_potential,
    "contacted": Interview.lead_contacted_at,
}


def leads_query(user: User, sort: str = "date", descending: bool = True) -> Select:
    """Named promoters (9–10) or referral potential 4+, never hired, still willing to hear from us."""
    hired = aliased(Interview)
    column = LEAD_SORTS.get(sort, Interview.ends_at)
    order = column.desc() if descending else column.asc()
    stmt = (
        select(
            Interview.id,
            Candidate.name,
            Candidate.email,
            Position.title,
            Interview.stage,
            Interview.ends_at,
            NPS,
            Debrief.referral_potential,
            Debrief.open_to_other_roles,
            Interview.lead_contacted_at,
            Interview.recruiter_id,
        )
        .join(Interview.candidate)
        .join(Interview.position)
        .outerjoin(Interview.invitation)
        # Only named responses carry an invitation id: anonymous answers never surface here.
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .outerjoin(Interview.debrief)
        .where(
            or_(NPS >= PROMOTER_MIN, Debrief.referral_potential >= REFERRAL_MIN),
            Candidate.opted_out_at.is_(None),
            ~exists().where(and_(hired.candidate_id == Candidate.id, hired.outcome == "hired")),
        )
        .order_by(order.nulls_last(), Interview.id.desc() if descending else Interview.id.asc())
    )
    return scoped(stmt, user)


def leads_for(user: User, limit: int = 200) -> list[Lead]:
    """The user's leads, newest first (at most `limit`)."""
    return [Lead(*row) for row in db.session.execute(leads_query(user).limit(limit))]


@dataclass
class LeadPage:
    """One page of leads, with what the pager needs."""

    items: list[Lead]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages


def lead_page(
    user: User, page: int, per_page: int = 25, sort: str = "date", descending: bool = True
) -> LeadPage:
    """One page of the user's leads, sorted: two queries whatever the page size."""
    stmt = leads_query(user, sort, descending)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    return LeadPage([Lead(*row) for row in rows], page, per_page, total)


def iter_leads(user: User) -> Iterator[Lead]:
    """Every lead of the user, streamed from the database in chunks (for the CSV download)."""
    result = db.session.execute(leads_query(user).execution_options(yield_per=500))
    for row in result:
        yield Lead(*row)


class LeadError(DomainError):
    """A change to a lead that is not allowed, with a message for people."""


def record_leads_export(actor: User) -> None:
    """Write the actor's download of the leads to the audit log, committed before the file streams."""
    record_event("leads.export", {"format": "csv"}, actor=actor)
    db.session.commit()


def mark_contacted(user: User, interview_id: int, contacted: bool, now: datetime | None = None) -> Interview:
    """The owning recruiter marks (or unmarks) a lead as contacted; recorded in the audit log."""
    interview = db.session.get(Interview, interview_id)
    if interview is None or interview.recruiter_id != user.id:
        raise LeadError("Only the interview's own recruiter can mark this lead.")
    if contacted == (interview.lead_contacted_at is not None):
        return interview
    interview.lead_contacted_at = (now or utcnow()) if contacted else None
    record_event(
        "lead.contacted" if contacted else "lead.uncontacted", {"interview_id": interview.id}, actor=user
    )
    db.session.commit()
    return interview


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
