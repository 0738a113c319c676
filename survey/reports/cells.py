"""Keeps report_cells in step with responses: one tally per combination of grouping attributes."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from ..extensions import db
from ..models import CELL_KEYS, Response, report_cells, value_column
from ..questions import CURRENT


def cell_key(response: Response) -> dict[str, Any]:
    """The grouping attributes of a response, as report_cells stores them."""
    return {
        "month": response.month,
        "position_id": response.position_id or 0,
        "position_title": response.position_title,
        "department": response.department or "",
        "stage": response.stage,
        "hiring_manager": response.hiring_manager or "",
        "recruiter_id": response.recruiter_id or 0,
    }


def answered_columns(answers: dict[str, Any]) -> list[str]:
    """The value columns a response's scale answers add one to."""
    return [
        value_column(question.key, answers[question.key])
        for question in CURRENT.scale_questions
        if isinstance(answers.get(question.key), int) and answers[question.key] in question.values
    ]


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> tuple[Insert, tuple[str, ...]]:
    """One fixed-shape upsert per database, so SQLAlchemy compiles it once, not per response."""
    value_columns = tuple(value_column(q.key, value) for q in CURRENT.scale_questions for value in q.values)
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(report_cells)
    counted = ("responses", *value_columns)
    statement = statement.on_conflict_do_update(
        index_elements=list(CELL_KEYS),
        set_={column: report_cells.c[column] + statement.excluded[column] for column in counted},
    )
    return statement, value_columns


def record_response(response: Response) -> None:
    """Count a new response in its cell (same transaction as the response; caller commits)."""
    statement, value_columns = _upsert(db.session.get_bind().dialect.name)
    answered = set(answered_columns(response.answers))
    row = {column: int(column in answered) for column in value_columns}
    db.session.connection().execute(statement, {**cell_key(response), "responses": 1, **row})


def rebuild_cells() -> int:
    """Recount every cell from the responses, in SQL; returns the number of cells. Commits."""
    scores = {q.key: Response.answers[q.key].as_integer() for q in CURRENT.scale_questions}
    source = select(
        Response.month,
        func.coalesce(Response.position_id, 0).label("position_id"),
        Response.position_title,
        func.coalesce(Response.department, "").label("department"),
        Response.stage,
        func.coalesce(Response.hiring_manager, "").label("hiring_manager"),
        func.coalesce(Response.recruiter_id, 0).label("recruiter_id"),
        *(score.label(key) for key, score in scores.items()),
    ).subquery()
    value_columns = [
        (value_column(q.key, value), func.sum(case((source.c[q.key] == value, 1), else_=0)))
        for q in CURRENT.scale_questions
        for value in q.values
    ]
    tallies = select(
        *(source.c[key] for key in CELL_KEYS),
        func.count().label("responses"),
        *(expression.label(name) for name, expression in value_columns),
    ).group_by(*(source.c[key] for key in CELL_KEYS))
    db.session.execute(delete(report_cells))
    db.session.execute(
        insert(report_cells).from_select([*CELL_KEYS, "responses", *(n for n, _ in value_columns)], tallies)
    )
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(report_cells)) or 0
