"""CSV import of interviews: good rows are stored, bad rows reported with their line."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import DomainError
from .intake import (
    INTERVIEW_FIELDS,
    REQUIRED_FIELDS,
    FieldError,
    create_interview,
    parse_time,
    validate_interview,
)

# A file's columns are the interview's fields, by the validator's names.
CSV_COLUMNS = INTERVIEW_FIELDS
REQUIRED_COLUMNS = REQUIRED_FIELDS


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


def row_values(row: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, str]]:
    """A CSV row as the validator's native values (times parsed, interviewers split on ";"),
    and the cells that could not be read, by column."""
    values: dict[str, Any] = {name: row.get(name) for name in CSV_COLUMNS}
    names = (values["interviewers"] or "").split(";")
    values["interviewers"] = [name.strip() for name in names if name.strip()]
    problems: dict[str, str] = {}
    for name in ("starts_at", "ends_at"):
        try:
            values[name] = parse_time(values[name])
        except FieldError as exc:
            problems[name] = str(exc)
            values[name] = None
    return values, problems


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
    values, problems = row_values(row)
    data, errors = validate_interview(values)
    errors |= problems  # what could not be read says so, not "required"
    if errors:
        reasons = "; ".join(f"{name}: {errors[name]}" for name in sorted(errors, key=_column_order))
        report.errors.append((line, reasons))
        return
    _, created = create_interview(data)
    if created:
        report.created += 1
    else:
        report.existing += 1


def _column_order(name: str) -> tuple[int, str]:
    return (CSV_COLUMNS.index(name) if name in CSV_COLUMNS else len(CSV_COLUMNS), name)


def _is_utf8(value: object) -> bool:
    """False for text decoded with surrogateescape from bytes that are not UTF-8."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
