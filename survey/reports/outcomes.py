"""What outcomes teach: recruiters' expected outcome checked against what happened, the candidate's
own read beside the outcome, and what candidates think of us by outcome.

Only decided outcomes count: advanced and hired are a "yes", rejected a "no"; withdrawn (the
candidate's choice) and pending are left out. A debrief's expectation is scored as a probability
of a "yes" (likely 0.75, unsure 0.5, unlikely 0.25) for a Brier-style score, the mean squared
distance between that probability and what happened: 0 is perfect, 0.0625 is the best possible
with these three steps, and 0.25 is what always answering "unsure" earns. The hit rate counts
only calls (likely or unlikely) and carries a Wilson 95% interval.

Candidates' answers join outcomes through their invitation, so only named responses take part:
anonymous answers have no link to an interview by design. Groups of fewer than
REPORT_MIN_GROUP_SIZE are suppressed like every other report figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..extensions import db
from ..models import DECIDED_OUTCOMES, POSITIVE_OUTCOMES, Debrief, Interview, Position, User, utcnow
from ..questions import DETRACTOR_MAX, PROMOTER_MIN
from ..small_groups import hidden_keys, min_group_size, too_small
from . import fact_sums
from .filters import ReportFilters
from .queries import ReportItem, report_items
from .stats import Summary, wilson_interval

PROBABILITY = {"likely": 0.75, "unsure": 0.5, "unlikely": 0.25}
# The order outcome groups are shown in.
OUTCOME_ORDER = ("advanced", "hired", "rejected", "withdrawn")
SELF_READ = ("self_assessment", "interest")
CALIBRATION_DAYS = 90

if TYPE_CHECKING:  # numpy is imported where arrays are made: only a reports page needs it
    import numpy as np


@dataclass
class Calibration:
    """How well one recruiter's (or everyone's) expected outcomes matched what happened."""

    key: Any
    label: str
    # (expectation, positive outcome?) -> debriefs
    counts: dict[tuple[str, bool], int] = field(default_factory=dict)
    hidden: bool = False

    @property
    def decided(self) -> int:
        """Debriefs with an expectation and a decided outcome."""
        return sum(self.counts.values())

    @property
    def calls(self) -> int:
        """Of those, the ones that called it: likely or unlikely."""
        return sum(n for (expected, _), n in self.counts.items() if expected != "unsure")

    @property
    def hits(self) -> int:
        """Calls that came true: likely and advanced/hired, unlikely and rejected."""
        return self.counts.get(("likely", True), 0) + self.counts.get(("unlikely", False), 0)

    @property
    def hit_rate(self) -> float | None:
        """Hits per call."""
        return self.hits / self.calls if self.calls else None

    @cached_property
    def hit_interval(self) -> tuple[float, float] | None:
        """Wilson 95% interval of the hit rate."""
        if not self.calls:
            return None
        return wilson_interval(self.hits, self.calls)

    @property
    def brier(self) -> Summary:
        """n, sum and sum of squares of (probability − outcome)², for the mean and its interval."""
        n = total = squares = 0.0
        for (expected, positive), count in self.counts.items():
            error = (PROBABILITY[expected] - (1.0 if positive else 0.0)) ** 2
            n += count
            total += count * error
            squares += count * error * error
        return Summary(int(n), total, squares)

    def share_positive(self, expected: str) -> tuple[int, int]:
        """(advanced or hired, all decided) among the debriefs that expected this."""
        yes = self.counts.get((expected, True), 0)
        return yes, yes + self.counts.get((expected, False), 0)


@dataclass
class OutcomeGroup:
    """Named responses whose interview ended in one outcome."""

    outcome: str
    responses: int
    items: dict[str, Summary]
    promoters: int
    detractors: int
    hidden: bool = False
    hidden_items: set[str] = field(default_factory=set)

    @property
    def nps(self) -> Summary:
        """cNPS as the mean of +100 (promoter), 0 (passive), −100 (detractor), with its interval."""
        answered = self.items["nps"].n
        return Summary(
            answered,
            100.0 * (self.promoters - self.detractors),
            10_000.0 * (self.promoters + self.detractors),
        )


@dataclass
class SelfReadTest:
    """Does the candidate's own read differ between those who went on and those rejected?"""

    key: str
    positive: Summary
    rejected: Summary
    p_value: float | None
    positive_hidden: bool = False
    rejected_hidden: bool = False


@dataclass
class OutcomesReport:
    """The outcomes section of /reports."""

    threshold: int
    recruiters: list[Calibration]
    overall: Calibration
    groups: list[OutcomeGroup]
    self_read: list[SelfReadTest]

    @property
    def has_calibration(self) -> bool:
        """Whether any debrief met a decided outcome."""
        return self.overall.decided > 0


def _decided_debriefs(filters: ReportFilters | None):
    """Debriefs with an expectation whose interview has a decided outcome, counted per recruiter,
    expectation and outcome (one grouped query)."""
    positive = Interview.outcome.in_(POSITIVE_OUTCOMES)
    stmt = (
        select(
            Interview.recruiter_id,
            User.name,
            Debrief.expected_outcome,
            positive.label("positive"),
            func.count().label("n"),
        )
        .join(Debrief, Debrief.interview_id == Interview.id)
        .join(User, User.id == Interview.recruiter_id)
        .join(Position, Position.id == Interview.position_id)
        .where(Interview.outcome.in_(DECIDED_OUTCOMES), Debrief.expected_outcome.in_(tuple(PROBABILITY)))
        .group_by(Interview.recruiter_id, User.name, Debrief.expected_outcome, positive)
    )
    if filters is not None:
        stmt = stmt.where(*filters.on_interviews())
    return stmt


def calibrations(rows: Iterable[Any]) -> tuple[list[Calibration], Calibration]:
    """Per-recruiter calibrations and the overall one from the grouped counts
    (recruiter id, name, expectation, positive outcome?, debriefs)."""
    overall = Calibration(None, "Everyone")
    by_recruiter: dict[int, Calibration] = {}
    for recruiter_id, name, expected, positive, n in rows:
        calibration = by_recruiter.setdefault(recruiter_id, Calibration(recruiter_id, name))
        key = (expected, bool(positive))
        calibration.counts[key] = calibration.counts.get(key, 0) + n
        overall.counts[key] = overall.counts.get(key, 0) + n
    recruiters = sorted(by_recruiter.values(), key=lambda c: (-c.decided, c.label))
    return recruiters, overall


def recruiter_calibration(user: User, now: datetime | None = None) -> Calibration:
    """One recruiter's own calibration over the last CALIBRATION_DAYS (interviews that ended then)."""
    since = (now or utcnow()) - timedelta(days=CALIBRATION_DAYS)
    stmt = _decided_debriefs(None).where(Interview.recruiter_id == user.id, Interview.ends_at >= since)
    recruiters, overall = calibrations(db.session.execute(stmt))
    return recruiters[0] if recruiters else Calibration(user.id, user.name)


def _decided_debriefs_in(filters: ReportFilters) -> list[tuple[int, str, str, bool, int]]:
    """_decided_debriefs' counts over the interviews the filters select, read from the report
    facts (fact_sums.py) rather than from every debrief."""
    names = dict(db.session.execute(select(User.id, User.name)).all())
    return [
        (recruiter_id, names[recruiter_id], expected, positive == "1", n)
        for recruiter_id, _, _, expected, positive, n in fact_sums.fact_rows(
            filters, ("calibration",), fact_sums.SCOPES.recruiter_id
        )
    ]


def _answers_by_outcome(
    filters: ReportFilters,
) -> tuple[dict[str, int], dict[str, dict[str, dict[int, int]]]]:
    """Named responses per outcome (pending aside), and per outcome, item and answer value how
    many gave it, over the interviews the filters select (from the report facts)."""
    responses: dict[str, int] = {}
    answers: dict[str, dict[str, dict[int, int]]] = {}
    for kind, item, outcome, value, n in fact_sums.fact_rows(filters, ("outcome_n", "outcome")):
        if kind == "outcome_n":
            responses[outcome] = responses.get(outcome, 0) + n
        else:
            by_value = answers.setdefault(outcome, {}).setdefault(item, {})
            by_value[int(value)] = by_value.get(int(value), 0) + n
    return responses, answers


def outcome_groups(
    filters: ReportFilters, items: tuple[ReportItem, ...], counted: tuple[dict, dict] | None = None
) -> list[OutcomeGroup]:
    """cNPS and every numeric item's mean by outcome, from the counts of each answer value
    (`counted`: `_answers_by_outcome`'s, when already read)."""
    responses, answers = counted or _answers_by_outcome(filters)
    groups = []
    for outcome, count in responses.items():
        given = answers.get(outcome, {})
        means = {}
        for question in items:
            by_value = given.get(question.key, {})
            means[question.key] = Summary(
                sum(by_value.values()),
                float(sum(value * n for value, n in by_value.items())),
                float(sum(value * value * n for value, n in by_value.items())),
            )
        nps = given.get("nps", {})
        promoters = sum(n for value, n in nps.items() if value >= PROMOTER_MIN)
        detractors = sum(n for value, n in nps.items() if value <= DETRACTOR_MAX)
        groups.append(OutcomeGroup(outcome, count, means, promoters, detractors))
    return sorted(groups, key=lambda g: OUTCOME_ORDER.index(g.outcome))


def self_read_tests(
    filters: ReportFilters, threshold: int, counted: tuple[dict, dict] | None = None
) -> list[SelfReadTest]:
    """The candidate's own read among those who went on against those rejected: a Mann–Whitney
    test on the answer counts (ordinal 1–5 answers call for a rank test), None below k per side."""
    _, answers = counted or _answers_by_outcome(filters)
    tests = []
    for key in SELF_READ:
        # Answer value -> how many, per side (went on: True; rejected: False).
        counts: dict[bool, dict[int, int]] = {True: {}, False: {}}
        for outcome in DECIDED_OUTCOMES:
            side = counts[outcome in POSITIVE_OUTCOMES]
            for answer, n in answers.get(outcome, {}).get(key, {}).items():
                side[answer] = side.get(answer, 0) + n
        summaries = {side: _summary(by_value) for side, by_value in counts.items()}
        p_value = None
        if (
            all(summary.n >= threshold for summary in summaries.values())
            and len(set(counts[True]) | set(counts[False])) > 1
        ):
            # scipy.stats is imported when a page first needs it: at start-up it would cost every
            # web worker and send-due run a second or more of CPU.
            from scipy.stats import mannwhitneyu

            # The samples as arrays made from the counts: the same test, without a Python list
            # of every answer (hundreds of thousands at scale).
            went_on, rejected = (_sample(counts[side]) for side in (True, False))
            p_value = float(mannwhitneyu(went_on, rejected, alternative="two-sided").pvalue)
        tests.append(SelfReadTest(key, summaries[True], summaries[False], p_value))
    return tests


def _summary(by_value: dict[int, int]) -> Summary:
    return Summary(
        sum(by_value.values()),
        float(sum(value * n for value, n in by_value.items())),
        float(sum(value * value * n for value, n in by_value.items())),
    )


def _sample(by_value: dict[int, int]) -> np.ndarray:
    import numpy as np

    values = sorted(by_value)
    return np.repeat(np.array(values, dtype=np.int64), [by_value[value] for value in values])


def build_outcomes(filters: ReportFilters, items: tuple[ReportItem, ...] | None = None) -> OutcomesReport:
    """The outcomes section over the numeric items (every published version's, pooled by key),
    with groups below the threshold (and what would expose them) hidden."""
    items = tuple(item for item in (items or report_items()) if item.numeric)
    threshold = min_group_size()
    recruiters, overall = calibrations(_decided_debriefs_in(filters))
    hidden = hidden_keys({c.key: c.decided for c in recruiters}, threshold)
    for calibration in recruiters:
        calibration.hidden = calibration.key in hidden
    overall.hidden = too_small(overall.decided, threshold)
    counted = _answers_by_outcome(filters)  # read once for both
    groups = outcome_groups(filters, items, counted)
    hidden_outcomes = hidden_keys({g.outcome: g.responses for g in groups}, threshold)
    for group in groups:
        group.hidden = group.outcome in hidden_outcomes
        group.hidden_items = {q.key for q in items if too_small(group.items[q.key].n, threshold)}
    tests = self_read_tests(filters, threshold, counted)
    hidden_or_small = set(hidden_outcomes)
    for test in tests:
        # A side is one outcome group (or two): hidden with them, or when it is small itself.
        positive_hidden = bool(hidden_or_small & set(POSITIVE_OUTCOMES))
        test.positive_hidden = positive_hidden or too_small(test.positive.n, threshold)
        test.rejected_hidden = "rejected" in hidden_or_small or too_small(test.rejected.n, threshold)
        if test.positive_hidden or test.rejected_hidden:
            test.p_value = None
    return OutcomesReport(threshold, recruiters, overall, groups, tests)
