"""Months as reports and anonymous cohorts name them: "YYYY-MM", in UTC.

Used by the services that keep the counts and by the reports that read them, so it belongs to
neither.
"""

from __future__ import annotations

from datetime import UTC, datetime


def month_start(month: str) -> datetime:
    """Midnight UTC on the first day of a "YYYY-MM" month."""
    return datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)


def next_month(month: str) -> str:
    """The "YYYY-MM" after this one."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"
