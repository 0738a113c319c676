"""The domain, as typed SQLAlchemy 2.0 models. Times are stored as UTC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC on every database and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ROLES = ("recruiter", "hr", "admin")
OUTCOMES = ("pending", "advanced", "rejected", "hired", "withdrawn")
INVITATION_STATUSES = (
    "scheduled",
    "sent",
    "opened",
    "completed",
    "expired",
    "opted_out",
    "cancelled",
    "failed",
)
# A survey can still be answered in these states.
OPEN_STATUSES = ("scheduled", "sent", "opened")
OUTBOX_STATUSES = ("pending", "sent", "failed", "dead")
CONSENT_CHOICES = ("named", "anonymous")


def in_check(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that a column holds one of the given values."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class User(UserMixin, db.Model):
    """A staff account: recruiter, hr or admin."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(in_check("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password, never the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Whether the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot sign in
        return self.active


class Candidate(db.Model):
    """A person interviewed. Personal data: retention and erasure apply."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def reachable(self) -> bool:
        """Whether we may still email this candidate."""
        return self.opted_out_at is None and self.bounced_at is None


class Position(db.Model):
    """A role being hired for."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("title", "department", "location"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(120), default="")
    location: Mapped[str] = mapped_column(String(120), default="")


class Interview(db.Model):
    """One interview of one candidate for one position, owned by a recruiter."""

    __tablename__ = "interviews"
    __table_args__ = (
        CheckConstraint(in_check("outcome", OUTCOMES), name="outcome"),
        Index("ix_interviews_recruiter_ends", "recruiter_id", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"), index=True)
    recruiter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    stage: Mapped[str] = mapped_column(String(100))
    hiring_manager: Mapped[str] = mapped_column(String(200), default="")
    interviewers: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    candidate: Mapped[Candidate] = relationship()
    position: Mapped[Position] = relationship()
    recruiter: Mapped[User] = relationship()
    invitation: Mapped[Invitation | None] = relationship(back_populates="interview")


class Invitation(db.Model):
    """The survey invitation of one interview; its version revokes older links."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(in_check("status", INVITATION_STATUSES), name="status"),
        Index("ix_invitations_status_send_after", "status", "send_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    version: Mapped[int] = mapped_column(Integer, default=1)
    send_after: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the current version's email was written to the outbox (not yet delivered).
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    interview: Mapped[Interview] = relationship(back_populates="invitation")


class Response(db.Model):
    """A candidate's answers with the grouping attributes copied at submit time.

    An anonymous response has no invitation link, a random id and only the month,
    so nothing in the database ties it back to a candidate.
    """

    __tablename__ = "responses"
    __table_args__ = (
        CheckConstraint(in_check("consent", CONSENT_CHOICES), name="consent"),
        CheckConstraint("consent = 'named' OR invitation_id IS NULL", name="anonymous_unlinked"),
        Index("ix_responses_month", "month"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    # Unique: one response per invitation, enforced by the database.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), unique=True)
    question_set_version: Mapped[int] = mapped_column(Integer)
    consent: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"), index=True)
    position_title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(120), default="")
    stage: Mapped[str] = mapped_column(String(100))
    hiring_manager: Mapped[str] = mapped_column(String(200), default="")
    recruiter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    # Exact time only for named responses; anonymous ones keep the month alone.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped[Invitation | None] = relationship()


class OutboxMessage(db.Model):
    """An email waiting to go out, written in the transaction that caused it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(in_check("status", OUTBOX_STATUSES), name="status"),
        # At most one invitation email and one reminder per invitation version.
        UniqueConstraint("invitation_id", "kind", "invitation_version"),
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"))
    invitation_version: Mapped[int | None] = mapped_column(Integer)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped[Invitation | None] = relationship()


class ApiKey(db.Model):
    """A key for the ATS integration; only its SHA-256 hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
