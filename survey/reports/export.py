"""Exports of a report: findings, aggregates and de-identified responses, streamed.

Every format is written row by row from generators, so memory stays flat however many
responses there are. Text cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Response
from ..themes import redact
from .filters import ReportFilters
from .queries import MONTH, recruiter_names, report_items
from .report import Report, known_names

FORMATS = ("csv", "xlsx", "json")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8; header=present",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json; charset=utf-8",
}
CSV_PARTS = ("aggregates", "responses", "findings")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SUPPRESSED = "(suppressed)"
FINDING_HEADER = [
    "kind",
    "dimension",
    "group",
    "compared_with",
    "item",
    "label",
    "difference",
    "ci_low",
    "ci_high",
    "effect_size",
    "p_value",
    "q_value",
    "n",
    "reference_n",
    "statement",
]
# Tidy: one row per group × item × statistic; `value` is empty (null) where the group is suppressed.
AGGREGATE_HEADER = [
    "dimension",
    "group",
    "item",
    "statistic",
    "value",
    "n",
    "ci_low",
    "ci_high",
    "suppressed",
    "answers",
]
RESPONSE_ATTRIBUTES = ["month", "position", "department", "stage", "hiring_manager", "recruiter", "consent"]


def text_keys() -> list[str]:
    """The free-text items of every published version, in the reports' order."""
    return [item.key for item in report_items(include_text=True) if item.kind == "text"]


def response_header(report: Report) -> list[str]:
    """The raw rows' columns: attributes, every answered item (numbers and choices), then free text."""
    return [*RESPONSE_ATTRIBUTES, *(item.key for item in report.items), *text_keys()]


# The "answers" column of an aggregate row: which answers the figure rests on (reports/sources.py).
WITH_ANONYMOUS = "named and anonymous"
NAMED_ONLY = "named only"
ANONYMOUS_NOTE = (
    "Anonymous answers count only in figures by organisation, department and month (the answers "
    "column says which); response rows are named answers only."
)
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


# --- Rows ---------------------------------------------------------------------------------------


def finding_rows(report: Report) -> Iterator[list[Any]]:
    """One row per finding and item: the numbers that decided it, typed (None where not defined)."""
    if report.withheld:
        yield ["notice", "", "", "", "", "", None, None, None, None, None, None, None, None, report.withheld]
    for finding in report.findings:
        for item in finding.items:
            if finding.kind == "theme":
                numbers = [None] * 6 + [finding.count, None]
                label = item["theme"]
            else:
                difference = item.get("difference", item.get("mean_gap"))
                numbers = [
                    difference,
                    item["ci_low"],
                    item["ci_high"],
                    item.get("effect_size"),
                    item["p_value"],
                    item["q_value"],
                    item["n"],
                    item.get("reference_n"),
                ]
                label = item["label"]
            yield [
                finding.kind,
                finding.dimension,
                finding.group,
                finding.reference,
                item["item"],
                label,
                *numbers,
                finding.text,
            ]


def _row(
    dimension: str,
    group: Any,
    item: str,
    statistic: str,
    value: Any,
    n: Any = None,
    low: Any = None,
    high: Any = None,
) -> list[Any]:
    return [dimension, _group_name(dimension, group), item, statistic, value, n, low, high, False]


def _group_name(dimension: str, group: Any) -> str:
    """A group as exported: months as "2026-01" (sortable), every other group by its label."""
    return group.key if dimension == MONTH.label else group.label


def _interval(summary: Any) -> tuple[float | None, float | None]:
    margin = summary.margin
    if margin is None:
        return None, None
    return round(summary.mean - margin, 3), round(summary.mean + margin, 3)


def _figure_rows(dimension: str, group: Any) -> Iterator[list[Any]]:
    if group.hidden:
        yield [dimension, _group_name(dimension, group), "", "responses", None, None, None, None, True]
        return
    yield _row(dimension, group, "", "responses", group.responses)
    if "nps" not in group.hidden_items and group.nps is not None:
        n = group.nps_answers
        low, high = group.nps_interval
        yield _row(dimension, group, "nps", "cnps", round(group.nps, 1), n, round(low, 1), round(high, 1))
        for name, count in (
            ("promoters", group.promoters),
            ("passives", group.passives),
            ("detractors", group.detractors),
        ):
            yield _row(dimension, group, "nps", f"{name}_pct", round(group.share(count), 1), n)
    for key, summary in group.items.items():
        if key in group.hidden_items:
            yield _suppressed(dimension, group, key, "mean")
        elif summary.n:
            yield _row(dimension, group, key, "mean", round(summary.mean, 3), summary.n, *_interval(summary))
    yield from _choice_rows(dimension, group)


def _suppressed(dimension: str, group: Any, item: str, statistic: str) -> list[Any]:
    return [dimension, _group_name(dimension, group), item, statistic, None, None, None, None, True]


def _choice_rows(dimension: str, group: Any) -> Iterator[list[Any]]:
    """A choice item's share of each option (it has no mean), with the item's n: statistic
    "share_pct:<option value>"."""
    for key, counts in group.counts.items():
        if key in group.items:
            continue
        if key in group.hidden_items:
            yield _suppressed(dimension, group, key, "share_pct")
            continue
        answered = sum(counts.values())
        for value, count in counts.items() if answered else ():
            yield _row(
                dimension, group, key, f"share_pct:{value}", round(100 * count / answered, 1), answered
            )


def _labelled(rows: Iterable[list[Any]], anonymous_included: bool) -> Iterator[list[Any]]:
    """Each row followed by the "answers" column saying which answers it rests on."""
    label = WITH_ANONYMOUS if anonymous_included else NAMED_ONLY
    for row in rows:
        yield [*row, label]


def _headline_rows(report: Report) -> Iterator[list[Any]]:
    overall = report.overall
    yield from _figure_rows("All", overall)
    yield _row("All", overall, "", "invitations_sent", report.invitations_sent)
    if report.response_rate is not None:
        yield _row("All", overall, "", "response_rate_pct", round(report.response_rate, 1))
    for key, counts in report.distributions.items():
        if key not in overall.hidden_items:
            for value, count in counts.items():
                yield _row("All", overall, key, f"answers_{value}", count, sum(counts.values()))


def aggregate_rows(report: Report) -> Iterator[list[Any]]:
    """Tidy aggregates: headline, months, every breakdown and the perception gaps, each row
    saying whether anonymous answers feed it."""
    if report.withheld:
        return
    yield from _labelled(_headline_rows(report), report.anonymous_included)
    for breakdown in (report.trend, *report.breakdowns):
        for group in breakdown.groups:
            yield from _labelled(_figure_rows(breakdown.dimension.label, group), breakdown.anonymous_included)
    for name, groups in report.gaps.items():
        for group in groups:
            yield from _labelled(_gap_rows(f"Perception gap by {name}", group), False)


def _gap_rows(dimension: str, group: Any) -> Iterator[list[Any]]:
    if group.hidden:
        yield [dimension, group.label, "", "pairs", None, None, None, None, True]
        return
    yield _row(dimension, group, "", "pairs", group.pairs)
    for key, gap in group.gaps.items():
        if gap.n:
            yield _row(dimension, group, key, "mean_gap", round(gap.mean, 3), gap.n, *_interval(gap))
            yield _row(dimension, group, key, "flagged", group.flagged[key], gap.n)
    yield _row(
        dimension,
        group,
        "next_steps",
        "next_step_mismatches",
        group.next_step_mismatches,
        group.next_step_checked,
    )
    rules = (
        ("doubts_cleared", "doubts_cleared_mismatches", group.doubts_mismatches, group.doubts_checked),
        ("nps", "referral_mismatches", group.referral_mismatches, group.referral_checked),
    )
    for item, name, mismatches, checked in rules:
        yield _row(dimension, group, item, name, mismatches, checked)


def response_rows(report: Report, on_row: Callable[[], None] | None = None) -> Iterator[list[Any]]:
    """One de-identified row per named response; attributes of suppressed groups read "(suppressed)".

    Anonymous answers never appear as rows: they count only in figures at cohort grain.
    """
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
    texts = text_keys()
    for row in db.session.execute(statement):
        values: list[Any] = []
        for shown, key in ATTRIBUTES:
            value = names.get(row.recruiter_id, "") if shown == "recruiter_id" else getattr(row, shown)
            group = getattr(row, key)
            if key.endswith("_id"):
                group = group or 0  # report_cells keys a missing position or recruiter as 0
            values.append(SUPPRESSED if group in suppressed[key] else value)
        answers = row.answers or {}
        values.append(row.consent)
        values.extend(answers.get(item.key) for item in report.items)
        values.extend(redact(answers[key], people) if answers.get(key) else "" for key in texts)
        if on_row:
            on_row()
        yield values


SECTIONS = (
    ("findings", lambda report: FINDING_HEADER, finding_rows),
    ("aggregates", lambda report: AGGREGATE_HEADER, aggregate_rows),
    ("responses", response_header, response_rows),
)


def _sections(report: Report, on_row: Callable[[], None] | None, only: str | None = None):
    for name, header, rows in SECTIONS:
        if only is None or name == only:
            yield name, header(report), (rows(report, on_row) if rows is response_rows else rows(report))


# --- Formats ----------------------------------------------------------------------------------


def csv_value(value: Any) -> Any:
    """A cell as CSV writes it: empty for None, true/false for booleans, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(value)


def stream_csv(
    report: Report, on_row: Callable[[], None] | None = None, part: str = "aggregates"
) -> Iterator[str]:
    """CSV of one part, one header row then data, so it loads as one table: the tidy aggregates
    (one row per group × item × statistic), the raw responses, or the findings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff"  # so spreadsheet programs read the file as UTF-8
    for _, header, rows in _sections(report, on_row, only=part):
        writer.writerow(header)
        for count, row in enumerate(rows, start=1):
            writer.writerow([csv_value(value) for value in row])
            if count % 500 == 0:
                yield flush()
        yield flush()


def _json_response(header: list[str], row: list[Any]) -> dict[str, Any]:
    """A raw row as JSON: a suppressed attribute is null, not a placeholder string."""
    return {key: None if value == SUPPRESSED else value for key, value in zip(header, row, strict=False)}


def _family(report: Report) -> dict[str, Any] | None:
    family = report.family
    if family is None:
        return None
    return {
        "comparisons": family.comparisons,
        "groups_tested": family.groups,
        "family_sizes": family.sizes,
        "perception_gap_comparisons": family.gap_comparisons,
        "min_responses": family.min_responses,
        "adjustment": "Benjamini-Hochberg within each family (organisation: departments and stages; "
        "people: positions, hiring managers, recruiters; perception gaps), q <= 0.05",
    }


def _json_finding(finding: Any) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "dimension": finding.dimension,
        "group": finding.group,
        "compared_with": finding.reference,
        "statement": finding.text,
        "effect_size": None if finding.kind == "theme" else round(finding.effect_size, 3),
        "q_value": finding.q_value,
        "n": finding.count,
        "items": finding.items,
        "quotes": finding.quotes,
    }


def stream_json(report: Report, on_row: Callable[[], None] | None = None) -> Iterator[str]:
    """Typed JSON: {"filters", "min_group_size", "withheld", "family", "findings", "aggregates",
    "responses"}; numbers are numbers, suppressed values null, findings nested objects."""
    head = {
        "filters": report.filters.active(),
        "min_group_size": report.threshold,
        "withheld": report.withheld,
        "anonymous_answers": ANONYMOUS_NOTE,
        "family": _family(report),
        "findings": [_json_finding(finding) for finding in report.findings],
    }
    yield json.dumps(head, ensure_ascii=False)[:-1]
    for name, header, rows in _sections(report, on_row):
        if name == "findings":
            continue
        yield f', "{name}": ['
        for count, row in enumerate(rows):
            record = (
                _json_response(header, row) if name == "responses" else dict(zip(header, row, strict=True))
            )
            yield ("," if count else "") + json.dumps(record, ensure_ascii=False)
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


def write_export(
    fmt: str, report: Report, path: str, on_row: Callable[[], None] | None = None, part: str = "aggregates"
) -> None:
    """Write an export to a file (the CLI); `part` chooses the CSV's table."""
    if fmt == "xlsx":
        write_xlsx(report, path, on_row)
        return
    chunks: Iterable[str] = stream_csv(report, on_row, part) if fmt == "csv" else stream_json(report, on_row)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)


def export_filename(fmt: str, filters: ReportFilters, part: str | None, now: Any) -> str:
    """A download's name carrying what it holds and its filters, e.g.
    debrief-aggregates-department-Sales-from-2026-01-20261129-1320.csv."""
    pieces = ["debrief", part or "report"]
    for name, value in filters.active().items():
        label = name.removesuffix("_id").replace("_", "-").replace("month-", "")
        pieces += [label, re.sub(r"[^A-Za-z0-9]+", "-", str(value)).strip("-") or "x"]
    return "-".join([*pieces, f"{now:%Y%m%d-%H%M}"]) + f".{fmt}"
