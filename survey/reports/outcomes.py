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

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scipy.stats import binomtest, mannwhitneyu
from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Debrief, Interview, Invitation, Position, Response, User, utcnow
from ..questions import DETRACTOR_MAX, PROMOTER_MIN
from .filters import ReportFilters
from .privacy import hidden_keys, min_group_size, too_small
from .queries import ReportItem, report_items
from .stats import CONFIDENCE, Summary

PROBABILITY = {"likely": 0.75, "unsure": 0.5, "unlikely": 0.25}
POSITIVE = ("advanced", "hired")
DECIDED = ("advanced", "hired", "rejected")
# The order outcome groups are shown in.
OUTCOME_ORDER = ("advanced", "hired", "rejected", "withdrawn")
SELF_READ = ("self_assessment", "interest")
CALIBRATION_DAYS = 90


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

    @property
    def hit_interval(self) -> tuple[float, float] | None:
        """Wilson 95% interval of the hit rate."""
        if not self.calls:
            return None
        interval = binomtest(self.hits, self.calls).proportion_ci(CONFIDENCE, method="wilson")
        return float(interval.low), float(interval.high)

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
    positive = Interview.outcome.in_(POSITIVE)
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
        .where(Interview.outcome.in_(DECIDED), Debrief.expected_outcome.in_(tuple(PROBABILITY)))
        .group_by(Interview.recruiter_id, User.name, Debrief.expected_outcome, positive)
    )
    if filters is not None:
        stmt = stmt.where(*filters.on_interviews())
    return stmt


def calibrations(stmt) -> tuple[list[Calibration], Calibration]:
    """Per-recruiter calibrations and the overall one from the grouped counts."""
    overall = Calibration(None, "Everyone")
    by_recruiter: dict[int, Calibration] = {}
    for recruiter_id, name, expected, positive, n in db.session.execute(stmt):
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
    recruiters, overall = calibrations(stmt)
    return recruiters[0] if recruiters else Calibration(user.id, user.name)


def _item(key: str):
    return Response.answers[key].as_integer()


def _named_with_outcomes(filters: ReportFilters):
    """Named responses joined to their interview's outcome (anonymous ones have no link)."""
    stmt = (
        select()
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .join(Interview, Interview.id == Invitation.interview_id)
        .join(Position, Position.id == Interview.position_id)
        .where(Response.consent == "named", Interview.outcome != "pending")
    )
    return stmt.where(*filters.on_interviews())


def outcome_groups(filters: ReportFilters, items: tuple[ReportItem, ...]) -> list[OutcomeGroup]:
    """cNPS and every numeric item's mean by outcome, from one grouped query."""
    columns = [Interview.outcome, func.count().label("responses")]
    for question in items:
        value = _item(question.key)
        columns += [
            func.count(value).label(f"{question.key}__n"),
            func.coalesce(func.sum(value), 0).label(f"{question.key}__total"),
            func.coalesce(func.sum(value * value), 0).label(f"{question.key}__squares"),
        ]
    nps = _item("nps")
    columns += [
        func.coalesce(func.sum(case((nps >= PROMOTER_MIN, 1), else_=0)), 0).label("promoters"),
        func.coalesce(func.sum(case((nps <= DETRACTOR_MAX, 1), else_=0)), 0).label("detractors"),
    ]
    stmt = _named_with_outcomes(filters).add_columns(*columns).group_by(Interview.outcome)
    groups = []
    for row in db.session.execute(stmt):
        m = row._mapping
        means = {
            q.key: Summary(int(m[f"{q.key}__n"]), float(m[f"{q.key}__total"]), float(m[f"{q.key}__squares"]))
            for q in items
        }
        groups.append(
            OutcomeGroup(m["outcome"], m["responses"], means, int(m["promoters"]), int(m["detractors"]))
        )
    return sorted(groups, key=lambda g: OUTCOME_ORDER.index(g.outcome))


def self_read_tests(filters: ReportFilters, threshold: int) -> list[SelfReadTest]:
    """The candidate's own read among those who went on against those rejected: a Mann–Whitney
    test on the answer counts (ordinal 1–5 answers call for a rank test), None below k per side."""
    tests = []
    for key in SELF_READ:
        value = _item(key)
        positive = Interview.outcome.in_(POSITIVE)
        stmt = (
            _named_with_outcomes(filters)
            .add_columns(positive.label("positive"), value.label("value"), func.count().label("n"))
            .where(Interview.outcome.in_(DECIDED), value.is_not(None))
            .group_by(positive, value)
        )
        samples: dict[bool, list[int]] = {True: [], False: []}
        for is_positive, answer, n in db.session.execute(stmt):
            samples[bool(is_positive)].extend([int(answer)] * n)
        summaries = {side: _summary(values) for side, values in samples.items()}
        p_value = None
        if (
            all(len(values) >= threshold for values in samples.values())
            and len(set(samples[True] + samples[False])) > 1
        ):
            p_value = float(mannwhitneyu(samples[True], samples[False], alternative="two-sided").pvalue)
        tests.append(SelfReadTest(key, summaries[True], summaries[False], p_value))
    return tests


def _summary(values: list[int]) -> Summary:
    return Summary(len(values), float(sum(values)), float(sum(v * v for v in values)))


def build_outcomes(filters: ReportFilters, items: tuple[ReportItem, ...] | None = None) -> OutcomesReport:
    """The outcomes section over the numeric items (every published version's, pooled by key),
    with groups below the threshold (and what would expose them) hidden."""
    items = tuple(item for item in (items or report_items()) if item.numeric)
    threshold = min_group_size()
    recruiters, overall = calibrations(_decided_debriefs(filters))
    hidden = hidden_keys({c.key: c.decided for c in recruiters}, threshold)
    for calibration in recruiters:
        calibration.hidden = calibration.key in hidden
    overall.hidden = too_small(overall.decided, threshold)
    groups = outcome_groups(filters, items)
    hidden_outcomes = hidden_keys({g.outcome: g.responses for g in groups}, threshold)
    for group in groups:
        group.hidden = group.outcome in hidden_outcomes
        group.hidden_items = {q.key for q in items if too_small(group.items[q.key].n, threshold)}
    tests = self_read_tests(filters, threshold)
    hidden_or_small = set(hidden_outcomes)
    for test in tests:
        # A side is one outcome group (or two): hidden with them, or when it is small itself.
        test.positive_hidden = bool(hidden_or_small & set(POSITIVE)) or too_small(test.positive.n, threshold)
        test.rejected_hidden = "rejected" in hidden_or_small or too_small(test.rejected.n, threshold)
        if test.positive_hidden or test.rejected_hidden:
            test.p_value = None
    return OutcomesReport(threshold, recruiters, overall, groups, tests)
