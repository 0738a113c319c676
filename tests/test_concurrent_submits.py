"""Many candidates answering at once through a real WSGI server: one response per link, no 5xx."""

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from processes import Gunicorn, seed_invitations, survey_paths
from sqlalchemy import func, select

from helpers import csrf_token
from survey.extensions import db
from survey.models import Invitation, Response

pytestmark = pytest.mark.slow

FORM = "application/x-www-form-urlencoded"


def open_survey(server: Gunicorn, path: str) -> dict:
    """GET the survey as a browser would: the form's CSRF token (the page sets no cookie)."""
    status, headers, body = server.get(path)
    assert status == 200, body
    assert "Set-Cookie" not in headers
    return {"path": path, "csrf_token": csrf_token(body)}


def submit(server: Gunicorn, visit: dict, start: threading.Barrier):
    """POST answers once every submitter is ready, so they really arrive together."""
    body = urlencode({"csrf_token": visit["csrf_token"], "nps": "9", "fair": "5", "consent": "named"})
    start.wait()
    status, _, page = server.request("POST", visit["path"], body=body, headers={"Content-Type": FORM})
    return status, page


def test_200_candidates_and_50_double_submits_at_once_store_one_response_per_link(app, recruiter):
    ids = seed_invitations(250, recruiter, status="sent")
    with Gunicorn(app, workers=2, threads=8) as server, ThreadPoolExecutor(max_workers=300) as pool:
        visits = list(pool.map(lambda path: open_survey(server, path), survey_paths(ids)))
        # 200 candidates once each, and 50 who press Send twice (two tabs, a double click).
        posts = visits + visits[200:]
        start = threading.Barrier(len(posts))
        results = list(pool.map(lambda visit: submit(server, visit, start), posts))

    statuses = [status for status, _ in results]
    assert statuses.count(200) + statuses.count(303) == 300, sorted(set(statuses))
    thanked = statuses.count(303)  # redirected to the thank-you page
    already = sum(status == 200 and "already have your answers" in page for status, page in results)
    assert (thanked, already) == (250, 50)
    assert db.session.scalar(select(func.count()).select_from(Response)) == 250
    assert db.session.scalar(select(func.count(func.distinct(Response.invitation_id)))) == 250
    completed = select(func.count()).where(Invitation.status == "completed", Invitation.id.in_(ids))
    assert db.session.scalar(completed) == 250


@pytest.fixture
def database_file(app) -> str:
    """The path of the SQLite database file the app writes to (the write turn is for one)."""
    database = db.engine.url.database
    if db.engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        pytest.skip("the write turn is for a SQLite file")
    return database


def test_on_sqlite_an_answer_takes_the_write_turn_that_other_processes_queue_on(
    database_file, make_interview
):
    """While an answer is being written, the lock file every process queues on is held (a lock
    taken through another open file, as another process's would be, is refused), and after the
    commit it is free again."""
    import fcntl
    import os

    from sqlalchemy import event

    from survey.services.responses import submit_response

    invitation = make_interview().invitation
    other = os.open(f"{database_file}.write-lock", os.O_RDWR | os.O_CREAT)
    seen = []

    def try_lock(conn, cursor, statement, *args):
        if (
            statement.lstrip().upper().startswith("UPDATE INVITATIONS")
            and "COMPLETED_AT" in statement.upper()
        ):
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append("held")
            else:
                fcntl.flock(other, fcntl.LOCK_UN)
                seen.append("free")

    event.listen(db.engine, "before_cursor_execute", try_lock)
    try:
        assert submit_response(invitation, {"nps": 9}, "named")
    finally:
        event.remove(db.engine, "before_cursor_execute", try_lock)
    assert seen == ["held"]
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the answer is committed
    os.close(other)


def test_an_answer_that_fails_midway_leaves_neither_the_turn_nor_sqlites_write_lock_held(
    database_file, make_interview
):
    """A database error after the spend (here a trigger refusing the report cell) rolls the answer
    back before the next writer's turn: the next one neither queues behind it nor waits in SQLite's
    busy handler."""
    import sqlite3

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from survey.services.responses import submit_response

    invitation = make_interview().invitation
    db.session.execute(
        text("CREATE TRIGGER refuse_cells BEFORE INSERT ON report_cells BEGIN SELECT RAISE(ABORT, 'no'); END")
    )
    db.session.commit()
    try:
        with pytest.raises(IntegrityError):
            submit_response(invitation, {"nps": 9}, "named")
        other = sqlite3.connect(database_file, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # would say "database is locked" with the answer still open
        other.execute("ROLLBACK")
        other.close()
    finally:
        db.session.rollback()
        db.session.execute(text("DROP TRIGGER refuse_cells"))
        db.session.commit()
    assert db.session.get(Invitation, invitation.id).status == "scheduled"  # the spend rolled back too
