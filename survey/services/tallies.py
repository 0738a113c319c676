"""Keeps report_cells and report_tallies in step with responses.

report_cells counts responses per combination of grouping attributes; report_tallies counts, per
such combination, how many answered each value of each item (long form, so any item of any
question-set version is counted without a schema change). Items are tallied by key: a key has one
type everywhere, so answers to one key pool across versions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    String,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from ..driver_sql import DriverStatement, per_database, prepare
from ..extensions import db
from ..models import (
    CELL_KEYS,
    GROUP_KEYS,
    QuestionSetVersion,
    Response,
    report_cells,
    report_group_tallies,
    report_month_tallies,
    report_tallies,
    report_text_facts,
)
from ..questions import QuestionSet
from .report_facts import fill_text_facts, rebuild_facts, record_improve_text, record_response_facts

TALLY_KEYS = (*CELL_KEYS, "item", "value")
# Each tally table and the keys it counts by: per cell, over all months, per month.
TALLY_TABLES = (
    (report_tallies, TALLY_KEYS),
    (report_group_tallies, (*GROUP_KEYS, "item", "value")),
    (report_month_tallies, ("month", "item", "value")),
)


def cell_key(response: Mapping[str, Any]) -> dict[str, Any]:
    """The grouping attributes of a response row (column → value), as report_cells stores them."""
    return {
        "month": response["month"],
        "position_id": response["position_id"] or 0,
        "position_title": response["position_title"],
        "department": response["department"] or "",
        "stage": response["stage"],
        "hiring_manager": response["hiring_manager"] or "",
        "recruiter_id": response["recruiter_id"] or 0,
    }


def tallied_answers(answers: dict[str, Any], questions: QuestionSet) -> list[tuple[str, str]]:
    """(item, value) of each answer that is counted: every answered item but free text."""
    return [
        (question.key, str(answers[question.key]))
        for question in questions.questions
        if question.kind != "text" and answers.get(question.key) in question.values
    ]


def _insert(dialect: str, table: Any) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@per_database
def _cell_upsert(dialect: Dialect) -> DriverStatement:
    """The cell's upsert, compiled once per database (see driver_sql.py)."""
    statement = _insert(dialect.name, report_cells)
    statement = statement.on_conflict_do_update(
        index_elements=list(CELL_KEYS),
        set_={"responses": report_cells.c.responses + statement.excluded.responses},
    )
    return prepare(statement, dialect, (*CELL_KEYS, "responses"))


@per_database
def _tally_upsert(dialect: Dialect, table_index: int) -> DriverStatement:
    """Count all of a response's answers in one tally table with one statement: the answers come
    as one JSON array of {"item", "value"} pairs, unnested by the database, each pair upserted.

    One statement rather than an executemany of a row per answer: under several threads every
    call into the database driver hands the interpreter to another thread and waits to get it
    back, and an executemany makes that call once per row. Compiled once per database."""
    table, keys = TALLY_TABLES[table_index]
    grouping = [key for key in keys if key not in ("item", "value")]
    if dialect.name == "postgresql":
        answers = (
            func.json_to_recordset(cast(bindparam("answers", type_=String), JSON))
            .table_valued(column("item", String), column("value", String))
            .render_derived(name="answers", with_types=True)
        )
        item, value = answers.c.item, answers.c.value
    else:
        answers = func.json_each(bindparam("answers", type_=String)).table_valued("value").alias("answers")
        item, value = (
            func.json_extract(answers.c.value, "$.item"),
            func.json_extract(answers.c.value, "$.value"),
        )
    counted = select(
        *(bindparam(key, type_=table.c[key].type) for key in grouping), item, value, literal_column("1")
    ).select_from(answers)
    # `WHERE true`: without a WHERE, SQLite would read the upsert's ON CONFLICT as a join clause.
    statement = _insert(dialect.name, table).from_select(
        [*grouping, "item", "value", "count"], counted.where(true())
    )
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={"count": table.c["count"] + statement.excluded["count"]},
    )
    return prepare(statement, dialect)


@dataclass(frozen=True)
class ResponseCounts:
    """What a new response adds to the report tallies: its cell (the grouping values and its one
    response), and its counted answers as the JSON array the tally upserts unnest (None: none).
    Worked out before the answer's write turn, so that inside it only the statements run."""

    cell: dict[str, Any]
    answers: str | None


def response_counts(response: Mapping[str, Any], questions: QuestionSet) -> ResponseCounts:
    """The counts of a new response (its row, column → value)."""
    # In one order, whoever answers: two transactions updating the same tally rows then take
    # their row locks in the same order (PostgreSQL), and cannot deadlock on them.
    tallied = sorted(tallied_answers(response["answers"], questions))
    answers = json.dumps([{"item": item, "value": value} for item, value in tallied]) if tallied else None
    return ResponseCounts({**cell_key(response), "responses": 1}, answers)


def record_response(
    connection: Connection, response: Mapping[str, Any], counts: ResponseCounts, standing: Any = None
) -> None:
    """Count a new response (the row just inserted, column → value) in its cell and tallies (same
    transaction as the response; caller commits); `standing`: its interview's outcome and whether
    it has a debrief, if already read. A row, not an ORM object: the answer's hot path builds none."""
    dialect = connection.dialect
    _cell_upsert(dialect).execute(connection, counts.cell)
    # Its outcome and perception-gap facts, when its interview already has an outcome or a debrief,
    # and its `improve` answer among the themes' texts.
    record_response_facts(connection, response["id"], response["invitation_id"], standing)
    record_improve_text(connection, counts.cell, response["consent"], response.get("improve_text"))
    if counts.answers is None:
        return
    for table_index, (_, keys) in enumerate(TALLY_TABLES):
        values = {key: counts.cell[key] for key in keys if key in counts.cell}
        _tally_upsert(dialect, table_index).execute(connection, {**values, "answers": counts.answers})


def counted_items() -> dict[str, str]:
    """Every tallied item key of every stored version, with its type."""
    items: dict[str, str] = {}
    for document in db.session.scalars(select(QuestionSetVersion.document).order_by(QuestionSetVersion.id)):
        for item in document.get("questions", []):
            if item["type"] != "text":
                items.setdefault(item["key"], item["type"])
    return items


def _grouping_columns(source: Any) -> list[Any]:
    return [
        source.month,
        func.coalesce(source.position_id, 0).label("position_id"),
        source.position_title,
        func.coalesce(source.department, "").label("department"),
        source.stage,
        func.coalesce(source.hiring_manager, "").label("hiring_manager"),
        func.coalesce(source.recruiter_id, 0).label("recruiter_id"),
    ]


def roll_up_tallies(connection: Any) -> None:
    """Fill the rolled-up tallies (over all months, per month) from report_tallies, in SQL."""
    for table, keys in TALLY_TABLES[1:]:
        columns = [report_tallies.c[name] for name in keys]
        summed = select(*columns, func.sum(report_tallies.c["count"])).group_by(*columns)
        connection.execute(insert(table).from_select([*keys, "count"], summed))


def rebuild_cells() -> int:
    """Recount every cell and tally from the responses, and every report fact (report_facts.py), in SQL;
    returns the number of cells. Commits."""
    db.session.execute(delete(report_cells))
    for table, _ in TALLY_TABLES:
        db.session.execute(delete(table))
    # Grouped over a subquery's columns: PostgreSQL matches GROUP BY to the select list by name.
    rows = select(*_grouping_columns(Response), Response.answers).subquery()
    keys = [rows.c[name] for name in CELL_KEYS]
    cells = select(*keys, func.count().label("responses")).group_by(*keys)
    db.session.execute(insert(report_cells).from_select([*CELL_KEYS, "responses"], cells))
    parts = []
    for key, kind in counted_items().items():
        answer = rows.c.answers[key]
        value = cast(answer.as_integer(), String) if kind in ("nps", "scale") else answer.as_string()
        source = select(*keys, value.label("value")).subquery()
        grouping = [source.c[name] for name in (*CELL_KEYS, "value")]
        parts.append(
            select(*grouping[:-1], literal(key).label("item"), grouping[-1], func.count())
            .where(source.c.value.is_not(None))
            .group_by(*grouping)
        )
    if parts:
        db.session.execute(insert(report_tallies).from_select([*TALLY_KEYS, "count"], union_all(*parts)))
    roll_up_tallies(db.session.connection())
    db.session.execute(delete(report_text_facts))  # they point at the scopes rebuild_facts renews
    rebuild_facts(db.session.connection())
    fill_text_facts(db.session.connection())
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(report_cells)) or 0
