"""Several sending workers at once, as separate processes, against a real SMTP server."""

import asyncio
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from processes import seed_invitations, start_flask, wait_for
from sqlalchemy import func, select

from helpers import CollectingHandler, SmtpServer, free_port
from survey.extensions import db
from survey.models import Invitation, OutboxMessage, utcnow
from survey.services.invitations import issue_due_invitations, send_due
from survey.services.outbox import Lease, claim_batch, deliver_outbox, release_claims

pytestmark = pytest.mark.slow


def run_workers(app, count: int, **env: str) -> list[str]:
    """Run `surveys send-due` in `count` processes at once; their outputs."""
    processes = [start_flask(app, "surveys", "send-due", **env) for _ in range(count)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    return outputs


def delivered_per_candidate(smtp_server) -> Counter:
    return Counter(message["To"] for message in smtp_server.messages)


class MeetingHandler(CollectingHandler):
    """An SMTP server that accepts no message until `workers` connections are waiting with one at once.

    A worker process sends over one connection, one message at a time, so that many connections
    waiting together are that many workers delivering at the same moment: the overlap the test is
    about is made to happen, not hoped for. After the meeting every message goes straight through.
    """

    def __init__(self, workers: int, patience: float = 240):
        super().__init__()
        self.workers = workers
        self.patience = patience
        self.waiting: set[tuple] = set()
        self.met: asyncio.Event | None = None
        self.gave_up = False

    async def handle_DATA(self, server, session, envelope):
        if self.met is None:
            self.met = asyncio.Event()  # made on the server's own event loop
        if not self.met.is_set():
            self.waiting.add(session.peer)
            if len(self.waiting) >= self.workers:
                self.met.set()
            try:
                await asyncio.wait_for(self.met.wait(), self.patience)
            except TimeoutError:
                self.gave_up = True
                return "421 the other workers never came"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def meeting_smtp_server():
    """An SMTP server on loopback that holds mail until three workers are delivering at once."""
    server = SmtpServer(free_port())
    server.handler = MeetingHandler(workers=3)
    server.start()
    yield server
    server.stop()


def test_three_workers_at_once_send_each_of_500_invitations_exactly_once(app, recruiter, meeting_smtp_server):
    ids = seed_invitations(500, recruiter)

    # The server holds the first messages until all three workers are mid-delivery together, so
    # each waits on the others (a long socket timeout, and a lease nobody needs to take over).
    outputs = run_workers(
        app,
        3,
        MAIL_PORT=str(meeting_smtp_server.port),
        OUTBOX_BATCH_SIZE="20",
        MAIL_TIMEOUT_SECONDS="300",
        OUTBOX_CLAIM_SECONDS="900",
    )

    handler = meeting_smtp_server.handler
    assert not handler.gave_up and len(handler.waiting) == 3, outputs
    received = delivered_per_candidate(meeting_smtp_server)
    assert len(received) == 500
    assert set(received.values()) == {1}
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 500
    statuses = db.session.scalars(select(Invitation.status).where(Invitation.id.in_(ids)))
    assert set(statuses) == {"sent"}


@pytest.mark.postgres
def test_a_claimed_batch_is_skipped_not_waited_for_by_another_process(app, recruiter):
    """Row locks, not luck: while one transaction holds a batch, another claims the next one."""
    seed_invitations(10, recruiter)
    issue_due_invitations(utcnow())
    app.config["OUTBOX_BATCH_SIZE"] = 4
    holder = db.engine.connect()
    locked = holder.execute(
        select(OutboxMessage.id).order_by(OutboxMessage.id).limit(4).with_for_update()
    ).scalars()
    held = set(locked)

    claimed = {message.id for message in claim_batch(Lease(utcnow))}

    holder.rollback()
    holder.close()
    assert len(claimed) == 4 and not claimed & held


class PacedHandler(CollectingHandler):
    """A slow SMTP server: each message takes at least `pace` seconds, and its arrival time is noted."""

    def __init__(self, pace: float):
        super().__init__()
        self.pace = pace
        self.arrivals: list[float] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.pace)  # the slowness under test, not a wait for the test's sake
        self.arrivals.append(time.monotonic())
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp_servers():
    """Two slow SMTP servers on loopback (0.4 s a message), one for each worker."""
    servers = [SmtpServer(free_port()), SmtpServer(free_port())]
    for server in servers:
        server.handler = PacedHandler(pace=0.4)
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_two_workers_in_passes_slower_than_their_lease_never_send_a_message_twice(
    app, recruiter, slow_smtp_servers
):
    """Each pass outlasts the 6 s lease twice over; with one moment per pass (or a lease
    that nobody renews) the other worker would take over batches still being sent."""
    seed_invitations(108, recruiter)
    env = {"OUTBOX_BATCH_SIZE": "36", "OUTBOX_CLAIM_SECONDS": "6"}
    workers = [
        start_flask(app, "worker", "--interval", "1", MAIL_PORT=str(server.port), **env)
        for server in slow_smtp_servers
    ]
    try:
        wait_for(lambda: sum(len(s.handler.messages) for s in slow_smtp_servers) >= 108, 180, "every email")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]

    # Both worked, and the sending really outlasted the lease (by the servers' own clocks).
    assert all(server.handler.messages for server in slow_smtp_servers), outputs
    arrivals = sorted(t for server in slow_smtp_servers for t in server.handler.arrivals)
    assert arrivals[-1] - arrivals[0] > 2 * 6, outputs
    received = sum((delivered_per_candidate(server) for server in slow_smtp_servers), Counter())
    assert len(received) == 108 and set(received.values()) == {1}
    db.session.expire_all()
    assert set(db.session.scalars(select(OutboxMessage.status))) == {"sent"}


def test_sent_and_issued_times_are_read_when_they_happen_not_once_per_pass(app, recruiter, smtp_server):
    ids = seed_invitations(30, recruiter)

    send_due()  # a real pass on the real clock

    messages = db.session.scalars(select(OutboxMessage)).all()
    assert len(messages) == 30
    assert all(message.sent_at >= message.created_at for message in messages)
    invitations = db.session.scalars(select(Invitation).where(Invitation.id.in_(ids))).all()
    assert all(invitation.sent_at >= invitation.issued_at for invitation in invitations)


def test_a_claim_whose_lease_ran_out_and_was_taken_over_neither_sends_nor_records_nor_releases_it(
    app, recruiter
):
    seed_invitations(5, recruiter)
    issue_due_invitations(utcnow())
    moment = [utcnow()]
    clock = lambda: moment[0]  # noqa: E731  (a clock the test moves by hand)

    stalled = Lease(clock)
    batch = claim_batch(stalled)
    assert stalled.fresh()
    moment[0] += stalled.length + timedelta(seconds=1)  # the first worker stalled past its lease ...
    taker = Lease(clock)
    taken = claim_batch(taker)  # ... so another worker took the batch over

    assert [m.id for m in taken] == [m.id for m in batch]
    assert not stalled.fresh()  # so it stops before its next message
    message = batch[0]
    message.status = "sent"  # what it would record after a send that stalled past its lease
    assert not stalled.still_holds(message)
    release_claims(batch, stalled)  # giving back the rest leaves the new holder's rows alone
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert {row.claimed_by for row in rows} == {taker.token} and {row.status for row in rows} == {"pending"}


def test_a_batch_is_given_back_and_claimed_afresh_after_a_quarter_of_its_lease(app, recruiter, smtp_server):
    """So the oldest due mail (a dead worker's, once its lease ends) never waits behind a long batch."""
    seed_invitations(6, recruiter)
    issue_due_invitations(utcnow())
    moment = [utcnow()]

    def clock():
        moment[0] += timedelta(seconds=6)  # every reading: a tenth of the 60-second lease later
        return moment[0]

    report = deliver_outbox(clock)

    assert report.sent == 6 and report.batches > 1  # more than one claim for six messages
    assert len(smtp_server.handler.messages) == 6
