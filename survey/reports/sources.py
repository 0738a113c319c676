"""Which answers feed which figure: the one place that decides it.

Named answers (responses, tallied in report_cells) feed every figure. Released anonymous answers
(anonymous_answers, see services/anonymity.py) feed only figures at cohort grain: the whole
organisation, a department, a month, and month ranges of those. As soon as a filter or a
breakdown is finer (position, stage, hiring manager, recruiter), the figure uses named answers
only; so do the perception gaps, the themes and the raw rows. The pages and exports say which.

Every anonymous cohort was released whole with at least REPORT_MIN_GROUP_SIZE answers, so any
figure here, and any difference between two of them, moves by whole cohorts of anonymous answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from ..extensions import db
from ..models import AnonymousAnswer
from . import queries
from .filters import ReportFilters
from .privacy import safe_difference
from .queries import MONTH, SCALE, Dimension, GroupFigures
from .stats import Summary

COHORT_FILTERS = frozenset({"month_from", "month_to", "department"})
COHORT_DIMENSIONS = frozenset({"month", "department"})
# The label of a cohort merged from several small departments of one month.
MERGED_DEPARTMENTS = "(several departments, anonymous)"
ANSWERS = AnonymousAnswer.__table__.c


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


# --- Released anonymous answers, aggregated in SQL ---------------------------------------------


def _conditions(filters: ReportFilters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.month_from:
        conditions.append(ANSWERS.month >= filters.month_from)
    if filters.month_to:
        conditions.append(ANSWERS.month <= filters.month_to)
    if filters.department is not None:
        # A merged cohort (department NULL) belongs to no single department.
        conditions.append(ANSWERS.department == filters.department)
    return conditions


def _value_counts() -> list[ColumnElement]:
    """How many answered each value of each scale item, one column per value."""
    columns = []
    for question in SCALE:
        score = ANSWERS.answers[question.key].as_integer()
        for value in question.values:
            label = f"{question.key}_{value}"
            columns.append(func.coalesce(func.sum(case((score == value, 1), else_=0)), 0).label(label))
    return columns


def _anonymous_rows(filters: ReportFilters, key: ColumnElement | None) -> list[Any]:
    """One row per group (or one in all): responses and value counts of the released answers."""
    columns = [func.count().label("responses"), *_value_counts()]
    statement = select(*columns).select_from(AnonymousAnswer).where(*_conditions(filters))
    if key is not None:
        statement = select(key.label("group_key"), *columns).where(*_conditions(filters)).group_by(key)
    return list(db.session.execute(statement))


def _figures(row: Any, key: Any, label: str) -> GroupFigures:
    mapping = row._mapping
    items, promoters, detractors = {}, 0, 0
    for question in SCALE:
        counts = {value: int(mapping[f"{question.key}_{value}"]) for value in question.values}
        items[question.key] = Summary(
            sum(counts.values()),
            sum(value * n for value, n in counts.items()),
            sum(value * value * n for value, n in counts.items()),
        )
        if question.key == "nps":
            promoters = sum(n for value, n in counts.items() if value >= 9)
            detractors = sum(n for value, n in counts.items() if value <= 6)
    return GroupFigures(key, label, int(mapping["responses"]), items, promoters, detractors)


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
    return ANSWERS.month if dimension.name == MONTH.name else ANSWERS.department


# --- What the report reads ----------------------------------------------------------------------


def overall(filters: ReportFilters) -> tuple[GroupFigures, dict[str, dict[int, int]]]:
    """Headline figures and answer distributions, with anonymous answers where they may count."""
    figures, counts = queries.overall(filters)
    if not includes_anonymous(filters):
        return figures, counts
    row = _anonymous_rows(filters, None)[0]
    mapping = row._mapping
    for question in SCALE:
        for value in question.values:
            counts[question.key][value] += int(mapping[f"{question.key}_{value}"])
    return _combined(figures, _figures(row, None, figures.label)), counts


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
    for row in _anonymous_rows(filters, _group_column(dimension)):
        key = row.group_key
        label = MERGED_DEPARTMENTS if key is None else (key or "(not set)")
        anonymous = _figures(row, key, label)
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
        rows = select(func.count()).select_from(AnonymousAnswer).where(*_conditions(filters))
        if key is not None:
            rows = select(key, func.count()).where(*_conditions(filters)).group_by(key)
            anonymous = dict(db.session.execute(rows).all())
        else:
            anonymous = {None: db.session.scalar(rows) or 0}
    keys = set(named) | set(anonymous)
    if dimension is None:
        keys.add(None)
    return {key: Split(named.get(key) or 0, anonymous.get(key, 0)) for key in keys}


def safe_to_compare(broader: Split, narrower: Split, threshold: int) -> bool:
    """Whether two views may both be shown: each kind of answer differs by 0 or at least k."""
    return safe_difference(broader.named, narrower.named, threshold) and safe_difference(
        broader.anonymous, narrower.anonymous, threshold
    )
