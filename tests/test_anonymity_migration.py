"""The migration moves existing anonymous responses into held or released cohorts, by the rule."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from survey.sealing import unseal

ROOT = Path(__file__).resolve().parent.parent
SECRET = "migration-test-secret-key-0123456789"
BEFORE = "c4e1a7d2f018"  # the revision before the move: responses still hold anonymous answers


def upgrade(url: str, revision: str = "head") -> None:
    env = {"DATABASE_URL": url, "SURVEY_CONFIG": "development", "SECRET_KEY": SECRET, "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade", revision],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def old_form_rows(connection: sqlite3.Connection) -> None:
    """September: 6 anonymous in Engineering, 2 in Legal, 3 named; this month: 1 anonymous."""
    connection.execute(
        "INSERT INTO users (id, email, name, role, password_hash, active, created_at) "
        "VALUES (1, 'r@example.com', 'Rita', 'recruiter', 'x', 1, '2026-01-01 00:00:00')"
    )
    connection.execute("INSERT INTO positions VALUES (1, 'Backend Engineer', 'Engineering', 'Berlin')")
    connection.execute("INSERT INTO positions VALUES (2, 'Counsel', 'Legal', 'Berlin')")
    plan = [("2026-09", 1, "anonymous")] * 6 + [("2026-09", 2, "anonymous")] * 2
    plan += [("2026-09", 1, "named")] * 3 + [("2099-01", 1, "anonymous")]
    for number, (month, position, consent) in enumerate(plan, start=1):
        ends = f"{month}-{number:02d} 10:00:00"
        connection.execute(
            "INSERT INTO candidates (id, name, email, created_at) VALUES (?, ?, ?, ?)",
            (number, f"Cand {number}", f"c{number}@example.org", ends),
        )
        connection.execute(
            "INSERT INTO interviews (id, candidate_id, position_id, recruiter_id, stage, hiring_manager, "
            "interviewers, ends_at, outcome, created_at) VALUES (?, ?, ?, 1, 'Technical', 'Hugo', '[]', ?, "
            "'pending', ?)",
            (number, number, position, ends, ends),
        )
        connection.execute(
            "INSERT INTO invitations (id, interview_id, status, version, send_after, completed_at, "
            "created_at) VALUES (?, ?, 'completed', 1, ?, ?, ?)",
            (number, number, ends, f"{month}-{number:02d} 14:37:21", ends),
        )
        named = consent == "named"
        connection.execute(
            "INSERT INTO responses (id, invitation_id, question_set_version, consent, answers, improve_text, "
            "position_id, position_title, department, stage, hiring_manager, recruiter_id, month, "
            "submitted_at) VALUES (?, ?, 1, ?, ?, NULL, ?, 'T', ?, 'Technical', 'Hugo', 1, ?, ?)",
            (
                f"{number:032x}",
                number if named else None,
                consent,
                json.dumps({"nps": number % 11, "went_well": f"answer {number}"}),
                position,
                "Engineering" if position == 1 else "Legal",
                month,
                f"{month}-{number:02d} 14:37:21" if named else None,
            ),
        )
    connection.commit()


def test_migration_releases_closed_cohorts_seals_the_rest_and_recounts(tmp_path):
    path = tmp_path / "old.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url, BEFORE)
    with sqlite3.connect(path) as connection:
        old_form_rows(connection)
    upgrade(url)

    with sqlite3.connect(path) as connection:
        consents = connection.execute("SELECT consent, count(*) FROM responses GROUP BY consent").fetchall()
        released = connection.execute(
            "SELECT month, department, count(*) FROM anonymous_answers GROUP BY month, department"
        ).fetchall()
        held = [box for (box,) in connection.execute("SELECT sealed FROM held_answers")]
        tallied = connection.execute("SELECT sum(responses) FROM report_cells").fetchone()[0]
        anonymous_tally = connection.execute(
            "SELECT month, department, count FROM anonymous_cells WHERE item = 'responses'"
        ).fetchall()
        times = dict(connection.execute("SELECT id, completed_at FROM invitations").fetchall())
    assert consents == [("named", 3)]
    assert released == [("2026-09", "Engineering", 6)]  # a closed month with k in one department
    # Legal's 2 (below k, waiting) and the open month's 1 are sealed under SECRET_KEY.
    cohorts = sorted((p["month"], p["department"]) for p in (unseal(box, [SECRET]) for box in held))
    assert cohorts == [("2026-09", "Legal"), ("2026-09", "Legal"), ("2099-01", "Engineering")]
    assert tallied == 3  # the report tally counts the named responses only
    assert anonymous_tally == [("2026-09", "Engineering", 6)]  # the released cohort, tallied whole
    assert times[1].endswith("00:00:00.000000") or times[1].endswith("00:00:00")  # anonymous: the day
    assert times[9].endswith("14:37:21")  # named: the time
