"""The migration to question sets as data keeps every existing figure exactly as it was.

tests/fixtures/v1-demo.sql.gz is a dump of a database seeded by
`seed_demo(interviews=400, now=2026-11-01 12:00 UTC)` at 86182fb676eb and upgraded by the code
before question sets (main at fe3ffb1) to its head, 6a2ba6c3b550 (on 2026-11-29: the anonymous
answers of closed months released, the others held); tests/fixtures/v1-demo-export.json is the
JSON export that code wrote from it. Only the question-set revision runs here.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, select

from config import TestingConfig
from survey import create_app
from survey.extensions import db
from survey.models import Invitation, QuestionSetVersion, Response, report_tallies
from survey.reports.export import stream_json
from survey.reports.filters import ReportFilters
from survey.reports.report import build_report
from survey.services.tallies import rebuild_cells

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def migrated_demo_app(tmp_path):
    path = tmp_path / "v1.sqlite"
    connection = sqlite3.connect(path)
    connection.executescript(gzip.decompress((FIXTURES / "v1-demo.sql.gz").read_bytes()).decode("utf-8"))
    connection.close()

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"

    return create_app(Config)


def test_the_v1_data_migration_keeps_the_json_export_identical(tmp_path):
    app = migrated_demo_app(tmp_path)
    with app.app_context():
        upgrade()
        exported = "".join(stream_json(build_report(ReportFilters())))
        before = (FIXTURES / "v1-demo-export.json").read_text(encoding="utf-8")
        assert json.loads(exported)["aggregates"] == json.loads(before)["aggregates"]
        assert json.loads(exported)["findings"] == json.loads(before)["findings"]
        assert exported == before

        # Every response answered the seeded default set, version id 1; issued links show it too.
        assert set(db.session.scalars(select(Response.question_set_version).distinct())) == {1}
        assert db.session.get(QuestionSetVersion, 1).question_set.is_default
        issued = select(func.count()).select_from(Invitation).where(Invitation.issued_at.is_not(None))
        fixed = issued.where(Invitation.question_set_version_id == 1)
        assert db.session.scalar(issued) == db.session.scalar(fixed) > 0

        # The tallies converted from the old columns are what a recount of the responses gives.
        converted = sorted(tuple(row)[1:] for row in db.session.execute(select(report_tallies)))
        rebuild_cells()
        assert sorted(tuple(row)[1:] for row in db.session.execute(select(report_tallies))) == converted
        db.session.remove()
        db.engine.dispose()
