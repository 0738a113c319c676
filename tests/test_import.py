"""CSV import: good rows stored, bad rows reported by line, re-import adds nothing."""

from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Interview, Invitation

HEADER = (
    "candidate_name,candidate_email,candidate_external_id,position_title,department,location,"
    "stage,hiring_manager,interviewers,recruiter_email,starts_at,ends_at,external_id\n"
)
GOOD_1 = (
    "Ann Able,ann@example.org,,Backend Engineer,Engineering,Berlin,Technical,Hugo,Ines;Ivo,"
    "rita.recruiter@example.com,2026-11-20T09:00:00Z,2026-11-20T10:00:00Z,\n"
)
BAD_EMAIL = (
    "Bob Bad,not-an-email,,Backend Engineer,Engineering,Berlin,Technical,,,"
    "rita.recruiter@example.com,,2026-11-20T10:00:00Z,\n"
)
BAD_DATE = "Cy Late,cy@example.org,,Designer,Design,,Onsite,,,rita.recruiter@example.com,,soon,\n"
GOOD_2 = (
    "Dee Done,dee@example.org,C-9,Designer,Design,,Onsite,,,rita.recruiter@example.com,,"
    "2026-11-21T15:00:00+01:00,ats-77\n"
)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def write(tmp_path, text: str):
    path = tmp_path / "interviews.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_bad_rows_are_reported_by_line_and_good_rows_kept(runner, recruiter, tmp_path):
    path = write(tmp_path, HEADER + GOOD_1 + BAD_EMAIL + BAD_DATE + GOOD_2)
    result = runner.invoke(args=["interviews", "import", path])
    assert result.exit_code == 1
    assert "line 3: candidate_email: Not a valid email address" in result.output
    assert "line 4: ends_at: Must be an ISO 8601" in result.output
    assert "2 created, 0 already present, 2 rejected" in result.output
    assert count(Interview) == 2
    assert count(Invitation) == 2
    imported = db.session.scalar(select(Interview).where(Interview.external_id == "ats-77"))
    assert imported.ends_at.hour == 14  # +01:00 stored as UTC
    first = db.session.scalar(select(Interview).where(Interview.external_id.is_(None)))
    assert first.interviewers == ["Ines", "Ivo"]


def test_importing_the_same_file_twice_creates_nothing_new(runner, recruiter, tmp_path):
    path = write(tmp_path, HEADER + GOOD_1 + GOOD_2)
    assert runner.invoke(args=["interviews", "import", path]).exit_code == 0
    again = runner.invoke(args=["interviews", "import", path])
    assert again.exit_code == 0
    assert "0 created, 2 already present, 0 rejected" in again.output
    assert count(Interview) == 2


def test_missing_required_column_stops_with_a_message(runner, recruiter, tmp_path):
    path = write(tmp_path, "candidate_name,candidate_email\nAnn,ann@example.org\n")
    result = runner.invoke(args=["interviews", "import", path])
    assert result.exit_code != 0
    assert "missing column(s): position_title, stage, recruiter_email, ends_at" in result.output
    assert count(Interview) == 0


def test_row_with_extra_cells_is_rejected(runner, recruiter, tmp_path):
    path = write(tmp_path, HEADER + GOOD_1.rstrip("\n") + ",surplus\n" + GOOD_2)
    result = runner.invoke(args=["interviews", "import", path])
    assert "line 2: more cells than columns in the header" in result.output
    assert count(Interview) == 1


def test_row_that_is_not_utf8_is_reported_and_the_rest_imported(runner, recruiter, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        HEADER.encode() + GOOD_1.replace("Ann Able", "Ann Äble").encode("latin-1") + GOOD_2.encode()
    )
    result = runner.invoke(args=["interviews", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: not valid UTF-8 text" in result.output
    assert count(Interview) == 1
