"""Faults with real processes: the SMTP server going away, a worker killed mid-batch, the database down."""

import asyncio
import signal
import threading
from collections import Counter

import pytest
from processes import seed_invitations, start_flask, survey_paths
from sqlalchemy import select, update

from config import TestingConfig
from helpers import CollectingHandler, SmtpServer, csrf_token, make_app
from survey.extensions import db
from survey.models import OutboxMessage, Response, utcnow

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


def send_due_process(app):
    return start_flask(app, "surveys", "send-due", OUTBOX_BATCH_SIZE="20")


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


def test_worker_killed_mid_batch_is_finished_by_a_restarted_worker_repeating_at_most_one(
    app, recruiter, pausing_smtp
):
    seed_invitations(60, recruiter)
    server = pausing_smtp(accept_first=True)
    worker = send_due_process(app)
    assert server.handler.reached.wait(60), worker.communicate(timeout=5)[0]
    in_flight = server.messages[-1]["To"]

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    server.handler.release.set()

    # A restarted worker takes the untouched batch at once; the dead worker's leased batch waits.
    output = send_due_process(app).communicate(timeout=60)[0]
    assert "delivered 20 email(s)" in output, output
    # ... until its lease (OUTBOX_CLAIM_SECONDS) runs out, which we fast-forward here.
    db.session.execute(update(OutboxMessage).values(claimed_until=utcnow()))
    db.session.commit()
    output = send_due_process(app).communicate(timeout=60)[0]
    assert "delivered 16 email(s)" in output, output

    received = Counter(message["To"] for message in server.messages)
    assert len(received) == 60
    assert {to for to, count in received.items() if count > 1} == {in_flight}
    assert received[in_flight] == 2
    db.session.expire_all()
    assert outbox_statuses() == Counter({"sent": 60})


def test_database_down_at_submit_shows_a_retry_page_with_the_answers_kept(app, client, recruiter):
    [path] = survey_paths(seed_invitations(1, recruiter, status="sent"))
    token = csrf_token(client.get(path).get_data(as_text=True))
    cookie = client.get_cookie("session")
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

        down = make_app(DatabaseDown).test_client()
        down.set_cookie("session", cookie.value)
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
    assert client.post(path, data=answers).status_code == 200
