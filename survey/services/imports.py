"""CSV import of interviews: good rows are stored, bad rows reported with their line."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import DomainError
from .intake import create_interview, validate_interview

CSV_COLUMNS = (
    "candidate_name",
    "candidate_email",
    "candidate_external_id",
    "position_title",
    "department",
    "location",
    "stage",
    "hiring_manager",
    "interviewers",
    "recruiter_email",
    "starts_at",
    "ends_at",
    "external_id",
    "language",
    "timezone",
)
REQUIRED_COLUMNS = (
    "candidate_name",
    "candidate_email",
    "position_title",
    "stage",
    "recruiter_email",
    "ends_at",
)
# The API's field names, so a row's errors read the same as the CSV header.
API_TO_COLUMN = {
    "candidate.name": "candidate_name",
    "candidate.email": "candidate_email",
    "candidate.external_id": "candidate_external_id",
    "position.title": "position_title",
    "position.department": "department",
    "position.location": "location",
}


@dataclass
class ImportSummary:
    """What an import did, row by row."""

    created: int = 0
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        """One summary line."""
        return f"{self.created} created, {self.existing} already present, {len(self.errors)} rejected"


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (no header, missing columns)."""


def row_to_payload(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row in the API's nested shape."""

    def cell(name: str) -> str | None:
        value = row.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    interviewers = [name.strip() for name in (cell("interviewers") or "").split(";") if name.strip()]
    return {
        "candidate": {
            "name": cell("candidate_name"),
            "email": cell("candidate_email"),
            "external_id": cell("candidate_external_id"),
        },
        "position": {
            "title": cell("position_title"),
            "department": cell("department"),
            "location": cell("location"),
        },
        "stage": cell("stage"),
        "hiring_manager": cell("hiring_manager"),
        "interviewers": interviewers,
        "recruiter_email": cell("recruiter_email"),
        "starts_at": cell("starts_at"),
        "ends_at": cell("ends_at"),
        "external_id": cell("external_id"),
        "language": cell("language"),
        "timezone": cell("timezone"),
    }


def check_header(fieldnames: Iterable[str] | None) -> None:
    """Refuse a file whose header lacks a required column."""
    present = {name.strip() for name in fieldnames or []}
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        raise ImportFileError(f"missing column(s): {', '.join(missing)}")


def import_interviews(lines: Iterable[str], on_row: Callable[[], None] | None = None) -> ImportSummary:
    """Import every row; a bad row is recorded with its line number and does not stop the rest."""
    reader = csv.DictReader(lines)
    check_header(reader.fieldnames)
    report = ImportSummary()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except (csv.Error, UnicodeDecodeError) as exc:
            report.errors.append((reader.line_num, f"unreadable row: {exc}"))
            continue
        _import_row(reader.line_num, row, report)
        if on_row:
            on_row()
    return report


def _import_row(line: int, row: dict[str, Any], report: ImportSummary) -> None:
    if None in row:
        report.errors.append((line, "more cells than columns in the header"))
        return
    if not all(_is_utf8(value) for value in row.values()):
        report.errors.append((line, "not valid UTF-8 text (save the file as UTF-8)"))
        return
    data, errors = validate_interview(row_to_payload(row))
    if errors:
        reasons = "; ".join(f"{API_TO_COLUMN.get(k, k)}: {v}" for k, v in sorted(errors.items()))
        report.errors.append((line, reasons))
        return
    _, created = create_interview(data)
    if created:
        report.created += 1
    else:
        report.existing += 1


def _is_utf8(value: object) -> bool:
    """False for text decoded with surrogateescape from bytes that are not UTF-8."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
