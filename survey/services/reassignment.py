"""Moving interviews to another recruiter: one at a time (hr/admin) or all of a leaving recruiter's."""

from __future__ import annotations

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import Interview, User
from .accounts import AccountError, set_active
from .audit import record_event
from .errors import DomainError
from .report_facts import kept_across

# Interviews still in play: the outcome is not known yet, so someone must follow them up.
OPEN_OUTCOME = "pending"


class ReassignError(DomainError):
    """A reassignment that cannot be done, with a message for people."""


def active_recruiters(excluding: int | None = None) -> list[User]:
    """Recruiters who can take interviews over, by name."""
    stmt = select(User).where(User.role == "recruiter", User.active.is_(True)).order_by(User.name)
    if excluding is not None:
        stmt = stmt.where(User.id != excluding)
    return list(db.session.scalars(stmt))


def open_interview_counts() -> dict[int, int]:
    """Per recruiter id, how many of their interviews are still open (one GROUP BY)."""
    stmt = (
        select(Interview.recruiter_id, func.count())
        .where(Interview.outcome == OPEN_OUTCOME)
        .group_by(Interview.recruiter_id)
    )
    return dict(db.session.execute(stmt).all())


def _new_owner(recruiter_id: int | None) -> User:
    user = db.session.get(User, recruiter_id) if recruiter_id else None
    if user is None or user.role != "recruiter" or not user.active:
        raise ReassignError("Choose an active recruiter to take the interviews over.")
    return user


def reassign_interview(interview: Interview, recruiter_id: int | None, actor: User) -> Interview:
    """Give one interview to another active recruiter; recorded in the audit log."""
    new_owner = _new_owner(recruiter_id)
    if new_owner.id != interview.recruiter_id:
        record_event(
            "interview.reassigned",
            {"interview_id": interview.id, "from": interview.recruiter.email, "to": new_owner.email},
            actor=actor,
        )
        interview.recruiter = new_owner
        db.session.commit()
    return interview


def deactivate_and_reassign(user: User, recruiter_id: int | None, actor: User) -> int:
    """Deactivate a user; with a recruiter chosen, move their open interviews to them first.

    Both happen in one transaction, each recorded in the audit log; returns how many moved.
    """
    moved = 0
    if recruiter_id:
        new_owner = _new_owner(recruiter_id)
        if new_owner.id == user.id:
            raise ReassignError("Choose someone other than the recruiter who is leaving.")
        leaving = (Interview.recruiter_id == user.id, Interview.outcome == OPEN_OUTCOME)
        # One UPDATE for them all, which the session's flush does not see: the report facts
        # (scoped by recruiter) are kept around it explicitly.
        with kept_across(db.session.scalars(select(Interview.id).where(*leaving))):
            result = db.session.execute(
                update(Interview)
                .where(*leaving)
                .values(recruiter_id=new_owner.id)
                .execution_options(synchronize_session=False)
            )
        moved = result.rowcount or 0
        record_event(
            "interview.reassigned",
            {"from": user.email, "to": new_owner.email, "open_interviews": moved},
            actor=actor,
        )
    try:
        set_active(user, False, actor)
    except AccountError:
        db.session.rollback()  # nothing moves if the account cannot be deactivated
        raise
    db.session.commit()  # the reassignment, also for an account deactivated earlier
    return moved
