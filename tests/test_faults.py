"""Faults with real processes: the SMTP server going away, a worker killed mid-batch, the database down."""

import asyncio
import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest
from processes import (
    Gunicorn,
    HttpSession,
    TempPostgres,
    seed_invitations,
    start_flask,
    survey_paths,
    wait_for,
)
from sqlalchemy import select, text

from config import TestingConfig
from helpers import CollectingHandler, SmtpServer, csrf_token, free_port
from survey import create_app
from survey.extensions import db
from survey.models import OutboxMessage, Response, utcnow
from survey.services.accounts import create_api_key, create_user

pytestmark = pytest.mark.slow


class PausingHandler(CollectingHandler):
    """Holds the connection at the Nth message, so a test can break things mid-batch.

    accept_first: whether the held message counts as received (the server has it, but the
    client never hears "250 OK") or not (it is lost in the connection with the server).
    """

    def __init__(self, pause_at: int, accept_first: bool):
        super().__init__()
        self.pause_at = pause_at
        self.accept_first = accept_first
        self.reached = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if len(self.messages) + 1 == self.pause_at and not self.reached.is_set():
            if self.accept_first:
                await super().handle_DATA(server, session, envelope)
            self.reached.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)  # the event loop keeps serving; the client waits for us
            return "451 try again"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def pausing_smtp(app):
    """An SMTP server on the app's port whose handler pauses at the 25th message."""

    def start(accept_first: bool) -> SmtpServer:
        server = SmtpServer(app.config["MAIL_PORT"])
        server.handler = PausingHandler(pause_at=25, accept_first=accept_first)
        server.start()
        servers.append(server)
        return server

    servers: list[SmtpServer] = []
    yield start
    for server in servers:
        server.handler.release.set()
        server.stop()


def outbox_statuses() -> Counter:
    return Counter(db.session.scalars(select(OutboxMessage.status)))


def send_due_process(app, **env: str):
    return start_flask(app, "surveys", "send-due", OUTBOX_BATCH_SIZE="20", **env)


def test_smtp_server_stopping_mid_batch_loses_nothing_and_sends_each_once_after(app, recruiter, pausing_smtp):
    seed_invitations(60, recruiter)
    server = pausing_smtp(accept_first=False)
    worker = send_due_process(app)
    assert server.handler.reached.wait(60), worker.communicate(timeout=5)[0]

    server.stop()  # mid-batch: message 25 of 60 is on the wire
    output = worker.communicate(timeout=60)[0]

    assert worker.returncode == 1 and "SMTP unavailable" in output, output
    assert len(server.messages) == 24
    db.session.expire_all()
    assert outbox_statuses() == Counter({"sent": 24, "pending": 36})
    assert not db.session.scalars(select(OutboxMessage).where(OutboxMessage.claimed_until.is_not(None))).all()

    server.handler.release.set()
    server.start()
    output = send_due_process(app).communicate(timeout=60)[0]

    assert "delivered 36 email(s)" in output, output
    received = Counter(message["To"] for message in server.messages)
    assert len(received) == 60 and set(received.values()) == {1}


def test_a_sigkilled_workers_batch_is_sent_by_another_worker_when_its_short_lease_runs_out(
    app, recruiter, pausing_smtp
):
    seed_invitations(60, recruiter)
    server = pausing_smtp(accept_first=True)
    worker = send_due_process(app, OUTBOX_CLAIM_SECONDS="3")
    assert server.handler.reached.wait(60), worker.communicate(timeout=5)[0]
    in_flight = server.messages[-1]["To"]

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = utcnow()
    server.handler.release.set()

    # What the dead worker held (the rest of its batch) is leased for at most one short lease.
    db.session.expire_all()
    held = select(OutboxMessage.claimed_until).where(
        OutboxMessage.status == "pending", OutboxMessage.claimed_until.is_not(None)
    )
    leases = db.session.scalars(held).all()
    assert leases and max(leases) <= killed_at + timedelta(seconds=3)

    # A worker left running sends the untouched batch at once, and the dead worker's batch
    # as soon as its lease has run out: nobody fast-forwards anything.
    other = start_flask(app, "worker", "--interval", "1", OUTBOX_BATCH_SIZE="20", OUTBOX_CLAIM_SECONDS="3")
    try:
        wait_for(lambda: len(Counter(m["To"] for m in server.messages)) == 60, 90, "every candidate's email")
    finally:
        other.send_signal(signal.SIGTERM)
        output = other.communicate(timeout=60)[0]

    received = Counter(message["To"] for message in server.messages)
    assert len(received) == 60, output
    assert {to for to, count in received.items() if count > 1} == {in_flight}
    assert received[in_flight] == 2
    db.session.expire_all()
    assert outbox_statuses() == Counter({"sent": 60})


def test_database_down_at_submit_shows_a_retry_page_with_the_answers_kept(app, client, recruiter):
    [path] = survey_paths(seed_invitations(1, recruiter, status="sent"))
    # The form token is bound to the link, so another process (or browser) can post it.
    token = csrf_token(client.get(path).get_data(as_text=True))
    answers = {
        "csrf_token": token,
        "nps": "9",
        "went_well": "Kind & prepared <interviewers>",
        "consent": "named",
    }

    for unreachable in (
        "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
        "sqlite:////nonexistent-dir/debrief.sqlite",
    ):

        class DatabaseDown(TestingConfig):
            SQLALCHEMY_DATABASE_URI = unreachable

        down = create_app(DatabaseDown).test_client()
        page = down.post(path, data=answers)

        html = page.get_data(as_text=True)
        assert page.status_code == 503
        assert "your answers are still here" in html
        assert "Kind &amp; prepared &lt;interviewers&gt;</textarea>" in html
        assert 'value="9" checked' in html or 'checked value="9"' in html
        assert "Traceback" not in html

    with app.app_context():
        assert db.session.scalars(select(Response)).all() == []
    # Once the database is back, the same answers go through.
    assert client.post(path, data=answers).status_code == 303


# --- A real database outage under gunicorn ----------------------------------------------------


@pytest.fixture
def outage_app():
    """The app on a PostgreSQL server of this test's own, which the test stops and starts."""
    if not TempPostgres.available():
        pytest.skip("needs PostgreSQL's server programs (scripts/pg-temp)")
    with TempPostgres() as postgres:

        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = postgres.url
            MAIL_PORT = free_port()

        app = create_app(Config)
        with app.app_context():
            db.create_all()
            yield app, postgres
            db.session.remove()
            db.engine.dispose()


def backend_waiting_on_a_lock(url: str) -> bool:
    """Whether some PostgreSQL backend is blocked waiting for a lock (a request held mid-query)."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as connection:
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return connection.execute(waiting).fetchone()[0] > 0


def assert_unavailable(answer, json_body: bool = False) -> None:
    status, headers, body = answer
    assert status == 503, (status, body[:300])
    assert headers["Retry-After"] == "30"
    assert "Traceback" not in body
    if json_body:
        assert headers["Content-Type"].startswith("application/json") and "unavailable" in body
    else:
        assert "Temporarily unavailable" in body
        assert "Sign out" not in body  # the page was built without looking up the signed-in user


@pytest.mark.postgres
def test_database_outage_answers_503_with_retry_after_on_every_route_signed_in_or_not(outage_app):
    app, postgres = outage_app
    create_user("hilda.hr@example.com", "Hilda HR", "hr", "password-123")
    rita = create_user("rita.recruiter@example.com", "Rita Recruiter", "recruiter", "password-123")
    [interview_id] = seed_invitations(1, rita, status="sent")
    [survey_path] = survey_paths([interview_id])
    _, api_key = create_api_key("ATS")
    db.session.remove()
    db.engine.dispose()  # the test holds no connection of its own into the outage

    with Gunicorn(app, workers=1, threads=4) as server:
        hr, recruiter, visitor = HttpSession(server), HttpSession(server), HttpSession(server)
        hr.sign_in("hilda.hr@example.com", "password-123")
        recruiter.sign_in("rita.recruiter@example.com", "password-123")
        assert hr.get("/reports")[0] == 200 and recruiter.get(f"/interviews/{interview_id}")[0] == 200
        _, _, login_page = visitor.get("/login")
        login_csrf = csrf_token(login_page)

        # The database goes away under a request that is waiting on it (its connection is cut).
        holder = psycopg.connect(postgres.url.replace("postgresql+psycopg", "postgresql"))
        holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(hr.get, "/interviews")
            wait_for(lambda: backend_waiting_on_a_lock(postgres.url), what="the request to wait on the lock")
            postgres.stop()
            assert_unavailable(in_flight.result(timeout=60))
        holder.close()

        # While it is down: every page, signed in or not, answers the same 503.
        for session, path in [
            (hr, "/reports"),
            (hr, "/reports/export.csv"),
            (hr, "/interviews"),
            (hr, "/no-such-page"),
            (recruiter, "/"),
            (recruiter, f"/interviews/{interview_id}"),
            (recruiter, f"/interviews/{interview_id}/debrief"),
            (recruiter, "/leads"),
            (visitor, survey_path),
        ]:
            assert_unavailable(session.get(path))
        form = {"csrf_token": login_csrf, "email": "hilda.hr@example.com", "password": "password-123"}
        assert_unavailable(visitor.request("POST", "/login", form))
        bearer = {"Authorization": f"Bearer {api_key}"}
        assert_unavailable(server.get(f"/api/v1/interviews/{interview_id}", headers=bearer), json_body=True)
        assert_unavailable(server.get("/healthz"), json_body=True)

        # Back again: the very first request succeeds (stale pooled connections are replaced).
        postgres.start()
        assert hr.get("/reports")[0] == 200
        assert recruiter.get(f"/interviews/{interview_id}")[0] == 200

    log = server.output()
    assert "Error handling request" not in log, log
    assert "Traceback" not in log, log


@pytest.mark.postgres
def test_a_connection_cut_after_the_last_query_ends_the_request_quietly_and_the_next_one_works(app):
    """The end-of-request ROLLBACK on a connection the server has just closed is not an error."""
    with app.app_context():  # a request's own context: its teardown removes its session
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
    # Leaving the context above raised nothing; the dead connection was dropped, not reused.
    assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_signed_in_staff_pages_and_the_api_answer_503_not_500_when_the_database_is_unreachable(
    client, recruiter, api_key
):
    from helpers import sign_in

    assert sign_in(client, recruiter.email).status_code == 302
    cookie = client.get_cookie("session")

    class DatabaseDown(TestingConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite:////nonexistent-dir/debrief.sqlite"

    down = create_app(DatabaseDown).test_client()
    down.set_cookie("session", cookie.value)
    for path in ("/", "/interviews", "/interviews/1", "/interviews/1/debrief", "/leads", "/no-such-page"):
        page = down.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 503, (path, page.status_code)
        assert page.headers["Retry-After"] == "30"
        assert "Temporarily unavailable" in html and "Sign out" not in html and "Traceback" not in html
    answer = down.get("/api/v1/interviews/1", headers={"Authorization": f"Bearer {api_key}"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert "unavailable" in answer.get_json()["error"]


def test_a_download_the_database_fails_in_the_middle_of_is_cut_off_not_finished(app):
    """A truncated export must not look complete: the stream resets the connection instead."""
    from sqlalchemy.exc import OperationalError

    from survey.errors import ResponseCutOff, cut_off_on_outage

    def export_rows():
        yield "header\n"
        yield "row 1\n"
        raise OperationalError("SELECT ...", {}, Exception("terminating connection"))

    received = []
    with pytest.raises(ConnectionResetError) as cut:
        for chunk in cut_off_on_outage(export_rows()):
            received.append(chunk)
    assert received == ["header\n", "row 1\n"] and isinstance(cut.value, ResponseCutOff)

    def buggy_rows():
        yield "header\n"
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        list(cut_off_on_outage(buggy_rows()))
