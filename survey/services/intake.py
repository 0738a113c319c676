"""Interview intake shared by the JSON API, the CSV import and the recruiter's form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..i18n import valid_timezone
from ..mailing import InvalidAddress, normalized_address
from ..models import Candidate, Interview, Position, User
from .invitations import schedule_invitation
from .question_sets import language_warning, normalize_language, version_for_stage

MAX_INTERVIEWERS = 20
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999
TIME_MESSAGE = "Must be an ISO 8601 date and time, e.g. 2026-11-25T14:30:00Z."
OFFSET_MESSAGE = (
    "Must include a UTC offset (Z or +01:00), e.g. 2026-11-25T14:30:00Z or 2026-11-25T15:30:00+01:00."
)
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")

# An interview's fields, by the names the validator, the CSV import's columns and the recruiter's
# form use, each with its place in the JSON API's payload (the API's errors are keyed by that).
API_PATHS = {
    "candidate_name": "candidate.name",
    "candidate_email": "candidate.email",
    "candidate_external_id": "candidate.external_id",
    "position_title": "position.title",
    "department": "position.department",
    "location": "position.location",
    "stage": "stage",
    "hiring_manager": "hiring_manager",
    "interviewers": "interviewers",
    "recruiter_email": "recruiter_email",
    "starts_at": "starts_at",
    "ends_at": "ends_at",
    "external_id": "external_id",
    "language": "language",
    "timezone": "timezone",
}
INTERVIEW_FIELDS = tuple(API_PATHS)
REQUIRED_FIELDS = (
    "candidate_name",
    "candidate_email",
    "position_title",
    "stage",
    "recruiter_email",
    "ends_at",
)
# The longest text each single-line field takes.
TEXT_LIMITS = {
    "candidate_name": 200,
    "candidate_external_id": 100,
    "position_title": 200,
    "department": 120,
    "location": 120,
    "stage": 100,
    "hiring_manager": 200,
    "recruiter_email": 254,
    "external_id": 100,
}


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


class FieldError(ValueError):
    """One field's value is not acceptable; the message says why, for the person who sent it."""


def _has_control_characters(value: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in value)


def clean_text(value: str | None, max_len: int) -> str | None:
    """A single line of text, stripped; None when blank."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > max_len:
        raise FieldError(f"Must be at most {max_len} characters.")
    if _has_control_characters(value):
        # Names and titles end up in email headers and spreadsheets: one line, printable only.
        raise FieldError("Must be a single line without control characters.")
    return value


def parse_time(raw: Any, strict: bool = False) -> datetime | None:
    """A date and time written with its UTC offset, as an aware datetime; None when blank.

    strict: RFC 3339 only, exactly as the API's OpenAPI document says; otherwise also the looser
    ISO 8601 shapes people type in a CSV file (no seconds, a space for the T).
    """
    if strict and raw is not None and not (isinstance(raw, str) and RFC3339.fullmatch(raw)):
        raise FieldError(OFFSET_MESSAGE if _naive_time(raw) else TIME_MESSAGE)
    if raw is not None and not isinstance(raw, str):
        raise FieldError("Must be a string.")
    value = clean_text(raw, 40)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(TIME_MESSAGE) from None
    if moment.tzinfo is None:
        # Guessing a zone would silently move the interview by hours for someone.
        raise FieldError(OFFSET_MESSAGE)
    return moment


def _naive_time(raw: Any) -> bool:
    """Whether the value is a readable time that only lacks its UTC offset."""
    try:
        return isinstance(raw, str) and datetime.fromisoformat(raw.strip()).tzinfo is None
    except ValueError:
        return False


def utc_moment(moment: datetime) -> datetime:
    """An aware datetime in UTC, within the years scheduling can reckon with."""
    if not isinstance(moment, datetime):
        raise FieldError(TIME_MESSAGE)
    if moment.tzinfo is None:
        raise FieldError(OFFSET_MESSAGE)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise FieldError(TIME_MESSAGE) from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        # Far-off years overflow the date arithmetic of scheduling (end + delay + expiry).
        raise FieldError(f"Must be a date between the years {EARLIEST_YEAR} and {LATEST_YEAR}.")
    return moment


def _check_names(names: list[str] | None) -> list[str]:
    if names is None:
        return []
    if len(names) > MAX_INTERVIEWERS or any(len(name) > 200 for name in names):
        raise FieldError(f"Must be a list of at most {MAX_INTERVIEWERS} names.")
    if any(_has_control_characters(name) for name in names):
        raise FieldError("Names must be single lines without control characters.")
    return [name.strip() for name in names if name.strip()]


def _check_email(value: str | None) -> str | None:
    value = clean_text(value, 254)
    if value is None:
        return None
    try:
        return normalized_address(value)
    except InvalidAddress as exc:
        raise FieldError(str(exc)) from None


# Fields holding a code: (longest text, the setting a blank falls back to, the function that
# normalises a code or returns None for an unknown one, the message for an unknown one).
CODE_FIELDS = {
    "language": (
        20,
        "DEFAULT_LANGUAGE",
        normalize_language,
        'Must be a language code such as "en", "de", "fr" or "es".',
    ),
    "timezone": (
        64,
        "DEFAULT_TIMEZONE",
        valid_timezone,
        'Must be an IANA time zone name such as "Europe/Berlin" or "UTC".',
    ),
}


def _check_code(name: str, value: str | None) -> str:
    max_len, setting, normalize, message = CODE_FIELDS[name]
    value = clean_text(value, max_len)
    if value is None:
        return current_app.config[setting]
    code = normalize(value)
    if code is None:
        raise FieldError(message)
    return code


def _check_field(name: str, value: Any) -> Any:
    """One field's value, checked and normalised; raises FieldError."""
    if name in ("starts_at", "ends_at"):
        return None if value is None else utc_moment(value)
    if name in CODE_FIELDS:
        return _check_code(name, value)
    checks = {"candidate_email": _check_email, "interviewers": _check_names}
    if name in checks:
        return checks[name](value)
    return clean_text(value, TEXT_LIMITS[name])


def validate_interview(values: Mapping[str, Any]) -> tuple[InterviewInput | None, dict[str, str]]:
    """Check an interview given as native values keyed by INTERVIEW_FIELDS (text as str, the
    interviewers as a list of names, times as aware datetimes, blanks as None), from the form, a
    CSV row or the API alike; returns the input, or one message per bad field, keyed by field."""
    checked: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in INTERVIEW_FIELDS:
        try:
            checked[name] = _check_field(name, values.get(name))
        except FieldError as exc:
            errors[name] = str(exc)
            continue
        if checked[name] is None and name in REQUIRED_FIELDS:
            errors[name] = "This field is required."
    recruiter_email = checked.pop("recruiter_email", None)
    recruiter = _find_recruiter(recruiter_email) if recruiter_email else None
    if recruiter_email and recruiter is None:
        errors["recruiter_email"] = "No active staff user has this email."
    starts, ends = checked.get("starts_at"), checked.get("ends_at")
    if starts and ends and starts > ends:
        errors["ends_at"] = "Must not be before starts_at."
    if errors:
        return None, errors
    for name in ("department", "location", "hiring_manager"):
        checked[name] = checked[name] or ""
    return InterviewInput(recruiter=recruiter, **checked), {}


# --- The JSON API's payload ------------------------------------------------------------------


class ApiReader:
    """Reads a JSON body's fields into native values, one message per bad field by its API path."""

    def __init__(self, data: Any, strict_times: bool = True):
        self.data = data if isinstance(data, dict) else {}
        self.errors: dict[str, str] = {}
        self.strict_times = strict_times
        if not isinstance(data, dict):
            self.errors["_body"] = "Expected a JSON object."

    def raw(self, path: str) -> Any:
        """The value at a dotted path (None where the path leads nowhere)."""
        node: Any = self.data
        for part in path.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def _read(self, path: str, read: Any, *args: Any) -> Any:
        try:
            return read(self.raw(path), *args)
        except FieldError as exc:
            self.errors[path] = str(exc)
            return None

    def string(self, path: str) -> str | None:
        """A string as sent (for the validator to check), or None when absent."""
        return self._read(path, _json_text, None)

    def text(self, path: str, max_len: int) -> str | None:
        """A single line of text, or None when absent or blank."""
        return self._read(path, _json_text, max_len)

    def when(self, path: str) -> datetime | None:
        """A date and time with its offset, in UTC; None when absent."""
        return self._read(path, _json_time, self.strict_times)

    def names(self, path: str) -> list[str] | None:
        """A list of names, or None when absent."""
        return self._read(path, _json_names)


def _json_text(value: Any, max_len: int | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise FieldError("Must be a string.")
    return value if max_len is None else clean_text(value, max_len)


def _json_time(value: Any, strict: bool) -> datetime | None:
    moment = parse_time(value, strict)
    return None if moment is None else utc_moment(moment)


def _json_names(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise FieldError(f"Must be a list of at most {MAX_INTERVIEWERS} names.")
    return value


def validate_api_interview(
    payload: Any, strict_times: bool = True
) -> tuple[InterviewInput | None, dict[str, str]]:
    """Check an interview in the API's JSON shape (DESIGN's); errors are keyed by API path."""
    reader = ApiReader(payload, strict_times)
    for section in ("candidate", "position"):
        if section in reader.data and not isinstance(reader.data[section], dict):
            reader.errors[section] = "Must be an object."
    values: dict[str, Any] = {}
    for name, path in API_PATHS.items():
        if name in ("starts_at", "ends_at"):
            values[name] = reader.when(path)
        elif name == "interviewers":
            values[name] = reader.names(path)
        else:
            values[name] = reader.string(path)
    data, errors = validate_interview(values)
    # What could not be read says so; the validator's "required" for it would mislead.
    errors = {API_PATHS.get(name, name): message for name, message in errors.items()} | reader.errors
    return (None, errors) if errors else (data, {})


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
