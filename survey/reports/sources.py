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

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select

from ..extensions import db
from ..models import RESPONSES_ITEM, AnonymousCell
from ..small_groups import safe_difference
from . import queries
from .filters import ReportFilters, month_words
from .queries import MONTH, Dimension, GroupFigures, ReportItem, figures_from_counts
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
) -> dict[Any, dict[str, dict[str, int]]]:
    """Per group (or None for all): per item, how many released answers gave each value (as text;
    item RESPONSES_ITEM, value "0": how many answers).

    Summed in SQL over the cohort tally (anonymous_cells): a few rows per released cohort.
    """
    grouping = [] if key is None else [key]
    statement = select(*grouping, TALLY.item, TALLY.value, func.sum(TALLY.count)).where(*_conditions(filters))
    if only_responses:
        statement = statement.where(TALLY.item == RESPONSES_ITEM)
    statement = statement.group_by(*grouping, TALLY.item, TALLY.value)
    result: dict[Any, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in db.session.execute(statement):
        group = row[0] if key is not None else None
        result[group][row[-3]][str(row[-2])] = int(row[-1])
    return result


def _responses(tally: dict[str, dict[str, int]]) -> int:
    return tally.get(RESPONSES_ITEM, {}).get("0", 0)


def _figures(
    tally: dict[str, dict[str, int]], key: Any, label: str, items: tuple[ReportItem, ...]
) -> GroupFigures:
    return figures_from_counts(key, label, _responses(tally), tally, items)


def _combined(named: GroupFigures, anonymous: GroupFigures) -> GroupFigures:
    items = {
        key: Summary(
            s.n + anonymous.items[key].n,
            s.total + anonymous.items[key].total,
            s.squares + anonymous.items[key].squares,
        )
        for key, s in named.items.items()
    }
    counts = {
        key: {value: n + anonymous.counts.get(key, {}).get(value, 0) for value, n in by_value.items()}
        for key, by_value in named.counts.items()
    }
    return GroupFigures(
        named.key,
        named.label,
        named.responses + anonymous.responses,
        items,
        named.promoters + anonymous.promoters,
        named.detractors + anonymous.detractors,
        counts=counts,
    )


def _group_column(dimension: Dimension) -> ColumnElement:
    return TALLY.month if dimension.name == MONTH.name else TALLY.department


# --- What the report reads ----------------------------------------------------------------------


def overall(
    filters: ReportFilters, items: tuple[ReportItem, ...]
) -> tuple[GroupFigures, dict[str, dict[Any, int]]]:
    """Headline figures and answer distributions, with anonymous answers where they may count."""
    figures, _ = queries.overall(filters, items)
    if includes_anonymous(filters):
        tally = _tallies(filters, None).get(None, {})
        figures = _combined(figures, _figures(tally, None, figures.label, items))
    return figures, figures.counts


def by_groups(
    filters: ReportFilters,
    dimensions: tuple[Dimension, ...],
    items: tuple[ReportItem, ...],
    cells: queries.CellCounts | None = None,
) -> dict[str, list[GroupFigures]]:
    """Figures per group of each dimension; the cohort-grain ones include anonymous answers."""
    result = queries.by_groups(filters, dimensions, items, cells)
    for dimension in dimensions:
        if includes_anonymous(filters, dimension):
            result[dimension.name] = _merge_groups(filters, dimension, result[dimension.name], items)
    return result


def _merge_groups(
    filters: ReportFilters, dimension: Dimension, named: list[GroupFigures], items: tuple[ReportItem, ...]
) -> list[GroupFigures]:
    groups = {group.key: group for group in named}
    for key, tally in _tallies(filters, _group_column(dimension)).items():
        if dimension.name == MONTH.name:
            label = month_words(key)
        else:
            label = MERGED_DEPARTMENTS if key is None else (key or "(not set)")
        anonymous = _figures(tally, key, label, items)
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
        anonymous = {group: _responses(tally) for group, tally in tallies.items()}
    keys = set(named) | set(anonymous)
    if dimension is None:
        keys.add(None)
    return {key: Split(named.get(key) or 0, anonymous.get(key, 0)) for key in keys}


def safe_to_compare(broader: Split, narrower: Split, threshold: int) -> bool:
    """Whether two views may both be shown: each kind of answer differs by 0 or at least k."""
    return safe_difference(broader.named, narrower.named, threshold) and safe_difference(
        broader.anonymous, narrower.anonymous, threshold
    )
