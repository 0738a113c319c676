"""Retention and erasure of candidates' personal data.

Erasing a candidate keeps the interview and the survey answers for the statistics, but nothing
that says who they were: the candidate row keeps a placeholder, every link is revoked, a named
response loses its invitation link (it becomes like an anonymous one), and the candidate's name
and email are scrubbed from debrief notes, answers, the outbox and the audit log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from markupsafe import escape
from sqlalchemy import Text, cast, exists, func, or_, select, update

from ..extensions import db
from ..models import (
    DEBRIEF_TEXT_FIELDS,
    OUTBOX_DUE_STATUSES,
    AnonymousAnswer,
    AuditEvent,
    Candidate,
    Debrief,
    HeldAnswer,
    Interview,
    Invitation,
    OutboxMessage,
    OutboxStatus,
    Response,
    utcnow,
)
from ..sealing import Unsealable, seal, unseal
from .audit import record_event
from .errors import DomainError

ERASED_NAME = "Erased candidate"
ERASED_MARK = "[erased]"
ERASED_DOMAIN = "erased.invalid"
PURGE_BATCH = 200


class RetentionError(DomainError):
    """An erasure request that cannot be carried out, with a message for people."""


@dataclass
class ErasureSummary:
    """How much was de-identified."""

    candidates: int = 0
    invitations_revoked: int = 0
    responses_deidentified: int = 0
    anonymous_answers_scrubbed: int = 0
    # Other candidates' named answers that mentioned the person.
    named_answers_scrubbed: int = 0
    debriefs_scrubbed: int = 0
    outbox_scrubbed: int = 0
    audit_scrubbed: int = 0

    def add(self, other: ErasureSummary) -> None:
        """Add another report's counts to this one."""
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def line(self) -> str:
        """One summary line."""
        return ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in asdict(self).items())


class Scrubber:
    """Replaces a person's email and name (whole, and each part of it) in free text."""

    def __init__(self, name: str, email: str):
        whole = [email, name]
        # "O'Quennell-Ashworth" is mentioned as itself, as "Quennell" and as "Ashworth".
        words = re.split(r"[\s,]+", name) + re.split(r"[\s,'’\-.]+", name)
        parts = [part for part in words if len(part) >= 2]
        # HTML bodies hold the escaped spelling ("O&#39;Brien").
        whole += [str(escape(value)) for value in whole]
        parts += [str(escape(part)) for part in parts]
        longest_first = sorted(set(filter(None, whole)), key=len, reverse=True)
        self._whole = re.compile(_any_word(longest_first), re.IGNORECASE)
        # Name parts as whole words in any letter case: "QUENNELL" and "zoë" are her too. An
        # ordinary word that is also a name part ("Will", "May") goes as well: erasure errs
        # on the side of the person.
        by_length = sorted(set(parts), key=len, reverse=True)
        self._parts = re.compile(_any_word(by_length), re.IGNORECASE) if by_length else None
        self.needles = [*longest_first, *by_length]

    def text(self, value: str | None) -> str | None:
        """The text with every mention replaced by [erased]."""
        if not value:
            return value
        value = self._whole.sub(ERASED_MARK, value)
        return self._parts.sub(ERASED_MARK, value) if self._parts else value

    def mentions(self, value: str) -> bool:
        """Whether a text mentions the person at all."""
        return self.text(value) != value

    def json(self, value: Any) -> Any:
        """A JSON value with every string (keys included) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        return value


def _any_word(needles: Iterable[str]) -> str:
    """A pattern for any of the needles standing on its own (not inside a longer word)."""
    return "|".join(rf"(?<!\w){re.escape(needle)}(?!\w)" for needle in needles)


def find_candidate(email: str) -> Candidate | None:
    """The candidate with this email, whatever its case."""
    return db.session.scalar(select(Candidate).where(func.lower(Candidate.email) == email.strip().lower()))


def erase_candidate(email: str, now: datetime | None = None) -> ErasureSummary:
    """Erase one candidate's personal data on request, and record it in the audit log."""
    candidate = find_candidate(email)
    if candidate is None:
        raise RetentionError("No candidate has that email address (perhaps already erased).")
    report = deidentify(candidate, now or utcnow())
    # The audit trail names the row, never the person.
    record_event("data.erase", {"candidate_id": candidate.id, **asdict(report)})
    db.session.commit()
    return report


def purge_expired(now: datetime | None = None, retention_days: int | None = None) -> ErasureSummary:
    """De-identify every candidate whose last interview ended more than DATA_RETENTION_DAYS ago."""
    now = now or utcnow()
    days = current_app.config["DATA_RETENTION_DAYS"] if retention_days is None else retention_days
    cutoff = now - timedelta(days=days)
    total = ErasureSummary()
    while batch := list(db.session.scalars(_expired_candidates(cutoff).limit(PURGE_BATCH))):
        for candidate in batch:
            total.add(deidentify(candidate, now))
        db.session.commit()
    record_event("data.purge", {"retention_days": days, "cutoff": cutoff.isoformat(), **asdict(total)})
    db.session.commit()
    return total


def _expired_candidates(cutoff: datetime):
    recent_interview = exists().where(Interview.candidate_id == Candidate.id, Interview.ends_at >= cutoff)
    return (
        select(Candidate)
        .where(Candidate.erased_at.is_(None), Candidate.created_at < cutoff, ~recent_interview)
        .order_by(Candidate.id)
    )


def deidentify(candidate: Candidate, now: datetime) -> ErasureSummary:
    """Remove one candidate's personal data everywhere; the caller commits."""
    scrub = Scrubber(candidate.name, candidate.email)
    invitation_ids = list(
        db.session.scalars(
            select(Invitation.id).join(Interview).where(Interview.candidate_id == candidate.id)
        )
    )
    report = ErasureSummary(
        candidates=1,
        invitations_revoked=_revoke_links(invitation_ids, now),
        responses_deidentified=_unlink_responses(invitation_ids, scrub),
        anonymous_answers_scrubbed=_scrub_anonymous_answers(scrub),
        named_answers_scrubbed=_scrub_named_answers(scrub),
        debriefs_scrubbed=_scrub_debriefs(candidate.id, scrub),
        outbox_scrubbed=_scrub_outbox(candidate.email, candidate.name, invitation_ids, scrub),
        audit_scrubbed=_scrub_audit(candidate.email, candidate.name, scrub),
    )
    candidate.name = ERASED_NAME
    candidate.email = f"erased-{candidate.id}@{ERASED_DOMAIN}"
    candidate.external_id = None
    candidate.erased_at = now
    return report


def _revoke_links(invitation_ids: list[int], now: datetime) -> int:
    """Bump each invitation's version (every link ever sent stops working); open ones are cancelled."""
    if not invitation_ids:
        return 0
    db.session.execute(
        Invitation.cancelling(invitation_ids, now).execution_options(synchronize_session="fetch")
    )
    db.session.execute(
        update(Invitation)
        .where(Invitation.id.in_(invitation_ids))
        .values(version=Invitation.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    return len(invitation_ids)


def _unlink_responses(invitation_ids: list[int], scrub: Scrubber) -> int:
    """Named responses lose their invitation link and exact time, like anonymous ones."""
    if not invitation_ids:
        return 0
    responses = list(db.session.scalars(select(Response).where(Response.invitation_id.in_(invitation_ids))))
    for response in responses:
        response.invitation_id = None
        response.consent = "anonymous"
        response.submitted_at = None
        response.answers = scrub.json(response.answers)
        # The plain copy the report themes read must not keep the original text.
        response.improve_text = response.answers.get("improve")
    return len(responses)


def _scrub_anonymous_answers(scrub: Scrubber) -> int:
    """Anonymous answers that mention the person lose the mention, released or still held.

    Nothing ties an anonymous answer to the person, so they are found by their text: released
    ones by a search in SQL, held ones by opening each box (few: one or two months' worth).
    """
    released = db.session.scalars(
        select(AnonymousAnswer).where(_mentions(AnonymousAnswer.answers, _json_needles(scrub.needles)))
    ).all()
    for answer in released:
        answer.answers = scrub.json(answer.answers)
    rewritten = 0
    for held in db.session.scalars(select(HeldAnswer)):
        try:
            payload = unseal(held.sealed)
        except Unsealable:
            continue  # sealed under a retired key: unreadable to anyone, so nothing to scrub
        answers = scrub.json(payload["answers"])
        if answers != payload["answers"]:
            held.sealed = seal({**payload, "answers": answers})
            rewritten += 1
    return len(released) + rewritten


def _json_needles(needles: Iterable[str]) -> list[str]:
    """Each needle as written and as JSON spells it (non-ASCII letters as \\u escapes)."""
    return [spelling for needle in needles for spelling in {needle, json.dumps(needle)[1:-1]}]


def _scrub_named_answers(scrub: Scrubber) -> int:
    """Other candidates' answers that mention the person lose the mention (their own were scrubbed
    as they were unlinked); the flush then recounts the report text facts of each. A short name
    part matches many texts in SQL (the search is by substring; the scrub then by whole word), so
    the candidates are loaded a chunk at a time."""
    needles = _json_needles(scrub.needles)
    mentioning = or_(_mentions(Response.answers, needles), _mentions(Response.improve_text, scrub.needles))
    ids = list(db.session.scalars(select(Response.id).where(mentioning)))
    changed = 0
    for start in range(0, len(ids), SCRUB_CHUNK):
        for response in db.session.scalars(
            select(Response).where(Response.id.in_(ids[start : start + SCRUB_CHUNK]))
        ):
            answers = scrub.json(response.answers)
            if answers != response.answers:
                response.answers = answers
                response.improve_text = answers.get("improve")
                changed += 1
        db.session.flush()
    return changed


SCRUB_CHUNK = 500


def _scrub_debriefs(candidate_id: int, scrub: Scrubber) -> int:
    """The person's own debriefs, and any other debrief whose notes mention them."""
    own = select(Interview.id).where(Interview.candidate_id == candidate_id)
    mentioning = or_(*(_mentions(getattr(Debrief, field), scrub.needles) for field in DEBRIEF_TEXT_FIELDS))
    debriefs = db.session.scalars(select(Debrief).where(or_(Debrief.interview_id.in_(own), mentioning))).all()
    for debrief in debriefs:
        for field in DEBRIEF_TEXT_FIELDS:
            setattr(debrief, field, scrub.text(getattr(debrief, field)) or "")
    return len(debriefs)


def _mentions(column, needles: Iterable[str]):
    """SQL: the text of a column contains any of the needles, ignoring case."""
    text = func.lower(cast(column, Text))
    return or_(*(text.contains(needle.lower(), autoescape=True) for needle in needles if needle))


def _scrub_outbox(email: str, name: str, invitation_ids: list[int], scrub: Scrubber) -> int:
    """Mail to the candidate is emptied (and never sent); mail about them loses their name."""
    messages = db.session.scalars(
        select(OutboxMessage).where(
            or_(
                func.lower(OutboxMessage.to_address) == email.lower(),
                OutboxMessage.invitation_id.in_(invitation_ids),
                _mentions(OutboxMessage.subject, scrub.needles),
                _mentions(OutboxMessage.body_text, scrub.needles),
            )
        )
    ).all()
    for message in messages:
        to_candidate = message.to_address.lower() == email.lower() or message.invitation_id in invitation_ids
        if to_candidate:
            message.to_address = f"{ERASED_MARK}@{ERASED_DOMAIN}"
            message.body_text = message.body_html = ""
            message.headers = {}
            if message.status in OUTBOX_DUE_STATUSES:
                message.status = OutboxStatus.DEAD
        message.subject = scrub.text(message.subject) or ""
        message.body_text = scrub.text(message.body_text) or ""
        message.body_html = scrub.text(message.body_html) or ""
        message.last_error = scrub.text(message.last_error)
    return len(messages)


def _scrub_audit(email: str, name: str, scrub: Scrubber) -> int:
    """Audit details that quote the candidate (a mistyped sign-in, an import) lose the quote."""
    # JSON text may spell non-ASCII letters as \u escapes.
    needles = _json_needles(scrub.needles)
    events = db.session.scalars(
        select(AuditEvent).where(
            or_(_mentions(AuditEvent.details, needles), func.lower(AuditEvent.actor_label) == email.lower())
        )
    ).all()
    for event in events:
        event.details = scrub.json(event.details)
        event.actor_label = scrub.text(event.actor_label) or ""
    return len(events)
