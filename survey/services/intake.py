"""Interview intake shared by the JSON API, the CSV import and the recruiter's form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..i18n import valid_timezone
from ..models import Candidate, Interview, Position, User
from .invitations import schedule_invitation
from .question_sets import language_warning, normalize_language, version_for_stage

MAX_INTERVIEWERS = 20
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999
TIME_MESSAGE = "Must be an ISO 8601 date and time, e.g. 2026-11-25T14:30:00Z."
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


@dataclass
class InterviewInput:
    """A validated interview, ready to store."""

    candidate_name: str
    candidate_email: str
    stage: str
    position_title: str
    ends_at: datetime
    recruiter: User
    candidate_external_id: str | None = None
    department: str = ""
    location: str = ""
    hiring_manager: str = ""
    interviewers: list[str] = field(default_factory=list)
    starts_at: datetime | None = None
    external_id: str | None = None
    language: str = "en"
    timezone: str = "UTC"
    # The API key sending it (None from the form or a CSV import).
    api_key_id: int | None = None


OFFSET_MESSAGE = (
    "Must include a UTC offset (Z or +01:00), e.g. 2026-11-25T14:30:00Z or 2026-11-25T15:30:00+01:00."
)


def _naive_time(raw: Any) -> bool:
    """Whether the value is a readable time that only lacks its UTC offset."""
    try:
        return isinstance(raw, str) and datetime.fromisoformat(raw.strip()).tzinfo is None
    except ValueError:
        return False


class _Checker:
    """Collects one message per bad field while reading a nested payload."""

    def __init__(self, data: Any, strict_times: bool = False):
        self.data = data if isinstance(data, dict) else {}
        self.errors: dict[str, str] = {}
        # The JSON API takes RFC 3339 times only, exactly as its OpenAPI document says; the form
        # and CSV import also take the looser shapes people type (no seconds, a space for T).
        self.strict_times = strict_times
        if not isinstance(data, dict):
            self.errors["_body"] = "Expected a JSON object."

    def _raw(self, path: str) -> Any:
        node: Any = self.data
        for part in path.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def text(self, path: str, max_len: int, required: bool = False) -> str | None:
        value = self._raw(path)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.errors[path] = "This field is required."
            return None
        if not isinstance(value, str):
            self.errors[path] = "Must be a string."
            return None
        value = value.strip()
        if len(value) > max_len:
            self.errors[path] = f"Must be at most {max_len} characters."
            return None
        if _has_control_characters(value):
            # Names and titles end up in email headers and spreadsheets: one line, printable only.
            self.errors[path] = "Must be a single line without control characters."
            return None
        return value

    def email(self, path: str) -> str | None:
        value = self.text(path, 254, required=True)
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            self.errors[path] = f"Not a valid email address: {exc}"
            return None

    def when(self, path: str, required: bool = False) -> datetime | None:
        raw = self._raw(path)
        if self.strict_times and raw is not None and not (isinstance(raw, str) and RFC3339.fullmatch(raw)):
            self.errors[path] = OFFSET_MESSAGE if _naive_time(raw) else TIME_MESSAGE
            return None
        value = self.text(path, 40, required=required)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.errors[path] = TIME_MESSAGE
            return None
        if moment.tzinfo is None:
            # Guessing a zone would silently move the interview by hours for someone.
            self.errors[path] = OFFSET_MESSAGE
            return None
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            self.errors[path] = TIME_MESSAGE
            return None
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            # Far-off years overflow the date arithmetic of scheduling (end + delay + expiry).
            self.errors[path] = f"Must be a date between the years {EARLIEST_YEAR} and {LATEST_YEAR}."
            return None
        return moment

    def language(self, path: str) -> str:
        value = self.text(path, 20)
        if value is None:
            return current_app.config["DEFAULT_LANGUAGE"]
        code = normalize_language(value)
        if code is None:
            self.errors[path] = 'Must be a language code such as "en", "de", "fr" or "es".'
        return code or ""

    def timezone(self, path: str) -> str:
        value = self.text(path, 64)
        if value is None:
            return current_app.config["DEFAULT_TIMEZONE"]
        zone = valid_timezone(value)
        if zone is None:
            self.errors[path] = 'Must be an IANA time zone name such as "Europe/Berlin" or "UTC".'
        return zone or ""

    def names(self, path: str) -> list[str]:
        value = self._raw(path)
        if value is None:
            return []
        valid = isinstance(value, list) and all(isinstance(v, str) and len(v) <= 200 for v in value)
        if not valid or len(value) > MAX_INTERVIEWERS:
            self.errors[path] = f"Must be a list of at most {MAX_INTERVIEWERS} names."
            return []
        if any(_has_control_characters(v) for v in value):
            self.errors[path] = "Names must be single lines without control characters."
            return []
        return [v.strip() for v in value if v.strip()]


def _has_control_characters(value: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in value)


def validate_interview(data: Any, strict_times: bool = False) -> tuple[InterviewInput | None, dict[str, str]]:
    """Check an interview payload (DESIGN's API shape); returns the input or errors by field."""
    check = _Checker(data, strict_times)
    for section in ("candidate", "position"):
        if section in check.data and not isinstance(check.data[section], dict):
            check.errors[section] = "Must be an object."
    values = {
        "candidate_name": check.text("candidate.name", 200, required=True),
        "candidate_email": check.email("candidate.email"),
        "candidate_external_id": check.text("candidate.external_id", 100),
        "position_title": check.text("position.title", 200, required=True),
        "department": check.text("position.department", 120) or "",
        "location": check.text("position.location", 120) or "",
        "stage": check.text("stage", 100, required=True),
        "hiring_manager": check.text("hiring_manager", 200) or "",
        "interviewers": check.names("interviewers"),
        "starts_at": check.when("starts_at"),
        "ends_at": check.when("ends_at", required=True),
        "external_id": check.text("external_id", 100),
        "language": check.language("language"),
        "timezone": check.timezone("timezone"),
    }
    recruiter_email = check.text("recruiter_email", 254, required=True)
    recruiter = _find_recruiter(recruiter_email) if recruiter_email else None
    if recruiter_email and recruiter is None:
        check.errors["recruiter_email"] = "No active staff user has this email."
    starts, ends = values["starts_at"], values["ends_at"]
    if starts and ends and starts > ends:
        check.errors["ends_at"] = "Must not be before starts_at."
    if check.errors:
        return None, check.errors
    return InterviewInput(recruiter=recruiter, **values), {}


def _find_recruiter(email: str) -> User | None:
    stmt = select(User).where(func.lower(User.email) == email.lower(), User.active.is_(True))
    return db.session.scalar(stmt)


def find_by_external_id(external_id: str | None) -> Interview | None:
    """The interview an ATS already sent under this id, if any."""
    if not external_id:
        return None
    return db.session.scalar(select(Interview).where(Interview.external_id == external_id))


def find_duplicate(data: InterviewInput) -> Interview | None:
    """The interview already stored for this input: same external id, or, without one,
    the same candidate, position, stage and end time (so re-importing a file adds nothing)."""
    if data.external_id:
        return find_by_external_id(data.external_id)
    stmt = (
        select(Interview)
        .join(Interview.candidate)
        .join(Interview.position)
        .where(
            Candidate.email == data.candidate_email,
            Position.title == data.position_title,
            Position.department == data.department,
            Interview.stage == data.stage,
            Interview.ends_at == data.ends_at,
        )
        .limit(1)
    )
    return db.session.scalar(stmt)


def intake_warnings(data: InterviewInput) -> dict[str, str]:
    """What the caller should know but is not an error: e.g. the stage's question set does not
    speak the candidate's language, so they will see the set's first language."""
    warning = language_warning(version_for_stage(data.stage), data.language)
    return {"language": warning} if warning else {}


def create_interview(data: InterviewInput) -> tuple[Interview, bool]:
    """Store an interview and schedule its survey; (existing, False) if it is already here."""
    existing = find_duplicate(data)
    if existing is not None:
        return existing, False
    try:
        interview = _insert_interview(data)
        db.session.commit()
    except IntegrityError:
        # Another request stored the same interview, candidate or position a moment ago.
        db.session.rollback()
        existing = find_duplicate(data)
        if existing is not None:
            return existing, False
        interview = _insert_interview(data)
        db.session.commit()
    return interview, True


def _insert_interview(data: InterviewInput) -> Interview:
    interview = Interview(
        candidate=_candidate_for(data),
        position=_position_for(data),
        recruiter=data.recruiter,
        stage=data.stage,
        hiring_manager=data.hiring_manager,
        interviewers=data.interviewers,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        external_id=data.external_id,
        language=data.language,
        timezone=data.timezone,
        api_key_id=data.api_key_id,
    )
    db.session.add(interview)
    schedule_invitation(interview)
    db.session.flush()
    return interview


def _candidate_for(data: InterviewInput) -> Candidate:
    candidate = None
    if data.candidate_external_id:
        candidate = db.session.scalar(
            select(Candidate).where(Candidate.external_id == data.candidate_external_id)
        )
    if candidate is None:
        stmt = select(Candidate).where(Candidate.email == data.candidate_email)
        candidate = db.session.scalar(stmt)
    if candidate is None:
        candidate = Candidate(
            name=data.candidate_name,
            email=data.candidate_email,
            external_id=data.candidate_external_id,
        )
        db.session.add(candidate)
    return candidate


def _position_for(data: InterviewInput) -> Position:
    stmt = select(Position).where(
        Position.title == data.position_title,
        Position.department == data.department,
        Position.location == data.location,
    )
    position = db.session.scalar(stmt)
    if position is None:
        position = Position(title=data.position_title, department=data.department, location=data.location)
        db.session.add(position)
    return position
