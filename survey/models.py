"""The domain, as typed SQLAlchemy 2.0 models. Times are stored as UTC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Update,
    bindparam,
    case,
    literal,
    or_,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .questions import CONSENT_CHOICES


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def random_id() -> str:
    """A random 128-bit id in hex: says nothing about when or in which order a row was written."""
    return uuid.uuid4().hex


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
# Outcomes that went the candidate's way, and the outcomes that decided the interview.
POSITIVE_OUTCOMES = ("advanced", "hired")
DECIDED_OUTCOMES = ("advanced", "hired", "rejected")


class InvitationStatus(StrEnum):
    """Where an invitation is in its life; the values are the strings stored in `invitations.status`.

    scheduled → sent → opened → completed is the happy path; expired, opted_out, cancelled and
    "failed" end it early. A resend (a new link, `Invitation.reissue`) starts again at scheduled.
    The transitions are the methods of Invitation.
    """

    # Waiting for its send time, or written to the outbox (issued_at set) but not yet delivered.
    SCHEDULED = "scheduled"
    # The invitation email was delivered; the link runs until expires_at.
    SENT = "sent"
    # The link was opened (perhaps by a mail scanner: opening never spends it).
    OPENED = "opened"
    COMPLETED = "completed"
    EXPIRED = "expired"
    OPTED_OUT = "opted_out"
    CANCELLED = "cancelled"
    # Given up: the invitation email was refused for good or ran out of attempts, so the link never
    # reached the candidate. Final (only a resend starts over). Stored as "failed", the API's word;
    # an outbox row's "failed" instead means "failed once, will retry" (OUTBOX_STATUSES).
    UNDELIVERABLE = "failed"


INVITATION_STATUSES = tuple(InvitationStatus)
# A survey can still be answered in these states.
OPEN_STATUSES = (InvitationStatus.SCHEDULED, InvitationStatus.SENT, InvitationStatus.OPENED)
# Delivered and not yet answered: the states a reminder may go out in.
DELIVERED_OPEN_STATUSES = (InvitationStatus.SENT, InvitationStatus.OPENED)


class OutboxStatus(StrEnum):
    """Where an outbox row is; the values are the strings stored in `outbox_messages.status`."""

    PENDING = "pending"  # never tried yet
    SENT = "sent"
    # Failed once, due again at next_attempt_at. Stored as "failed" (older rows say so); not the
    # invitation's "failed" (InvitationStatus.UNDELIVERABLE), which is final.
    RETRYING = "failed"
    DEAD = "dead"  # given up


# Still to be tried: never tried, or due again.
OUTBOX_DUE_STATUSES = (OutboxStatus.PENDING, OutboxStatus.RETRYING)
OUTBOX_STATUSES = tuple(OutboxStatus)
# What an API key may do; a key gets write and read unless told otherwise.
API_SCOPES = ("interviews:write", "interviews:read", "interviews:read-all")
DEFAULT_API_SCOPES = ("interviews:write", "interviews:read")


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
    # IANA time zone name ("Europe/Berlin") staff pages show times in; None: DEFAULT_TIMEZONE.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Part of every session cookie; bumping it ends every session signed in before.
    session_generation: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def get_id(self) -> str:
        """Flask-Login's id in the session cookie: the user id and the session generation."""
        return f"{self.id}.{self.session_generation}"

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password, never the password."""
        method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

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
    # Set when the personal data was erased (on request or by the retention purge).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def reachable(self) -> bool:
        """Whether we may still email this candidate."""
        return self.opted_out_at is None and self.bounced_at is None

    def opt_out(self, now: datetime) -> None:
        """Stop all email to this candidate (the first opt-out's time is kept)."""
        if self.opted_out_at is None:
            self.opted_out_at = now

    @classmethod
    def opting_out(cls, candidate_id: int, now: datetime) -> Update:
        """The UPDATE stopping all email to this candidate (the first opt-out's time is kept)."""
        return update(cls).where(cls.id == candidate_id, cls.opted_out_at.is_(None)).values(opted_out_at=now)

    @classmethod
    def bouncing(cls, address: str, now: datetime) -> Update:
        """The UPDATE that marks whoever has this address as bounced (no one, for a staff address)."""
        return update(cls).where(cls.email == address, cls.bounced_at.is_(None)).values(bounced_at=now)


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
    # The candidate's language (e.g. "de") and IANA time zone: what their emails and pages use.
    language: Mapped[str] = mapped_column(String(20), default="en", server_default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # When the recruiter marked this interview's lead as contacted (None: not yet).
    lead_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped whenever the interview itself changes (API's `updated_since` and cursor order on it).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The API key that created it: a key without interviews:read-all reads only its own.
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)

    candidate: Mapped[Candidate] = relationship()
    position: Mapped[Position] = relationship()
    recruiter: Mapped[User] = relationship()
    invitation: Mapped[Invitation | None] = relationship(back_populates="interview")
    debrief: Mapped[Debrief | None] = relationship(back_populates="interview")


class Invitation(db.Model):
    """The survey invitation of one interview; its version revokes older links."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(in_check("status", INVITATION_STATUSES), name="status"),
        Index("ix_invitations_status_send_after", "status", "send_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=InvitationStatus.SCHEDULED.value)
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
    # The question-set version fixed when the invitation was first issued: its link always shows it.
    question_set_version_id: Mapped[int | None] = mapped_column(ForeignKey("question_set_versions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    interview: Mapped[Interview] = relationship(back_populates="invitation")
    history: Mapped[list[InvitationEvent]] = relationship(
        back_populates="invitation", order_by="InvitationEvent.at", cascade="all, delete-orphan"
    )

    # --- Where it stands ---------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether the survey can still be answered (its link may have run out all the same)."""
        return self.status in OPEN_STATUSES

    @property
    def cancellable(self) -> bool:
        """Whether cancelling would still stop something: not answered, and not already closed by
        a cancellation, the candidate's opt-out or the link running out."""
        closed = (InvitationStatus.CANCELLED, InvitationStatus.OPTED_OUT, InvitationStatus.EXPIRED)
        return not self.answered and self.status not in closed

    @property
    def answered(self) -> bool:
        """Whether the candidate has answered: nothing may change the survey any more."""
        return self.status == InvitationStatus.COMPLETED

    @property
    def awaiting_issue(self) -> bool:
        """Not yet written to the outbox: its send time (and the interview's times) may still move."""
        return self.status == InvitationStatus.SCHEDULED and self.issued_at is None

    def link_state(self, now: datetime) -> str:
        """What its link leads to now: "open", "invalid", "expired", "completed" or "opted_out"."""
        return link_state(self.status, self.interview.candidate.opted_out_at, self.expires_at, now)

    # --- Transitions ---------------------------------------------------------------------------
    # The sending job and the services call these; the ones two requests may race for (open,
    # complete) and the bulk ones are UPDATE statements guarded by the states they leave from.

    def issue(self, now: datetime) -> None:
        """Its email was written to the outbox: it stays scheduled until the email is delivered."""
        self.issued_at = now

    def issue_reminder(self, now: datetime) -> None:
        """Its one reminder was written to the outbox."""
        self.reminder_issued_at = now

    def deliver(self, now: datetime, valid_for: timedelta) -> None:
        """The invitation email was delivered: the link runs from now, for `valid_for`."""
        for name, value in self.delivered(now, valid_for).items():
            setattr(self, name, value)

    def delivered(self, now: datetime, valid_for: timedelta) -> dict[str, Any]:
        """What `deliver` changes, by column, without changing it (for a writer of its own)."""
        changes: dict[str, Any] = {"sent_at": now, "expires_at": now + valid_for}
        if self.status == InvitationStatus.SCHEDULED:
            changes["status"] = InvitationStatus.SENT
        return changes

    def deliver_reminder(self, now: datetime) -> None:
        """The reminder email was delivered."""
        for name, value in self.reminder_delivered(now).items():
            setattr(self, name, value)

    def reminder_delivered(self, now: datetime) -> dict[str, Any]:
        """What `deliver_reminder` changes, by column, without changing it."""
        return {"reminded_at": now}

    def expire(self, at: datetime) -> None:
        """The link ran out (or would have before it could be sent) at `at`."""
        self.status = InvitationStatus.EXPIRED
        self.expires_at = at

    def opt_out(self, now: datetime | None = None) -> None:
        """The candidate wants no more email: an open survey closes. `now` is when they said so
        through this link; None when they had opted out before (through another link)."""
        if self.is_open:
            self.status = InvitationStatus.OPTED_OUT
            if now is not None:
                self.opted_out_at = now

    def cancel(self, now: datetime) -> None:
        """Staff or the ATS stopped the survey: nothing more is sent and the link stops working.
        The caller refuses this for an answered survey (with its own message)."""
        self.status = InvitationStatus.CANCELLED
        self.cancelled_at = now

    def reissue(self, send_after: datetime) -> None:
        """A new link (a new version) due at send_after: every earlier link stops working, and the
        current link's moments are kept as history. The caller refuses this once answered."""
        for moment in REPLACED_MOMENTS:
            at = getattr(self, moment)
            if at is not None and (moment != "send_after" or self.issued_at is not None):
                self.history.append(InvitationEvent(version=self.version, moment=moment, at=at))
        self.version += 1
        self.status = InvitationStatus.SCHEDULED
        for moment in REPLACED_MOMENTS:
            setattr(self, moment, None)
        self.reminder_issued_at = None
        self.send_after = send_after

    # The survey page's statements: built once with parameters (callers cache them), on the table
    # itself, so each request runs one cached statement.

    @classmethod
    def opening(cls) -> Update:
        """The UPDATE recording a link's first opening (parameters b_invitation_id, b_now); a survey
        not yet answered becomes opened."""
        table = cls.__table__
        not_yet = (InvitationStatus.SCHEDULED.value, InvitationStatus.SENT.value)
        return (
            update(table)
            .where(table.c.id == bindparam("b_invitation_id"), table.c.opened_at.is_(None))
            .values(
                opened_at=bindparam("b_now", type_=UTCDateTime),
                status=case(
                    (table.c.status.in_(not_yet), InvitationStatus.OPENED.value), else_=table.c.status
                ),
            )
        )

    @classmethod
    def completion(cls) -> Update:
        """The UPDATE that spends a link (parameters b_invitation_id, b_version, b_now,
        b_completed_at): it matches only while that version is open and unexpired, so of two
        submits racing, one completes and the other finds nothing."""
        table = cls.__table__
        now = bindparam("b_now", type_=UTCDateTime)
        return (
            update(table)
            .where(
                table.c.id == bindparam("b_invitation_id"),
                table.c.version == bindparam("b_version"),
                # Each status its own bound literal, not an expanding list: the statement's SQL is
                # then fixed, and the answer can run it as the driver's own (driver_sql.py).
                table.c.status.in_([literal(status.value) for status in OPEN_STATUSES]),
                or_(table.c.expires_at.is_(None), table.c.expires_at > now),
            )
            .values(
                status=InvitationStatus.COMPLETED.value,
                completed_at=bindparam("b_completed_at", type_=UTCDateTime),
            )
        )

    @classmethod
    def opting_out(cls, invitation_id: int, now: datetime) -> Update:
        """The UPDATE closing this invitation, if still open, because its candidate opted out."""
        return (
            update(cls)
            .where(cls.id == invitation_id, cls.status.in_(OPEN_STATUSES))
            .values(status=InvitationStatus.OPTED_OUT.value, opted_out_at=now)
        )

    @classmethod
    def expiring(cls, now: datetime) -> Update:
        """The UPDATE expiring every open invitation whose link has run out."""
        return (
            update(cls)
            .where(cls.status.in_(OPEN_STATUSES), cls.expires_at <= now)
            .values(status=InvitationStatus.EXPIRED.value)
        )

    @classmethod
    def giving_up(cls, invitation_id: int, version: int | None) -> Update:
        """The UPDATE for an invitation email that will never be delivered: its link, if not yet
        sent, becomes undeliverable. Only the link version the email carried: a resend may have
        replaced that link since the email's batch was read, and the new link is not the one that
        failed."""
        return (
            update(cls)
            .where(cls.id == invitation_id, cls.version == version)
            .where(cls.status == InvitationStatus.SCHEDULED.value)
            .values(status=InvitationStatus.UNDELIVERABLE.value)
        )

    @classmethod
    def cancelling(cls, invitation_ids: list[int], now: datetime) -> Update:
        """The UPDATE cancelling these invitations where still open (their candidate was erased)."""
        return (
            update(cls)
            .where(cls.id.in_(invitation_ids), cls.status.in_(OPEN_STATUSES))
            .values(status=InvitationStatus.CANCELLED.value, cancelled_at=now)
        )


def link_state(
    status: str, candidate_opted_out_at: datetime | None, expires_at: datetime | None, now: datetime
) -> str:
    """What an invitation's link leads to now: "open", "invalid", "expired", "completed" or
    "opted_out" (from its columns: the survey page reads them as one plain row)."""
    if status in (InvitationStatus.CANCELLED, InvitationStatus.UNDELIVERABLE):
        return "invalid"
    if status in (InvitationStatus.COMPLETED, InvitationStatus.OPTED_OUT, InvitationStatus.EXPIRED):
        return InvitationStatus(status).value
    if candidate_opted_out_at is not None:
        return "opted_out"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "open"


# The moments of a link that a resend clears; they are kept as the timeline's history first.
REPLACED_MOMENTS = (
    "send_after",
    "issued_at",
    "sent_at",
    "reminded_at",
    "opened_at",
    "cancelled_at",
    "expires_at",
)


class InvitationEvent(db.Model):
    """A moment of an earlier link (sent, reminded, opened …) kept when a new link replaced it."""

    __tablename__ = "invitation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The Invitation column it was copied from: "sent_at", "reminded_at", "opened_at" …
    moment: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    invitation: Mapped[Invitation] = relationship(back_populates="history")


class Response(db.Model):
    """A named answer set with the grouping attributes copied at submit time.

    Answers given anonymously never land here: they are held sealed (HeldAnswer) and released
    in cohorts (AnonymousAnswer). A row without an invitation is a named response whose
    candidate was erased since (consent then reads "anonymous": de-identified).
    """

    __tablename__ = "responses"
    __table_args__ = (
        CheckConstraint(in_check("consent", CONSENT_CHOICES), name="consent"),
        CheckConstraint("consent = 'named' OR invitation_id IS NULL", name="anonymous_unlinked"),
        Index("ix_responses_month", "month"),
        # Covers the report's theme query: answers to `improve`, by stage, without the JSON.
        Index(
            "ix_responses_stage_improve",
            "stage",
            "improve_text",
            sqlite_where=text("improve_text IS NOT NULL"),
            postgresql_where=text("improve_text IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    # Unique: one response per invitation, enforced by the database.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), unique=True)
    # The id of the question_set_versions row answered (version 1 of the default set is id 1).
    question_set_version: Mapped[int] = mapped_column(Integer)
    consent: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A plain copy of answers["improve"], so report themes group it without parsing JSON per row.
    improve_text: Mapped[str | None] = mapped_column(Text)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"), index=True)
    position_title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(120), default="")
    stage: Mapped[str] = mapped_column(String(100))
    hiring_manager: Mapped[str] = mapped_column(String(200), default="")
    recruiter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    # Exact time of a named response (cleared when its candidate is erased).
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped[Invitation | None] = relationship()


class HeldAnswer(db.Model):
    """An anonymous answer held back until its cohort is released (services/anonymity.py).

    Nothing is in clear: a random id and a sealed box holding the cohort (department, month),
    the question-set version and the answers. No link, no timestamp; on SQLite the table is
    WITHOUT ROWID, so rows are stored in the order of their random ids, not of submission.
    """

    __tablename__ = "held_answers"
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class AnonymousAnswer(db.Model):
    """A released anonymous answer: only its cohort in clear, written with at least
    REPORT_MIN_GROUP_SIZE others of that cohort, in shuffled order.

    department is None when small departments of a month were merged into one cohort.
    """

    __tablename__ = "anonymous_answers"
    __table_args__ = (
        Index("ix_anonymous_answers_month_department", "month", "department"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM" of the cohort
    department: Mapped[str | None] = mapped_column(String(120))
    question_set_version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


RESPONSES_ITEM = "responses"


class AnonymousCell(db.Model):
    """How many released anonymous answers of a cohort gave each value of each counted item, the
    value as text like report_tallies (item "responses", value "0": how many answers). Written
    once per release, at cohort grain only, so it never moves by fewer than REPORT_MIN_GROUP_SIZE
    answers; reports sum it."""

    __tablename__ = "anonymous_cells"
    __table_args__ = (Index("ix_anonymous_cells_month_department", "month", "department"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    department: Mapped[str | None] = mapped_column(String(120))
    item: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer)


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
    # The claim (one random token per claimed batch) whose lease this is: a worker writes only
    # while the token is still its own, so a lease that ran out and was taken over is never used twice.
    claimed_by: Mapped[str | None] = mapped_column(String(32))
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
    # Refused from this moment on (None: until revoked).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the key's expiry date has passed."""
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    # Space-separated, from API_SCOPES.
    scopes: Mapped[str] = mapped_column(String(200), default=" ".join(DEFAULT_API_SCOPES))

    def has_scope(self, scope: str) -> bool:
        """Whether this key was granted the scope."""
        return scope in self.scopes.split()


WEBHOOK_EVENTS = ("survey.completed", "alert.raised", "debrief.recorded", "interview.outcome")


class WebhookDeliveryStatus(StrEnum):
    """Where one event's delivery to one endpoint is (`webhook_deliveries.status`)."""

    PENDING = "pending"
    RETRYING = "failed"  # refused or unreachable once, due again later (stored as "failed")
    DELIVERED = "delivered"
    DEAD = "dead"  # given up


WEBHOOK_DELIVERY_STATUSES = tuple(WebhookDeliveryStatus)


class WebhookEndpoint(db.Model):
    """An ATS's URL that receives signed events.

    Only a random salt is stored: the signing secret is derived from it and SECRET_KEY, so a
    copy of the database alone cannot forge a webhook (survey.services.webhooks.endpoint_secret).
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(db.Model):
    """One event, written in the transaction of its cause; its id is the `webhook-id` header."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    # The exact JSON body sent (and signed), so every retry sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookDelivery(db.Model):
    """One event on its way to one endpoint: a durable queue row, claimed like the email outbox."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(in_check("status", WEBHOOK_DELIVERY_STATUSES), name="status"),
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


NEXT_STEP_SIGNALS = ("yes", "no", "unclear")
RED_FLAG_SEVERITIES = ("none", "low", "medium", "high")
EXPECTED_OUTCOMES = ("likely", "unlikely", "unsure")
# The debrief's free-text notes: stripped when saved, blanked when the candidate is erased.
DEBRIEF_TEXT_FIELDS = ("doubts", "process_issues", "culture_notes", "what_matters", "red_flags", "free_notes")


class Debrief(db.Model):
    """The recruiter's notes from the post-interview call; fields mirror the survey (questions.py)."""

    __tablename__ = "debriefs"
    __table_args__ = (
        CheckConstraint("interest BETWEEN 1 AND 5", name="interest_range"),
        CheckConstraint("self_assessment BETWEEN 1 AND 5", name="self_assessment_range"),
        CheckConstraint("culture_score BETWEEN 1 AND 5", name="culture_score_range"),
        CheckConstraint("referral_potential BETWEEN 1 AND 5", name="referral_potential_range"),
        CheckConstraint(in_check("next_step_signal", NEXT_STEP_SIGNALS), name="next_step_signal"),
        CheckConstraint(in_check("red_flag_severity", RED_FLAG_SEVERITIES), name="red_flag_severity"),
        CheckConstraint(in_check("expected_outcome", EXPECTED_OUTCOMES), name="expected_outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), unique=True)
    # Candidate's interest as the recruiter sensed it (mirrors `interest`).
    interest: Mapped[int | None] = mapped_column(Integer)
    # Candidate's own view of how it went, as told (mirrors `self_assessment`).
    self_assessment: Mapped[int | None] = mapped_column(Integer)
    # Did the hiring manager signal a next step? (mirrors `next_steps`).
    next_step_signal: Mapped[str | None] = mapped_column(String(10))
    # Doubts about the role raised, and whether they were cleared (mirrors `role_clarity`, `open_doubts`).
    doubts: Mapped[str] = mapped_column(Text, default="")
    doubts_cleared: Mapped[bool | None] = mapped_column()
    # Process issues mentioned (mirrors `on_time`, `prepared`, `improve`).
    process_issues: Mapped[str] = mapped_column(Text, default="")
    # How the culture came across (mirrors `culture_picture`, `impression`).
    culture_score: Mapped[int | None] = mapped_column(Integer)
    culture_notes: Mapped[str] = mapped_column(Text, default="")
    # What the hiring manager's questions showed matters most (feeds the position brief).
    what_matters: Mapped[str] = mapped_column(Text, default="")
    red_flags: Mapped[str] = mapped_column(Text, default="")
    red_flag_severity: Mapped[str] = mapped_column(String(10), default="none")
    expected_outcome: Mapped[str | None] = mapped_column(String(10))
    # Referral potential (mirrors `nps`), open to other roles.
    referral_potential: Mapped[int | None] = mapped_column(Integer)
    open_to_other_roles: Mapped[bool | None] = mapped_column()
    free_notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    interview: Mapped[Interview] = relationship(back_populates="debrief")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])


class AuditEvent(db.Model):
    """Who did what, when: sign-ins, exports, role changes, erasures."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who, in words: a user's email at the time, "cli", or "api:<key name>".
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(60), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(45))


ALERT_SOURCES = ("survey", "debrief")


class Alert(db.Model):
    """An alert emailed to an interview's recruiter. Unique per interview and source, so each
    source (the candidate's answers, the debrief's red flag) alerts at most once."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(in_check("source", ALERT_SOURCES), name="source"),
        UniqueConstraint("interview_id", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    source: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Question sets ---------------------------------------------------------------------------
QUESTION_SET_STATUSES = ("draft", "published")


class QuestionSet(db.Model):
    """A named question set; its versions hold the questions, its stages say where it applies."""

    __tablename__ = "question_sets"
    __table_args__ = (
        # At most one default set: the one every stage without a set of its own gets.
        Index(
            "uq_question_sets_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[QuestionSetVersion]] = relationship(
        back_populates="question_set", order_by="QuestionSetVersion.number"
    )
    stages: Mapped[list[QuestionSetStage]] = relationship(
        back_populates="question_set", order_by="QuestionSetStage.stage"
    )


class QuestionSetStage(db.Model):
    """A stage assigned to a question set. A stage belongs to one set at most (case-insensitive)."""

    __tablename__ = "question_set_stages"

    stage_key: Mapped[str] = mapped_column(String(100), primary_key=True)  # the stage, lower-cased
    stage: Mapped[str] = mapped_column(String(100))
    question_set_id: Mapped[int] = mapped_column(ForeignKey("question_sets.id"), index=True)

    question_set: Mapped[QuestionSet] = relationship(back_populates="stages")


class QuestionSetVersion(db.Model):
    """One version of a question set: its languages and items (the JSON file's shape).

    A published version never changes (the service refuses; tests check it); editing makes a draft.
    """

    __tablename__ = "question_set_versions"
    __table_args__ = (
        CheckConstraint(in_check("status", QUESTION_SET_STATUSES), name="status"),
        UniqueConstraint("question_set_id", "number"),
        # One draft per set at a time.
        Index(
            "uq_question_set_versions_draft",
            "question_set_id",
            unique=True,
            sqlite_where=text("status = 'draft'"),
            postgresql_where=text("status = 'draft'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_set_id: Mapped[int] = mapped_column(ForeignKey("question_sets.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # {"languages": [...], "questions": [...]}, as in the import file.
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    question_set: Mapped[QuestionSet] = relationship(back_populates="versions")

    @property
    def languages(self) -> list[str]:
        """The languages this version speaks, the first being its fallback."""
        return list(self.document.get("languages", []))


# --- Report cells and tallies -----------------------------------------------------------------
# report_cells: how many responses per combination of grouping attributes. report_tallies: how
# many answered each value of each item in each such combination (long form: a new item needs no
# migration). Both are kept in step at submit time (survey.services.tallies); HR reports read these
# rows instead of scanning every response's JSON, and counts per value give n, sum and sum of
# squares exactly. Items are tallied by key: a key keeps one type across every set and version,
# so answers to the same key pool across versions.
CELL_KEYS = (
    "month",
    "position_id",
    "position_title",
    "department",
    "stage",
    "hiring_manager",
    "recruiter_id",
)


def _cell_columns() -> list[Column]:
    return [
        Column("month", String(7), nullable=False),
        # 0 when the response has no position or recruiter (keeps the unique key NOT NULL).
        Column("position_id", Integer, nullable=False),
        Column("position_title", String(200), nullable=False),
        Column("department", String(120), nullable=False),
        Column("stage", String(100), nullable=False),
        Column("hiring_manager", String(200), nullable=False),
        Column("recruiter_id", Integer, nullable=False),
    ]


report_cells = Table(
    "report_cells",
    db.metadata,
    Column("id", Integer, primary_key=True),
    *_cell_columns(),
    Column("responses", Integer, nullable=False, server_default="0"),
    UniqueConstraint(*CELL_KEYS, name="uq_report_cells_key"),
)

report_tallies = Table(
    "report_tallies",
    db.metadata,
    Column("id", Integer, primary_key=True),
    *_cell_columns(),
    Column("item", String(40), nullable=False),
    # The answer value as text: "0".."10" for numeric items, the option value of a choice.
    Column("value", String(40), nullable=False),
    Column("count", Integer, nullable=False, server_default="0"),
    UniqueConstraint(*CELL_KEYS, "item", "value", name="uq_report_tallies_key"),
    # Covering indexes in the order the reports group by (SQLite then reads them in order
    # instead of sorting a hundred thousand rows): by month, and over months by everything else.
    Index("ix_report_tallies_month", "month", "item", "value", "count"),
    Index("ix_report_tallies_over_months", *CELL_KEYS[1:], "item", "value", "count"),
)

# The same tallies rolled up: over all months per combination of the other attributes (what a
# view without a month filter reads), and per month alone (the trend of a view with no other
# filter). Kept at submit beside report_tallies and recounted from it; a few thousand rows each
# however many responses.
GROUP_KEYS = tuple(key for key in CELL_KEYS if key != "month")

report_group_tallies = Table(
    "report_group_tallies",
    db.metadata,
    Column("id", Integer, primary_key=True),
    *(column for column in _cell_columns() if column.name != "month"),
    Column("item", String(40), nullable=False),
    Column("value", String(40), nullable=False),
    Column("count", Integer, nullable=False, server_default="0"),
    UniqueConstraint(*GROUP_KEYS, "item", "value", name="uq_report_group_tallies_key"),
)

report_month_tallies = Table(
    "report_month_tallies",
    db.metadata,
    Column("id", Integer, primary_key=True),
    Column("month", String(7), nullable=False),
    Column("item", String(40), nullable=False),
    Column("value", String(40), nullable=False),
    Column("count", Integer, nullable=False, server_default="0"),
    UniqueConstraint("month", "item", "value", name="uq_report_month_tallies_key"),
)


# --- Report facts -------------------------------------------------------------------------------
# The report sections that used to scan every response, debrief or invitation per request
# (outcomes, calibration, perception gaps, invitations sent) read these instead. report_scopes
# holds each combination of grouping attributes once (a few thousand rows however many
# interviews); report_facts counts, per scope, each kind of fact (survey/services/report_facts.py
# says what each counts). Both are kept in the transaction of every write that changes them and
# recounted by `reports rebuild-cells`; reports read them through survey/reports/fact_sums.py.
SCOPE_KEYS = ("month", "position_id", "department", "stage", "hiring_manager", "recruiter_id")
FACT_KEYS = ("scope_id", "kind", "item", "label", "value")
# The perception-gap facts: named responses beside their interview's debrief.
GAP_FACT_KINDS = frozenset({"gap_pairs", "gap", "gap_rule"})

report_scopes = Table(
    "report_scopes",
    db.metadata,
    Column("id", Integer, primary_key=True),
    # 0: one combination; 1: the same over all months (month ""); 2: everything (all keys blank).
    # Each fact is counted at all three, so a view without a month filter, or without any filter,
    # sums a few rows instead of every month's.
    Column("level", Integer, nullable=False),
    Column("month", String(7), nullable=False),
    Column("position_id", Integer, nullable=False),
    Column("department", String(120), nullable=False),
    Column("stage", String(100), nullable=False),
    Column("hiring_manager", String(200), nullable=False),
    Column("recruiter_id", Integer, nullable=False),
    UniqueConstraint("level", *SCOPE_KEYS, name="uq_report_scopes_key"),
)

report_facts = Table(
    "report_facts",
    db.metadata,
    Column("id", Integer, primary_key=True),
    Column("scope_id", Integer, ForeignKey("report_scopes.id"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("item", String(40), nullable=False),
    Column("label", String(20), nullable=False),
    Column("value", String(40), nullable=False),
    Column("count", Integer, nullable=False),
    UniqueConstraint(*FACT_KEYS, name="uq_report_facts_key"),
    # Reports read one kind at a time over the scopes a filter selects.
    Index("ix_report_facts_kind", "kind", "scope_id", "item", "label", "value", "count"),
)

# The free texts the findings' themes read, counted per scope and trimmed text: debrief process
# issues ("issues", "" for a debrief that mentions none) by their interview's scope, candidates'
# `improve` answers ("improve", label "named" or "anonymous") by their response's. The text is
# kept whole, so uniqueness is on its SHA-256 (long texts exceed an index entry). Erasing a
# candidate scrubs their texts here as it does in the responses (the same flush recounts them).
TEXT_FACT_KEYS = ("scope_id", "kind", "label", "text_hash")
# The kinds of text fact: debrief process issues, and `improve` answers.
ISSUES_TEXT, IMPROVE_TEXT = "issues", "improve"

report_text_facts = Table(
    "report_text_facts",
    db.metadata,
    Column("id", Integer, primary_key=True),
    Column("scope_id", Integer, ForeignKey("report_scopes.id"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("label", String(20), nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("count", Integer, nullable=False),
    UniqueConstraint(*TEXT_FACT_KEYS, name="uq_report_text_facts_key"),
    Index("ix_report_text_facts_kind", "kind", "scope_id"),
)
