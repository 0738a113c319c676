"""Anonymous answers: held back sealed at submit, released in cohorts of at least k.

Staff can see which interviews were completed anonymously and when, so an anonymous answer
that appeared in any figure or row on its own could be tied back to its candidate. Instead:

- At submit the answer is sealed (survey.sealing) together with its cohort, the department and
  month of the interview, and stored under a random id with nothing else: no link, no time.
- `release_cohorts` (run by `surveys send-due`, so by the worker) publishes a cohort once its
  month is closed (over, and no open invitation can still add to it) and it holds at least
  REPORT_MIN_GROUP_SIZE answers, in shuffled order, with only the cohort in clear.
- The small departments of a closed month are merged into one cohort of "several departments";
  if even that stays below k, those answers wait and join the next closed month's merged cohort.

So every figure a release changes changes by at least k anonymous answers at once.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, insert, select

from ..database import begin_claim
from ..extensions import db
from ..models import (
    OPEN_STATUSES,
    RESPONSES_ITEM,
    AnonymousAnswer,
    AnonymousCell,
    HeldAnswer,
    Interview,
    Invitation,
    QuestionSetVersion,
    random_id,
    utcnow,
)
from ..months import month_start, next_month
from ..questions import QuestionSet
from ..sealing import Unsealable, unseal
from ..small_groups import min_group_size
from .question_sets import questions_for
from .tallies import tallied_answers


@dataclass(frozen=True)
class Cohort:
    """Where released answers are counted: a month and a department (None: several merged)."""

    month: str
    department: str | None


@dataclass
class ReleaseSummary:
    """What one release pass did."""

    released: int = 0
    cohorts: int = 0
    held: int = 0
    unreadable: int = 0

    def line(self) -> str:
        """One human line of counts."""
        text = f"released {self.released} anonymous answer(s) in {self.cohorts} cohort(s), {self.held} held"
        if self.unreadable:
            text += f"; {self.unreadable} sealed under a key no longer configured"
        return text


def cohort_payload(
    ends_at: datetime, department: str | None, answers: dict[str, Any], version: int
) -> dict[str, Any]:
    """What a held answer seals: its cohort (the month the interview ended in and the
    department), question-set version and answers; nothing finer."""
    month = ends_at.strftime("%Y-%m")
    return {"month": month, "department": department or "", "version": version, "answers": answers}


def plan_release(
    held: Iterable[tuple[str, dict[str, Any]]], closed: set[str], threshold: int
) -> list[tuple[Cohort, list[str]]]:
    """Which held answers (by id) to release as which cohort, by the rule in the module doc.

    Pure, so the service and the data migration share it.
    """
    by_month: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for held_id, payload in held:
        by_month[payload["month"]][payload["department"]].append(held_id)
    batches: list[tuple[Cohort, list[str]]] = []
    carried: list[str] = []
    for month in sorted(m for m in by_month if m in closed):
        for department, ids in sorted(by_month[month].items()):
            if len(ids) >= threshold:
                batches.append((Cohort(month, department), sorted(ids)))
            else:
                carried.extend(ids)
        if len(carried) >= threshold:
            batches.append((Cohort(month, None), sorted(carried)))
            carried = []
    return batches


def released_rows(
    batches: list[tuple[Cohort, list[str]]], payloads: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The anonymous_answers rows of a release, new random ids, in shuffled order."""
    rows = [
        {
            "id": random_id(),
            "month": cohort.month,
            "department": cohort.department,
            "question_set_version": payloads[held_id]["version"],
            "answers": payloads[held_id]["answers"],
        }
        for cohort, ids in batches
        for held_id in ids
    ]
    random.SystemRandom().shuffle(rows)
    return rows


def version_questions(versions: Iterable[int]) -> dict[int, QuestionSet]:
    """The question sets of these version ids (in their first language: only keys and values matter)."""
    rows = db.session.scalars(select(QuestionSetVersion).where(QuestionSetVersion.id.in_(set(versions))))
    return {row.id: questions_for(row, row.languages[0]) for row in rows}


def tally_rows(
    batches: list[tuple[Cohort, list[str]]],
    payloads: dict[str, dict[str, Any]],
    question_sets: dict[int, QuestionSet],
) -> list[dict]:
    """The anonymous_cells rows of a release: per cohort, how many answers, and how many gave each
    value of each counted item of the version each answered (values as text, like report_tallies)."""
    rows = []
    for cohort, ids in batches:
        counts: Counter[tuple[str, str]] = Counter({(RESPONSES_ITEM, "0"): len(ids)})
        for held_id in ids:
            payload = payloads[held_id]
            questions = question_sets.get(payload["version"])
            if questions is not None:
                counts.update(tallied_answers(payload["answers"], questions))
        rows += [
            {"month": cohort.month, "department": cohort.department, "item": item, "value": value, "count": n}
            for (item, value), n in sorted(counts.items())
        ]
    return rows


def rebuild_anonymous_cells() -> int:
    """Recount the anonymous tally from the released answers, one row per cohort; commits."""
    payloads: dict[str, dict[str, Any]] = {}
    cohorts: dict[Cohort, list[str]] = defaultdict(list)
    for released in db.session.scalars(select(AnonymousAnswer)):
        payloads[released.id] = {"answers": released.answers, "version": released.question_set_version}
        cohorts[Cohort(released.month, released.department)].append(released.id)
    question_sets = version_questions(p["version"] for p in payloads.values())
    rows = tally_rows(list(cohorts.items()), payloads, question_sets)
    db.session.execute(delete(AnonymousCell))
    if rows:
        db.session.execute(insert(AnonymousCell), rows)
    db.session.commit()
    return len(cohorts)


def month_closed(month: str, now: datetime) -> bool:
    """Whether no answer can still join this month: it is over and no invitation of an
    interview that ended in it is still open."""
    if now < month_start(next_month(month)):
        return False
    still_open = exists().where(
        Invitation.interview_id == Interview.id,
        Invitation.status.in_(OPEN_STATUSES),
        Interview.ends_at >= month_start(month),
        Interview.ends_at < month_start(next_month(month)),
    )
    return not db.session.scalar(select(still_open))


# Ids per DELETE: PostgreSQL takes at most 65,535 parameters in a statement (a demo seed of a
# million interviews releases some 150,000 answers at once).
DELETE_CHUNK = 10_000


def _delete_held(ids: list[str]) -> int:
    """Delete these held answers (in the caller's transaction); how many rows went."""
    deleted = 0
    for start in range(0, len(ids), DELETE_CHUNK):
        chunk = ids[start : start + DELETE_CHUNK]
        deleted += db.session.execute(delete(HeldAnswer).where(HeldAnswer.id.in_(chunk))).rowcount
    return deleted


def release_cohorts(now: datetime | None = None) -> ReleaseSummary:
    """Publish every cohort that is ready. Safe to run from several processes at once: the held
    rows are deleted in the same transaction, and a pass that deletes fewer than it planned
    (another process got there first) rolls back."""
    now = now or utcnow()
    begin_claim(db.session)
    summary = ReleaseSummary()
    payloads: dict[str, dict[str, Any]] = {}
    for held_id, box in db.session.execute(select(HeldAnswer.id, HeldAnswer.sealed)):
        try:
            payloads[held_id] = unseal(box)
        except Unsealable:
            summary.unreadable += 1
    closed = {month for month in {p["month"] for p in payloads.values()} if month_closed(month, now)}
    batches = plan_release(payloads.items(), closed, min_group_size())
    ids = [held_id for _, batch in batches for held_id in batch]
    summary.held = len(payloads) - len(ids)
    if not ids:
        db.session.rollback()
        return summary
    if _delete_held(ids) != len(ids):
        db.session.rollback()
        return ReleaseSummary(held=summary.held, unreadable=summary.unreadable)
    db.session.execute(insert(AnonymousAnswer), released_rows(batches, payloads))
    question_sets = version_questions(payloads[held_id]["version"] for held_id in ids)
    db.session.execute(insert(AnonymousCell), tally_rows(batches, payloads, question_sets))
    db.session.commit()
    summary.released, summary.cohorts = len(ids), len(batches)
    current_app.logger.info(summary.line())
    return summary
