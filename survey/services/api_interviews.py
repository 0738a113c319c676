"""What an ATS does with interviews over the API beyond creating them: find, page through, change."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import OUTCOMES, ApiKey, Interview, InvitationStatus, utcnow
from .audit import record_event
from .intake import TIME_MESSAGE, ApiReader
from .webhooks import emit, iso

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
PATCH_FIELDS = ("outcome", "starts_at", "ends_at", "cancel")


class Forbidden(Exception):
    """The key may not do this; the message says which scope or rule is missing."""


class Conflict(Exception):
    """The change does not fit the interview's state (409), or its times (400); errors by field."""

    def __init__(self, errors: dict[str, str], status: int = 409):
        super().__init__(errors)
        self.errors = errors
        self.status = status


def may_read_all(api_key: ApiKey) -> bool:
    """Whether the key sees interviews created by others (and by staff)."""
    return api_key.has_scope("interviews:read-all")


def visible_to(interview: Interview, api_key: ApiKey) -> bool:
    """Whether this key may see and change the interview."""
    return may_read_all(api_key) or interview.api_key_id == api_key.id


def require_visible(interview: Interview, api_key: ApiKey) -> None:
    """Raise Forbidden unless the key may use this interview."""
    if not visible_to(interview, api_key):
        raise Forbidden(
            "This API key can only use interviews it created; "
            "a key with the interviews:read-all scope can use every interview."
        )


def with_details(stmt: Select) -> Select:
    """Load what the API shows of each interview in the same query (no query per row)."""
    return stmt.options(
        joinedload(Interview.candidate),
        joinedload(Interview.position),
        joinedload(Interview.invitation),
        joinedload(Interview.recruiter),
    )


# --- Listing ------------------------------------------------------------------------------------


@dataclass
class ListQuery:
    """A validated list request."""

    external_id: str | None = None
    updated_since: datetime | None = None
    after: tuple[datetime, int] | None = None
    limit: int = DEFAULT_PAGE_SIZE


def encode_cursor(interview: Interview) -> str:
    """An opaque cursor pointing just after this interview in (updated_at, id) order."""
    raw = json.dumps([iso(interview.updated_at), interview.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (updated_at, id) a cursor points after; raises ValueError if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, interview_id = json.loads(raw)
        when = datetime.fromisoformat(moment)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("Not a cursor from this API; pass next_cursor unchanged.") from exc
    if when.tzinfo is None or isinstance(interview_id, bool) or not isinstance(interview_id, int):
        raise ValueError("Not a cursor from this API; pass next_cursor unchanged.")
    return when, interview_id


def parse_list_query(args: Any) -> tuple[ListQuery | None, dict[str, str]]:
    """Check the list's query arguments; returns the query or errors by argument."""
    check = ApiReader(dict(args.items()))
    query = ListQuery(
        external_id=check.text("external_id", 100),
        updated_since=check.when("updated_since"),
    )
    cursor = args.get("cursor")
    if cursor:
        try:
            query.after = decode_cursor(cursor[:200])
        except ValueError as exc:
            check.errors["cursor"] = str(exc)
    limit = args.get("limit")
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
            check.errors["limit"] = f"Must be a whole number from 1 to {MAX_PAGE_SIZE}."
        else:
            query.limit = int(limit)
    return (None, check.errors) if check.errors else (query, {})


def list_interviews(api_key: ApiKey, query: ListQuery) -> tuple[list[Interview], str | None]:
    """One page of the interviews this key may see, oldest change first, and the next cursor."""
    stmt = select(Interview)
    if not may_read_all(api_key):
        stmt = stmt.where(Interview.api_key_id == api_key.id)
    if query.external_id is not None:
        stmt = stmt.where(Interview.external_id == query.external_id)
    if query.updated_since is not None:
        stmt = stmt.where(Interview.updated_at >= query.updated_since)
    if query.after is not None:
        moment, last_id = query.after
        stmt = stmt.where(
            or_(Interview.updated_at > moment, and_(Interview.updated_at == moment, Interview.id > last_id))
        )
    stmt = stmt.order_by(Interview.updated_at, Interview.id).limit(query.limit + 1)
    rows = list(db.session.scalars(with_details(stmt)).unique())
    page = rows[: query.limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > query.limit else None
    return page, next_cursor


# --- Changing -----------------------------------------------------------------------------------


@dataclass
class InterviewChanges:
    """A validated PATCH: only the fields the ATS sent are set."""

    outcome: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    cancel: bool = False
    times_sent: bool = False


def validate_changes(payload: Any) -> tuple[InterviewChanges | None, dict[str, str]]:
    """Check a PATCH body; returns the changes or errors by field."""
    check = ApiReader(payload)
    data = check.data
    for name in data:
        if name not in PATCH_FIELDS:
            check.errors[str(name)[:100]] = f"Unknown field; send any of {', '.join(PATCH_FIELDS)}."
    if isinstance(payload, dict) and not data:
        check.errors["_body"] = f"Send at least one of {', '.join(PATCH_FIELDS)}."
    changes = InterviewChanges(
        starts_at=check.when("starts_at"),
        ends_at=check.when("ends_at"),
        times_sent="starts_at" in data or "ends_at" in data,
    )
    if "outcome" in data:
        if data["outcome"] in OUTCOMES:
            changes.outcome = data["outcome"]
        else:
            check.errors["outcome"] = f"Must be one of {', '.join(OUTCOMES)}."
    if "cancel" in data:
        if data["cancel"] is True:
            changes.cancel = True
        else:
            check.errors["cancel"] = "Send true to cancel the survey; a cancelled survey cannot be reopened."
    for name in ("starts_at", "ends_at"):
        if name in data and data[name] is None and name not in check.errors:
            check.errors[name] = TIME_MESSAGE
    if changes.cancel and changes.times_sent:
        check.errors["cancel"] = "Cancel the survey or move the interview's times, not both at once."
    return (None, check.errors) if check.errors else (changes, {})


def apply_changes(interview: Interview, changes: InterviewChanges, api_key: ApiKey) -> Interview:
    """Apply a PATCH in one transaction; raises Conflict if the survey's state forbids it."""
    invitation = interview.invitation
    if changes.times_sent:
        _move_times(interview, changes)
    if changes.cancel and invitation is not None and invitation.status != InvitationStatus.CANCELLED:
        if invitation.answered:
            raise Conflict({"cancel": "The candidate has already answered; the survey cannot be cancelled."})
        invitation.cancel(utcnow())
    if changes.outcome is not None and changes.outcome != interview.outcome:
        previous, interview.outcome = interview.outcome, changes.outcome
        emit("interview.outcome", outcome_event(interview, previous))
    interview.updated_at = utcnow()
    details = {"interview_id": interview.id, **_audit(changes)}
    record_event("interview.changed_by_api", details, actor_label=f"api:{api_key.name}")
    db.session.commit()
    return interview


def _audit(changes: InterviewChanges) -> dict[str, Any]:
    return {
        key: iso(value) if isinstance(value, datetime) else value
        for key, value in vars(changes).items()
        if value not in (None, False) and key != "times_sent"
    }


def _move_times(interview: Interview, changes: InterviewChanges) -> None:
    """Move the interview's times; only while its survey has not gone out."""
    invitation = interview.invitation
    if invitation is None or not invitation.awaiting_issue:
        field = "ends_at" if changes.ends_at is not None else "starts_at"
        raise Conflict(
            {field: "The survey has already gone out (or was cancelled); the times cannot change now."}
        )
    starts = changes.starts_at or interview.starts_at
    ends = changes.ends_at or interview.ends_at
    if starts and ends and starts > ends:
        raise Conflict({"ends_at": "Must not be before starts_at."}, status=400)
    interview.starts_at, interview.ends_at = starts, ends
    delay = timedelta(minutes=current_app.config["SURVEY_SEND_DELAY_MINUTES"])
    invitation.send_after = ends + delay


def outcome_event(interview: Interview, previous: str) -> dict[str, Any]:
    """The data of an interview.outcome webhook."""
    return {
        "interview_id": interview.id,
        "external_id": interview.external_id,
        "outcome": interview.outcome,
        "previous_outcome": previous,
    }
