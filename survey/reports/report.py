"""One report: the figures the filters select, with small groups suppressed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import User, report_cells
from ..small_groups import hidden_keys, min_group_size, too_small
from . import queries, sources
from .filters import ReportFilters
from .queries import DIMENSIONS, MONTH, Dimension, GapFigures, GroupFigures, ReportItem

EMPTY = sources.Split()
FILTER_LABELS = {
    "month_from": "from month",
    "month_to": "to month",
    "department": "department",
    "position_id": "position",
    "stage": "stage",
    "hiring_manager": "hiring manager",
    "recruiter_id": "recruiter",
}


@dataclass
class Breakdown:
    """Figures per group of one dimension, with the suppressed groups marked."""

    dimension: Dimension
    groups: list[GroupFigures]
    # Whether released anonymous answers feed these figures (sources.includes_anonymous).
    anonymous_included: bool = False

    @property
    def hidden_keys(self) -> set[Any]:
        """Keys of the groups not shown."""
        return {group.key for group in self.groups if group.hidden}


@dataclass
class Report:
    """Everything the reports page and the exports show."""

    filters: ReportFilters
    threshold: int
    # Every item of every published question-set version (free text aside), pooled by key.
    items: tuple[ReportItem, ...] = ()
    withheld: str | None = None
    overall: GroupFigures | None = None
    invitations_sent: int = 0
    distributions: dict[str, dict[int, int]] = field(default_factory=dict)
    trend: Breakdown | None = None
    breakdowns: list[Breakdown] = field(default_factory=list)
    gaps: dict[str, list[GapFigures]] = field(default_factory=dict)
    findings: list[Any] = field(default_factory=list)
    family: Any = None  # the comparisons the findings were adjusted over (findings.Family)
    # The numeric items' answer counts per cell, read once for the breakdowns and the findings.
    cell_counts: queries.CellCounts | None = None
    # Whether the headline (and so the response rate) includes released anonymous answers.
    anonymous_included: bool = False

    @property
    def numeric_items(self) -> tuple[ReportItem, ...]:
        """The items with a mean (nps and scales)."""
        return tuple(item for item in self.items if item.numeric)

    @property
    def response_rate(self) -> float | None:
        """Responses per invitation sent, as a percentage."""
        if not self.overall or not self.invitations_sent:
            return None
        return 100 * self.overall.responses / self.invitations_sent

    def breakdown(self, name: str) -> Breakdown | None:
        """The breakdown by one dimension."""
        return next((b for b in self.breakdowns if b.dimension.name == name), None)


def build_report(filters: ReportFilters, with_findings: bool = True) -> Report:
    """Compute the report, withholding it or its groups wherever they would expose a few people."""
    from .findings import build_findings

    report = Report(filters, min_group_size(), queries.report_items())
    report.withheld = withheld_reason(filters, report.threshold)
    if report.withheld:
        return report
    report.anonymous_included = sources.includes_anonymous(filters)
    report.overall, report.distributions = sources.overall(filters, report.items)
    report.overall.hidden_items = {
        item.key for item in report.items if too_small(report.overall.answered(item.key), report.threshold)
    }
    report.invitations_sent = queries.invitations_sent(filters)
    counted = queries.cell_tallies(filters, report.items)
    report.cell_counts = counted.numeric(report.items)
    groups = sources.by_groups(filters, (MONTH, *DIMENSIONS), report.items, counted)
    report.trend = protected_breakdown(filters, MONTH, groups[MONTH.name], report.threshold, report.items)
    report.breakdowns = [
        protected_breakdown(filters, d, groups[d.name], report.threshold, report.items) for d in DIMENSIONS
    ]
    for name, groups in queries.gaps_by_group(filters).items():
        hidden = hidden_keys({g.key: g.pairs for g in groups}, report.threshold)
        for group in groups:
            group.hidden = group.key in hidden
        report.gaps[name] = groups
    if with_findings:
        report.findings = build_findings(report, known_names())
    return report


def withheld_reason(filters: ReportFilters, threshold: int) -> str | None:
    """Why nothing can be shown for these filters, or None."""
    split = sources.counts(filters, None)[None]
    total = split.total
    if total == 0:
        return "No responses match these filters."
    if too_small(total, threshold):
        return f"Fewer than {threshold} responses match these filters, so nothing is shown."
    month_problem = month_range_problem(filters, threshold)
    if month_problem:
        return month_problem
    for name in filters.active():
        broader = sources.counts(filters.without(name), None)[None]
        if not sources.safe_to_compare(broader, split, threshold):
            return (
                f"These filters differ from the same view without the {FILTER_LABELS[name]} filter by "
                f"fewer than {threshold} responses; comparing the two would expose them, so nothing is shown."
            )
    return None


def month_blocks(counts: dict[str, int], threshold: int) -> list[list[str]]:
    """Consecutive months (with responses) merged into blocks of at least `threshold` responses."""
    blocks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for month in sorted(month for month, n in counts.items() if n):
        current.append(month)
        size += counts[month]
        if size >= threshold:
            blocks.append(current)
            current, size = [], 0
    if current:  # a small tail joins the block before it
        if blocks:
            blocks[-1].extend(current)
        else:
            blocks.append(current)
    return blocks


def month_bounds(filters: ReportFilters, threshold: int) -> tuple[list[str], list[str]]:
    """The months a range may start on and end on under these filters (whole blocks only)."""
    counts = queries.counts_by(filters.without("month_from").without("month_to"), MONTH)
    blocks = month_blocks(counts, threshold)
    return [block[0] for block in blocks], [block[-1] for block in blocks]


def month_range_problem(filters: ReportFilters, threshold: int) -> str | None:
    """Why a month range is refused: it must start and end on whole blocks of months.

    Two ranges that differ by a stretch of quiet months would otherwise expose that stretch's few
    responses by subtraction (e.g. "from January" minus "from February").
    """
    if not (filters.month_from or filters.month_to):
        return None
    counts = queries.counts_by(filters.without("month_from").without("month_to"), MONTH)
    blocks = month_blocks(counts, threshold)
    starts = {block[0] for block in blocks}
    ends = {block[-1] for block in blocks}
    months = sorted(month for block in blocks for month in block)
    if filters.month_from:
        first = next((m for m in months if m >= filters.month_from), None)
        if first is not None and first not in starts:
            allowed = ", ".join(sorted(starts))
            return (
                f"Starting at {filters.month_from} would split a stretch of months with fewer than "
                f"{threshold} responses; start the range at one of: {allowed}."
            )
    if filters.month_to:
        last = next((m for m in reversed(months) if m <= filters.month_to), None)
        if last is not None and last not in ends:
            allowed = ", ".join(sorted(ends))
            return (
                f"Ending at {filters.month_to} would split a stretch of months with fewer than "
                f"{threshold} responses; end the range at one of: {allowed}."
            )
    return None


def protected_breakdown(
    filters: ReportFilters,
    dimension: Dimension,
    groups: list[GroupFigures],
    threshold: int,
    items: tuple[ReportItem, ...] = (),
) -> Breakdown:
    """A breakdown with small groups, their complements and differencing risks hidden."""
    counts = {group.key: group.responses for group in groups}
    splits = sources.counts(filters, dimension) if filters.active() else {}
    risky: set[Any] = set()
    for name in filters.active():
        broader = sources.counts(filters.without(name), dimension)
        risky |= {
            key
            for key in counts
            if not sources.safe_to_compare(broader.get(key, EMPTY), splits.get(key, EMPTY), threshold)
        }
    hidden = hidden_keys(counts, threshold, risky)
    hidden_items = {
        item.key: hidden_keys({g.key: g.answered(item.key) for g in groups}, threshold, hidden)
        for item in items
    }
    for group in groups:
        group.hidden = group.key in hidden
        group.hidden_items = {key for key, keys in hidden_items.items() if group.key in keys}
    return Breakdown(dimension, groups, sources.includes_anonymous(filters, dimension))


def known_names() -> list[str]:
    """Names of people the reports must never print in free text: staff and hiring managers."""
    staff = db.session.scalars(select(User.name)).all()
    managers = db.session.scalars(select(report_cells.c.hiring_manager).distinct()).all()
    return [name for name in (*staff, *managers) if name]
