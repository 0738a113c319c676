"""Which answers feed which figure: the one place that decides it.

Named answers (responses, tallied in report_cells) feed every figure. Released anonymous answers
(anonymous_answers, tallied per cohort in anonymous_cells; see services/anonymity.py) feed only
figures at cohort grain: the whole organisation, a department, a month, and month ranges of those.
As soon as a filter or a breakdown is finer (position, stage, hiring manager, recruiter), the figure
uses named answers only; so do the perception gaps, the themes and the raw rows. The pages and
exports say which.

Every anonymous cohort was released whole with at least REPORT_MIN_GROUP_SIZE answers, so any
figure here, and any difference between two of them, moves by whole cohorts of anonymous answers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select

from ..extensions import db
from ..models import RESPONSES_ITEM, AnonymousCell
from . import queries
from .filters import ReportFilters
from .privacy import safe_difference
from .queries import MONTH, SCALE, Dimension, GroupFigures
from .stats import Summary

COHORT_FILTERS = frozenset({"month_from", "month_to", "department"})
COHORT_DIMENSIONS = frozenset({"month", "department"})
# The label of a cohort merged from several small departments of one month.
MERGED_DEPARTMENTS = "(several departments, anonymous)"
TALLY = AnonymousCell.__table__.c


def includes_anonymous(filters: ReportFilters, dimension: Dimension | None = None) -> bool:
    """Whether released anonymous answers feed this figure: only at cohort grain."""
    if any(name not in COHORT_FILTERS for name in filters.active()):
        return False
    return dimension is None or dimension.name in COHORT_DIMENSIONS


@dataclass(frozen=True)
class Split:
    """How many named and how many anonymous answers a figure rests on."""

    named: int = 0
    anonymous: int = 0

    @property
    def total(self) -> int:
        """Both together: what the figure shows as its responses."""
        return self.named + self.anonymous


# --- Released anonymous answers, from their cohort tally ----------------------------------------


def _conditions(filters: ReportFilters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.month_from:
        conditions.append(TALLY.month >= filters.month_from)
    if filters.month_to:
        conditions.append(TALLY.month <= filters.month_to)
    if filters.department is not None:
        # A merged cohort (department NULL) belongs to no single department.
        conditions.append(TALLY.department == filters.department)
    return conditions


def _tallies(
    filters: ReportFilters, key: ColumnElement | None, only_responses: bool = False
) -> dict[Any, Counter[tuple[str, int]]]:
    """Per group (or None for all): how many released answers, and per (item, value) how many gave it.

    Summed in SQL over the cohort tally (anonymous_cells): a few rows per released cohort.
    """
    grouping = [] if key is None else [key]
    statement = select(*grouping, TALLY.item, TALLY.value, func.sum(TALLY.count)).where(*_conditions(filters))
    if only_responses:
        statement = statement.where(TALLY.item == RESPONSES_ITEM)
    statement = statement.group_by(*grouping, TALLY.item, TALLY.value)
    result: dict[Any, Counter[tuple[str, int]]] = defaultdict(Counter)
    for row in db.session.execute(statement):
        group = row[0] if key is not None else None
        result[group][(row[-3], int(row[-2]))] += int(row[-1])
    return result


def _figures(counts: Counter[tuple[str, int]], key: Any, label: str) -> GroupFigures:
    items, promoters, detractors = {}, 0, 0
    for question in SCALE:
        by_value = {value: counts[(question.key, value)] for value in question.values}
        items[question.key] = Summary(
            sum(by_value.values()),
            sum(value * n for value, n in by_value.items()),
            sum(value * value * n for value, n in by_value.items()),
        )
        if question.key == "nps":
            promoters = sum(n for value, n in by_value.items() if value >= 9)
            detractors = sum(n for value, n in by_value.items() if value <= 6)
    return GroupFigures(key, label, counts[(RESPONSES_ITEM, 0)], items, promoters, detractors)


def _combined(named: GroupFigures, anonymous: GroupFigures) -> GroupFigures:
    items = {
        key: Summary(
            s.n + anonymous.items[key].n,
            s.total + anonymous.items[key].total,
            s.squares + anonymous.items[key].squares,
        )
        for key, s in named.items.items()
    }
    return GroupFigures(
        named.key,
        named.label,
        named.responses + anonymous.responses,
        items,
        named.promoters + anonymous.promoters,
        named.detractors + anonymous.detractors,
    )


def _group_column(dimension: Dimension) -> ColumnElement:
    return TALLY.month if dimension.name == MONTH.name else TALLY.department


# --- What the report reads ----------------------------------------------------------------------


def overall(filters: ReportFilters) -> tuple[GroupFigures, dict[str, dict[int, int]]]:
    """Headline figures and answer distributions, with anonymous answers where they may count."""
    figures, counts = queries.overall(filters)
    if not includes_anonymous(filters):
        return figures, counts
    tally = _tallies(filters, None).get(None, Counter())
    for question in SCALE:
        for value in question.values:
            counts[question.key][value] += tally[(question.key, value)]
    return _combined(figures, _figures(tally, None, figures.label)), counts


def by_groups(filters: ReportFilters, dimensions: tuple[Dimension, ...]) -> dict[str, list[GroupFigures]]:
    """Figures per group of each dimension; the cohort-grain ones include anonymous answers."""
    result = queries.by_groups(filters, dimensions)
    for dimension in dimensions:
        if includes_anonymous(filters, dimension):
            result[dimension.name] = _merge_groups(filters, dimension, result[dimension.name])
    return result


def _merge_groups(
    filters: ReportFilters, dimension: Dimension, named: list[GroupFigures]
) -> list[GroupFigures]:
    groups = {group.key: group for group in named}
    for key, tally in _tallies(filters, _group_column(dimension)).items():
        label = MERGED_DEPARTMENTS if key is None else (key or "(not set)")
        anonymous = _figures(tally, key, label)
        groups[key] = _combined(groups[key], anonymous) if key in groups else anonymous
    merged = list(groups.values())
    if dimension.name == MONTH.name:
        merged.sort(key=lambda group: group.key)
    else:
        merged.sort(key=lambda group: (-group.responses, group.label))
    return merged


def counts(filters: ReportFilters, dimension: Dimension | None) -> dict[Any, Split]:
    """Named and anonymous answers per group (or in total, keyed None): what suppression reads."""
    named = queries.counts_by(filters, dimension)
    anonymous: dict[Any, int] = {}
    if includes_anonymous(filters, dimension):
        key = None if dimension is None else _group_column(dimension)
        tallies = _tallies(filters, key, only_responses=True)
        anonymous = {group: tally[(RESPONSES_ITEM, 0)] for group, tally in tallies.items()}
    keys = set(named) | set(anonymous)
    if dimension is None:
        keys.add(None)
    return {key: Split(named.get(key) or 0, anonymous.get(key, 0)) for key in keys}


def safe_to_compare(broader: Split, narrower: Split, threshold: int) -> bool:
    """Whether two views may both be shown: each kind of answer differs by 0 or at least k."""
    return safe_difference(broader.named, narrower.named, threshold) and safe_difference(
        broader.anonymous, narrower.anonymous, threshold
    )
