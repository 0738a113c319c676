"""The filters of a report: month range and grouping attributes, kept in the URL."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

from ..models import Interview, Position
from ..months import month_start, next_month


@dataclass(frozen=True)
class ReportFilters:
    """What a report is restricted to; None means "all"."""

    month_from: str | None = None  # "YYYY-MM", inclusive
    month_to: str | None = None  # "YYYY-MM", inclusive
    department: str | None = None
    position_id: int | None = None
    stage: str | None = None
    hiring_manager: str | None = None
    recruiter_id: int | None = None

    def active(self) -> dict[str, Any]:
        """The filters that are set, by name (what the audit log and exports record)."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    def without(self, name: str) -> ReportFilters:
        """The same filters with one of them cleared: the next broader view."""
        return replace(self, **{name: None})

    def on_columns(self, columns: Any) -> list[ColumnElement[bool]]:
        """WHERE conditions on a table with the grouping columns (responses or report_cells)."""
        conditions = []
        if self.month_from:
            conditions.append(columns.month >= self.month_from)
        if self.month_to:
            conditions.append(columns.month <= self.month_to)
        for name in ("department", "position_id", "stage", "hiring_manager", "recruiter_id"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(getattr(columns, name) == value)
        return conditions

    def on_interviews(self) -> list[ColumnElement[bool]]:
        """WHERE conditions on interviews joined to positions (the month is the interview's end)."""
        conditions = []
        if self.month_from:
            conditions.append(Interview.ends_at >= month_start(self.month_from))
        if self.month_to:
            conditions.append(Interview.ends_at < month_start(next_month(self.month_to)))
        if self.department is not None:
            conditions.append(Position.department == self.department)
        if self.position_id is not None:
            conditions.append(Interview.position_id == self.position_id)
        if self.stage is not None:
            conditions.append(Interview.stage == self.stage)
        if self.hiring_manager is not None:
            conditions.append(Interview.hiring_manager == self.hiring_manager)
        if self.recruiter_id is not None:
            conditions.append(Interview.recruiter_id == self.recruiter_id)
        return conditions


MONTH_PATTERN = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def parse_filters(values: dict[str, Any]) -> ReportFilters:
    """Filters from loose values (the CLI); raises ValueError on a malformed month."""
    cleaned = {name: value for name, value in values.items() if value not in (None, "")}
    for name in ("month_from", "month_to"):
        if name in cleaned and not MONTH_PATTERN.fullmatch(cleaned[name]):
            raise ValueError(f"{cleaned[name]!r} is not a month like 2026-03")
    return ReportFilters(**cleaned)


def month_words(month: str) -> str:
    """A "YYYY-MM" month as people write it: "January 2026"."""
    try:
        return datetime.strptime(month, "%Y-%m").strftime("%B %Y")
    except (TypeError, ValueError):
        return str(month)
