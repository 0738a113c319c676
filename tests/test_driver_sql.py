"""Statements prepared once as the driver's own SQL (survey/driver_sql.py) write exactly what
SQLAlchemy's own execution of the same statement writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, insert, select

from survey.driver_sql import per_database, prepare
from survey.extensions import db
from survey.models import Candidate, Response, report_month_tallies
from survey.services.tallies import _tally_upsert

ANSWERS = {"nps": 9, "went_well": 'Clear agenda, "quoted" and ünïcode', "fair": None}


def response_row(number: int, submitted_at: datetime) -> dict:
    return {
        "id": f"{number:032x}",
        "invitation_id": None,
        "question_set_version": 1,
        "consent": "named",
        "answers": ANSWERS,
        "improve_text": None,
        "position_id": None,
        "position_title": "Engineer",
        "department": "",
        "stage": "Technical",
        "hiring_manager": "",
        "recruiter_id": None,
        "month": "2026-11",
        "submitted_at": submitted_at,
    }


def test_a_prepared_insert_stores_what_sqlalchemy_stores(app):
    # An aware time in another zone: the column type turns it into naive UTC on the way in.
    submitted_at = datetime(2026, 11, 29, 21, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    connection = db.session.connection()
    connection.execute(insert(Response.__table__), response_row(1, submitted_at))
    row = response_row(2, submitted_at)
    prepare(insert(Response.__table__), connection.dialect, tuple(row)).execute(connection, row)
    db.session.commit()
    stored = db.session.execute(
        select(Response.id, Response.answers, Response.submitted_at, Response.improve_text).order_by(
            Response.id
        )
    ).all()
    assert [tuple(found[1:]) for found in stored] == [(ANSWERS, submitted_at.astimezone(UTC), None)] * 2


def test_a_responses_answers_are_counted_in_each_tally_table_by_one_statement_and_add_up(app):
    connection = db.session.connection()
    upsert = _tally_upsert(connection.dialect, 2)  # the per-month tallies: month, item, value
    # A choice option may hold any text: quotes, backslashes, accents reach the table as they are.
    for values in (("9", "3", 'Très "bien" \\ ok'), ("9",), ()):
        answers = json.dumps([{"item": "nps", "value": value} for value in values])
        upsert.execute(connection, {"month": "2026-11", "answers": answers})
    db.session.commit()
    counts = db.session.execute(
        select(report_month_tallies.c.value, report_month_tallies.c["count"]).order_by(
            report_month_tallies.c.value
        )
    ).all()
    assert [tuple(found) for found in counts] == [("3", 1), ("9", 2), ('Très "bien" \\ ok', 1)]


def test_prepared_statements_are_kept_per_kind_of_database_not_per_engine(app):
    built = []

    @per_database
    def statement(dialect):
        built.append(dialect)
        return prepare(insert(report_month_tallies), dialect, ("month", "item", "value", "count"))

    other_engine = create_engine(db.engine.url)
    with other_engine.connect():  # a first connection tells the dialect the server's version
        pass
    other_engine.dispose()
    assert other_engine.dialect is not db.engine.dialect
    first, again = statement(db.engine.dialect), statement(other_engine.dialect)
    assert first is again and len(built) == 1


def test_statements_that_need_sqlalchemy_at_each_execution_are_refused(app):
    dialect = db.engine.dialect
    # Response.id has a Python-side default (a random id), made by SQLAlchemy per execution.
    with pytest.raises(ValueError, match="Python-side column defaults"):
        prepare(insert(Response.__table__), dialect, ("consent", "stage"))
    # An expanding IN list is rendered anew for each execution's list.
    with pytest.raises(ValueError, match="expanding IN"):
        prepare(select(Candidate.id).where(Candidate.id.in_([1, 2])), dialect, ())
