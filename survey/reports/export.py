"""Exports of a report: findings, aggregates and de-identified responses, streamed.

Every format is written row by row from generators, so memory stays flat however many
responses there are. Text cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..models import Response
from ..questions import CURRENT
from ..services.audit import record_event
from .filters import ReportFilters
from .queries import MONTH, SCALE, recruiter_names
from .report import Report, known_names
from .themes import redact

FORMATS = ("csv", "xlsx", "json")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SUPPRESSED = "(suppressed)"
FINDING_HEADER = ["kind", "dimension", "group", "item", "statement", "effect_size", "numbers"]
AGGREGATE_HEADER = ["dimension", "group", "measure", "value", "n", "ci_low", "ci_high"]
TEXT_KEYS = [q.key for q in CURRENT.text_questions]
RESPONSE_HEADER = [
    "month",
    "position",
    "department",
    "stage",
    "hiring_manager",
    "recruiter",
    "consent",
    *(q.key for q in SCALE),
    *TEXT_KEYS,
]
# (column shown, column its group is keyed by) of each grouping attribute in the raw rows.
ATTRIBUTES = (
    ("month", "month"),
    ("position_title", "position_id"),
    ("department", "department"),
    ("stage", "stage"),
    ("hiring_manager", "hiring_manager"),
    ("recruiter_id", "recruiter_id"),
)


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate (=, +, -, @, tab, CR) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def record_export(
    fmt: str, filters: ReportFilters, actor: Any = None, actor_label: str | None = None
) -> None:
    """Write the audit event of an export: who, when, which format and filters."""
    record_event(
        "reports.export", {"format": fmt, "filters": filters.active()}, actor=actor, actor_label=actor_label
    )
    db.session.commit()


# --- Rows ------------------------------------------------------------------------------------


def finding_rows(report: Report) -> Iterator[list[Any]]:
    """One row per finding."""
    if report.withheld:
        yield ["notice", "", "", "", report.withheld, "", ""]
    for finding in report.findings:
        yield [
            finding.kind,
            finding.dimension,
            finding.group,
            finding.item,
            finding.text,
            round(finding.effect_size, 3),
            json.dumps(finding.numbers, ensure_ascii=False),
        ]


def _figure_rows(dimension: str, group: Any) -> Iterator[list[Any]]:
    if group.hidden:
        yield [dimension, group.label, "responses", SUPPRESSED, "", "", ""]
        return
    yield [dimension, group.label, "responses", group.responses, "", "", ""]
    if "nps" not in group.hidden_items and group.nps is not None:
        n = group.nps_answers
        yield [dimension, group.label, "cnps", round(group.nps, 1), n, "", ""]
        for name, count in (("promoters", group.promoters), ("passives", group.passives)):
            yield [dimension, group.label, f"{name}_pct", round(group.share(count), 1), n, "", ""]
        yield [dimension, group.label, "detractors_pct", round(group.share(group.detractors), 1), n, "", ""]
    for question in SCALE:
        summary = group.items[question.key]
        if question.key in group.hidden_items or not summary.n:
            continue
        margin = summary.margin
        low, high = (round(summary.mean - margin, 3), round(summary.mean + margin, 3)) if margin else ("", "")
        yield [dimension, group.label, f"mean:{question.key}", round(summary.mean, 3), summary.n, low, high]


def aggregate_rows(report: Report) -> Iterator[list[Any]]:
    """Long-format aggregates: headline, months, every breakdown and the perception gaps."""
    if report.withheld:
        return
    yield from _figure_rows("All", report.overall)
    yield ["All", "All responses", "invitations_sent", report.invitations_sent, "", "", ""]
    if report.response_rate is not None:
        yield ["All", "All responses", "response_rate_pct", round(report.response_rate, 1), "", "", ""]
    for key, counts in report.distributions.items():
        if key not in report.overall.hidden_items:
            for value, count in counts.items():
                yield ["All", "All responses", f"answers:{key}={value}", count, "", "", ""]
    for group in report.trend.groups:
        yield from _figure_rows(MONTH.label, group)
    for breakdown in report.breakdowns:
        for group in breakdown.groups:
            yield from _figure_rows(breakdown.dimension.label, group)
    for name, groups in report.gaps.items():
        for group in groups:
            yield from _gap_rows(f"Perception gap by {name}", group)


def _gap_rows(dimension: str, group: Any) -> Iterator[list[Any]]:
    if group.hidden:
        yield [dimension, group.label, "pairs", SUPPRESSED, "", "", ""]
        return
    yield [dimension, group.label, "pairs", group.pairs, "", "", ""]
    for key, gap in group.gaps.items():
        if gap.n:
            margin = gap.margin
            low, high = (round(gap.mean - margin, 3), round(gap.mean + margin, 3)) if margin else ("", "")
            yield [dimension, group.label, f"gap:{key}", round(gap.mean, 3), gap.n, low, high]
            yield [dimension, group.label, f"flagged:{key}", group.flagged[key], gap.n, "", ""]
    yield [
        dimension,
        group.label,
        "next_step_mismatches",
        group.next_step_mismatches,
        group.next_step_checked,
    ]


def _months_with_enough_anonymous(report: Report) -> set[str]:
    """Months holding at least the threshold of anonymous responses (within the filters)."""
    statement = (
        select(Response.month)
        .where(Response.consent == "anonymous", *report.filters.on_columns(Response))
        .group_by(Response.month)
        .having(func.count() >= report.threshold)
    )
    return set(db.session.scalars(statement))


def _anonymous_attributes(row: Any, open_months: set[str], report: Report, names: dict) -> list[Any]:
    """An anonymous row's grouping attributes: its month among enough other anonymous answers,
    and what the export's own filters already fix for every row; nothing finer.

    Staff can tell which interviews were answered anonymously, so any other attribute (or a month
    with few anonymous answers) could tie such a row back to one candidate.
    """
    values = []
    for shown, key in ATTRIBUTES:
        if key == "month":
            values.append(row.month if row.month in open_months else SUPPRESSED)
        elif getattr(report.filters, key) is not None:
            values.append(names.get(row.recruiter_id, "") if shown == "recruiter_id" else getattr(row, shown))
        else:
            values.append(SUPPRESSED)
    return values


def response_rows(report: Report, on_row: Callable[[], None] | None = None) -> Iterator[list[Any]]:
    """One de-identified row per response; attributes of suppressed groups read "(suppressed)"."""
    if report.withheld:
        return
    # Per grouping, the keys of its suppressed groups (a position is keyed by id, shown by title).
    suppressed = {breakdown.dimension.key: breakdown.hidden_keys for breakdown in report.breakdowns}
    suppressed["month"] = report.trend.hidden_keys
    names = recruiter_names()
    people = tuple(known_names())
    statement = (
        select(*(getattr(Response, shown) for shown, _ in ATTRIBUTES), Response.position_id)
        .add_columns(Response.consent, Response.answers)
        .where(*report.filters.on_columns(Response))
        .order_by(Response.month, Response.id)
        .execution_options(yield_per=1000)
    )
    open_months = _months_with_enough_anonymous(report)
    for row in db.session.execute(statement):
        values: list[Any] = []
        if row.consent == "anonymous":
            values = _anonymous_attributes(row, open_months, report, names)
        for shown, key in ATTRIBUTES if not values else ():
            value = names.get(row.recruiter_id, "") if shown == "recruiter_id" else getattr(row, shown)
            group = getattr(row, key)
            if key.endswith("_id"):
                group = group or 0  # report_cells keys a missing position or recruiter as 0
            values.append(SUPPRESSED if group in suppressed[key] else value)
        answers = row.answers or {}
        values.append(row.consent)
        values.extend(answers.get(q.key) for q in SCALE)
        values.extend(redact(answers[key], people) if answers.get(key) else "" for key in TEXT_KEYS)
        if on_row:
            on_row()
        yield values


SECTIONS = (
    ("findings", FINDING_HEADER, finding_rows),
    ("aggregates", AGGREGATE_HEADER, aggregate_rows),
    ("responses", RESPONSE_HEADER, response_rows),
)


def _sections(report: Report, on_row: Callable[[], None] | None):
    for name, header, rows in SECTIONS:
        yield name, header, (rows(report, on_row) if rows is response_rows else rows(report))


# --- Formats ----------------------------------------------------------------------------------


def stream_csv(report: Report, on_row: Callable[[], None] | None = None) -> Iterator[str]:
    """CSV: a titled block per section (findings, aggregates, responses), blank line between."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff"  # so spreadsheet programs read the file as UTF-8
    for index, (name, header, rows) in enumerate(_sections(report, on_row)):
        if index:
            writer.writerow([])
        writer.writerow([f"# {name}"])
        writer.writerow(header)
        for count, row in enumerate(rows, start=1):
            writer.writerow([neutralise(value) for value in row])
            if count % 500 == 0:
                yield flush()
        yield flush()


def stream_json(report: Report, on_row: Callable[[], None] | None = None) -> Iterator[str]:
    """JSON: {"filters", "min_group_size", "withheld", "findings", "aggregates", "responses"}."""
    head = {
        "filters": report.filters.active(),
        "min_group_size": report.threshold,
        "withheld": report.withheld,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1]
    for name, header, rows in _sections(report, on_row):
        yield f', "{name}": ['
        for count, row in enumerate(rows):
            yield ("," if count else "") + json.dumps(
                dict(zip(header, row, strict=False)), ensure_ascii=False
            )
        yield "]"
    yield "}"


def xlsx_cell(value: Any) -> Any:
    """A neutralised cell without the control characters a worksheet cannot hold."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # openpyxl loads on the first XLSX export

    value = neutralise(value)
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def write_xlsx(report: Report, handle: Any, on_row: Callable[[], None] | None = None) -> None:
    """XLSX: one worksheet per section, written in openpyxl's write-only (streaming) mode."""
    # Imported here, not at start-up: every process (web worker, send-due) would pay ~0.3 s for it.
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for name, header, rows in _sections(report, on_row):
        sheet = workbook.create_sheet(name.capitalize())
        sheet.append(header)
        for row in rows:
            sheet.append([xlsx_cell(value) for value in row])
    workbook.save(handle)


def stream_xlsx(report: Report, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """XLSX written to a temporary file, then streamed from it in chunks and removed."""
    descriptor, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(descriptor)
    try:
        write_xlsx(report, path)
        with open(path, "rb") as handle:
            yield from iter(lambda: handle.read(chunk_size), b"")
    finally:
        os.unlink(path)


def write_export(fmt: str, report: Report, path: str, on_row: Callable[[], None] | None = None) -> None:
    """Write an export to a file (the CLI)."""
    if fmt == "xlsx":
        write_xlsx(report, path, on_row)
        return
    chunks: Iterable[str] = stream_csv(report, on_row) if fmt == "csv" else stream_json(report, on_row)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
