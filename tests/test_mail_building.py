"""How emails are built and delivered: one multipart message per outbox row, and delivery over
MAIL_CONNECTIONS parallel SMTP connections with every outcome recorded once."""

import asyncio
import sys
import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.header import decode_header, make_header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from flask_mail import sanitize_address
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from helpers import CollectingHandler, survey_link, text_part
from survey.extensions import db
from survey.models import Candidate, Invitation, InvitationStatus, OutboxMessage, OutboxStatus, utcnow
from survey.reports.fact_sums import scope_keys
from survey.services.invitations import cancel_invitation, issue_due_invitations, resend_invitation, send_due
from survey.services.outbox import (
    _sanitized_recipient,
    clock_from,
    deliver_outbox,
    enqueue,
    write_alternative,
)
from survey.services.tallies import rebuild_cells

CONTEXT = {
    "candidate_name": "x",
    "position_title": "x",
    "stage": "x",
    "survey_url": "http://localhost/s/x",
    "opt_out_url": "http://localhost/s/x/opt-out",
    "is_reminder": False,
}


def test_an_invitation_is_one_multipart_alternative_with_its_headers_encoded_once(
    app, make_interview, smtp_server
):
    app.config["COMPANY_NAME"] = "Ünïcode Größe GmbH"
    interview = make_interview(candidate={"name": "Zoë Ölmann", "email": "zoe@example.org"})
    send_due(now=interview.ends_at + timedelta(hours=3))
    [envelope] = smtp_server.handler.envelopes
    raw = envelope.content
    assert raw.count(b"\n") == raw.count(b"\r\n")  # SMTP line endings throughout
    message = message_from_bytes(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.get_payload()] == ["text/plain", "text/html"]
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject == "How was your Technical interview, Zoë?"
    assert str(make_header(decode_header(message["From"]))).startswith("Ünïcode Größe GmbH <")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["To"] == "zoe@example.org"
    row = db.session.scalar(select(OutboxMessage))
    assert message["Message-ID"] == row.message_id
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Zoë" in text_part(message)


def test_an_extra_header_with_a_line_break_makes_the_email_unsendable(app, smtp_server):
    headers = {"X-Note": "a\r\nBcc: b@x"}
    enqueue("notice", "a@example.org", "Hello", "survey_invitation", CONTEXT, headers=headers)
    db.session.commit()
    report = deliver_outbox()
    assert smtp_server.messages == []
    row = db.session.scalar(select(OutboxMessage))
    assert (row.status, report.dead) == ("dead", 1)
    assert row.last_error.startswith("unsendable")


def test_four_connections_deliver_each_invitation_once_and_mark_it_sent(app, make_interview, smtp_server):
    app.config.update(MAIL_CONNECTIONS=4, OUTBOX_BATCH_SIZE=10)
    interviews = [make_interview() for _ in range(12)]
    summary = send_due(now=interviews[-1].ends_at + timedelta(hours=3))
    assert (summary.delivery.sent, summary.delivery.batches) == (12, 2)
    assert smtp_server.handler.connections == 4 + 2  # four for the batch of 10, two for the last 2
    received = Counter(message["To"] for message in smtp_server.messages)
    assert received == Counter({interview.candidate.email: 1 for interview in interviews})
    statuses = db.session.scalars(select(Invitation.status)).all()
    assert statuses == ["sent"] * 12
    assert set(db.session.scalars(select(OutboxMessage.status))) == {"sent"}


def test_a_refusal_on_one_of_several_connections_is_recorded_for_that_message_only(
    app, make_interview, smtp_server
):
    app.config["MAIL_CONNECTIONS"] = 3
    interviews = [make_interview() for _ in range(6)]
    refused = interviews[2].candidate.email
    smtp_server.handler.refuse[refused] = "550 No such user"
    summary = send_due(now=interviews[-1].ends_at + timedelta(hours=3))
    assert (summary.delivery.sent, summary.delivery.dead) == (5, 1)
    assert db.session.scalar(select(Candidate.bounced_at).where(Candidate.email == refused)) is not None
    assert {m["To"] for m in smtp_server.messages} == {i.candidate.email for i in interviews} - {refused}


def test_with_the_server_down_parallel_delivery_loses_nothing_and_sends_each_once_after(
    app, make_interview, smtp_server
):
    app.config["MAIL_CONNECTIONS"] = 4
    interviews = [make_interview() for _ in range(5)]
    smtp_server.stop()
    down = send_due(now=interviews[-1].ends_at + timedelta(hours=3))
    assert down.delivery.smtp_error and down.delivery.sent == 0
    assert set(db.session.scalars(select(OutboxMessage.status))) == {"pending"}
    smtp_server.start()
    report = deliver_outbox(clock_from(interviews[-1].ends_at + timedelta(hours=4)))
    assert report.sent == 5
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(i.candidate.email for i in interviews)


def test_parallel_delivery_gives_a_batch_back_after_a_quarter_of_its_lease_and_sends_each_once(
    app, make_interview, smtp_server
):
    """As in turn: no message is started once the lease is not fresh; the rest is claimed afresh."""
    app.config["MAIL_CONNECTIONS"] = 3
    interviews = [make_interview() for _ in range(9)]
    issue_due_invitations(interviews[-1].ends_at + timedelta(hours=3))
    moment = [utcnow()]

    def clock():
        moment[0] += timedelta(seconds=6)  # every reading: a tenth of the 60-second lease later
        return moment[0]

    report = deliver_outbox(clock)

    assert report.sent == 9 and report.batches > 1
    assert delivered(smtp_server) == Counter({interview.candidate.email: 1 for interview in interviews})
    assert set(db.session.scalars(select(OutboxMessage.status))) == {"sent"}


class TakeOverOnFirstMessage(CollectingHandler):
    """While the first message is being sent, its lease runs out and another worker claims
    every row (as a stalled worker's batch is taken over)."""

    def __init__(self, engine, moment):
        super().__init__()
        self.engine, self.moment, self.taken = engine, moment, False

    async def handle_DATA(self, server, session, envelope):
        if not self.taken:
            self.taken = True
            self.moment[0] += timedelta(minutes=5)
            with self.engine.begin() as connection:
                connection.execute(
                    OutboxMessage.__table__.update().values(
                        claimed_by="another-worker", claimed_until=self.moment[0] + timedelta(minutes=1)
                    )
                )
        return await super().handle_DATA(server, session, envelope)


def test_parallel_delivery_records_nothing_for_messages_another_worker_took_over(
    app, make_interview, smtp_server
):
    app.config["MAIL_CONNECTIONS"] = 2
    interviews = [make_interview() for _ in range(6)]
    issue_due_invitations(interviews[-1].ends_at + timedelta(hours=3))
    moment = [utcnow()]
    smtp_server.handler = handler = TakeOverOnFirstMessage(db.engine, moment)
    smtp_server.stop()
    smtp_server.start()

    report = deliver_outbox(lambda: moment[0], max_batches=1)

    # What was already in flight went out, but its outcome is the new holder's to record; the
    # rest was neither started nor given back (the rows are no longer this worker's).
    assert report.sent == 0 and report.taken_over == len(handler.messages) >= 1
    assert len(handler.messages) < 6
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert {(row.status, row.claimed_by) for row in rows} == {("pending", "another-worker")}


class HoldFirstMessage(CollectingHandler):
    """Keeps the first message's DATA unanswered until delivery can go no further without it;
    then counts the messages the server has taken that the database does not record as sent:
    what a crash at that moment would send again."""

    def __init__(self, engine, delivering_thread: int):
        super().__init__()
        self.engine, self.delivering_thread = engine, delivering_thread
        self.unrecorded_while_held: int | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.unrecorded_while_held is None:
            self.unrecorded_while_held = -1  # holding
            for _ in range(2000):  # a bound, so that a fault fails the test rather than hanging it
                if self._blocked_on_the_held_message():
                    break
                await asyncio.sleep(0.005)
            with self.engine.connect() as connection:
                recorded = connection.scalar(
                    select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)
                )
            self.unrecorded_while_held = len(self.messages) - recorded
        return await super().handle_DATA(server, session, envelope)

    def _blocked_on_the_held_message(self) -> bool:
        """Whether the delivering thread waits on an exchange that has not finished while every
        other exchange handed over has: then it can only be waiting on the held one.

        A state, not a moment: nothing changes until the held message is answered, so the count
        taken then does not depend on how the threads were scheduled. Read from the delivering
        thread's frames, because the pool's threads may take a handed-over exchange late.
        """
        frame = sys._current_frames().get(self.delivering_thread)
        waiting_on, in_flight = None, None
        while frame is not None:
            if frame.f_code.co_name == "_record_exchange":
                waiting_on = frame.f_locals["exchange"]
            elif frame.f_code.co_name == "_send_in_parallel":
                in_flight = frame.f_locals["in_flight"]
            frame = frame.f_back
        if waiting_on is None or in_flight is None or waiting_on.done():
            return False
        return all(future.done() for _, future in list(in_flight))


def test_parallel_delivery_has_at_most_one_unrecorded_message_per_connection(
    app, make_interview, smtp_server
):
    """Each message handed to a connection is recorded before another is handed over, so that a
    crash repeats at most one email per connection, while every connection is kept busy."""
    connections = 3
    app.config["MAIL_CONNECTIONS"] = connections
    interviews = [make_interview() for _ in range(9)]
    issue_due_invitations(interviews[-1].ends_at + timedelta(hours=3))
    smtp_server.handler = handler = HoldFirstMessage(db.engine, threading.get_ident())
    smtp_server.stop()
    smtp_server.start()

    report = deliver_outbox()

    # Besides the held message, one taken and not yet recorded on each other connection: never
    # more than one per connection, and every connection kept busy.
    assert handler.unrecorded_while_held == connections - 1
    assert report.sent == 9
    assert delivered(smtp_server) == Counter({interview.candidate.email: 1 for interview in interviews})


class WhileAMessageIsSent(CollectingHandler):
    """Runs `meanwhile` (what a recruiter or another worker does, in a thread of its own with an
    app context) while one message's DATA (the first, or the one numbered `at`) waits for its
    answer: between the delivering worker's read of its batch and the outcome it records."""

    def __init__(self, app, meanwhile, refusal: str | None = None, at: int = 0):
        super().__init__()
        self.app, self.meanwhile, self.refusal, self.at = app, meanwhile, refusal, at

    async def handle_DATA(self, server, session, envelope):
        meanwhile = self.meanwhile if len(self.messages) == self.at else None
        if meanwhile is not None:
            self.meanwhile = None
            # In another thread, so that this server can take that thread's own email meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, self._in_app, meanwhile)
            if self.refusal:
                return self.refusal
        return await super().handle_DATA(server, session, envelope)

    def _in_app(self, meanwhile) -> None:
        with self.app.app_context():
            meanwhile()


def _deliver_while(app, smtp_server, meanwhile, refusal: str | None = None) -> None:
    smtp_server.handler = WhileAMessageIsSent(app, meanwhile, refusal)
    smtp_server.stop()
    smtp_server.start()
    summary = deliver_outbox()
    assert (summary.sent, summary.dead) == ((0, 1) if refusal else (1, 0))


def _one_email_on_the_wire_while(app, smtp_server, make_interview, to_the_invitation, refusal=None):
    """An interview whose invitation email is delivered (or refused with `refusal`) while
    `to_the_invitation(invitation)` runs (a recruiter's doing, or another worker's); returns the
    interview, its rows to be read afresh."""
    interview = make_interview()
    issue_due_invitations(interview.ends_at + timedelta(hours=3))
    invitation_id = interview.invitation.id

    def meanwhile():
        to_the_invitation(db.session.get(Invitation, invitation_id))

    _deliver_while(app, smtp_server, meanwhile, refusal)
    db.session.expire_all()
    return interview


def _sent_facts() -> dict:
    return {key: n for key, n in scope_keys(db.session.connection()).items() if key[7] == "sent"}


def test_a_link_resent_and_delivered_by_another_worker_meanwhile_is_counted_sent_once(
    app, make_interview, smtp_server
):
    """The first link's email is on the wire when the recruiter resends and another worker
    delivers the new link (its first send: one `sent` fact). The older email's outcome must not
    count a first send again: decided from the invitation as it is then, not as the batch read it."""

    def resent_and_delivered_elsewhere(invitation):
        resend_invitation(invitation)
        delivery = send_due().delivery  # the first worker's claim on the old email still holds
        assert (delivery.sent, delivery.skipped, delivery.taken_over) == (1, 0, 0)

    interview = _one_email_on_the_wire_while(app, smtp_server, make_interview, resent_and_delivered_elsewhere)
    assert interview.invitation.version == 2
    assert interview.invitation.status == InvitationStatus.SENT
    kept = _sent_facts()
    assert kept and set(kept.values()) == {1}  # one invitation sent, at every level of its scope
    rebuild_cells()
    assert _sent_facts() == kept


def test_an_email_of_a_link_resent_meanwhile_leaves_the_new_link_to_be_sent(app, make_interview, smtp_server):
    """The recruiter resends while the first link's email is on the wire. That email's outcome
    must not mark the new link sent (it would then never go out, and the candidate would hold
    only the revoked link) nor count it: the new link is issued and delivered as any other."""
    interview = _one_email_on_the_wire_while(app, smtp_server, make_interview, resend_invitation)
    invitation = interview.invitation
    assert (invitation.version, invitation.status) == (2, InvitationStatus.SCHEDULED)
    assert invitation.sent_at is None
    assert set(_sent_facts().values()) <= {0}
    summary = send_due()
    assert (summary.issued, summary.delivery.sent) == (1, 1)
    db.session.expire_all()
    assert invitation.status == InvitationStatus.SENT and invitation.sent_at is not None
    newest = smtp_server.handler.to(interview.candidate.email)[-1]
    assert app.test_client().get(survey_link(newest)).status_code == 200  # the link that works
    kept = _sent_facts()
    assert kept and set(kept.values()) == {1}
    rebuild_cells()
    assert _sent_facts() == kept


def test_an_email_refused_for_good_after_a_resend_leaves_the_new_link_to_be_sent(
    app, make_interview, smtp_server
):
    """The recruiter resends while the first link's email is on the wire, and the server then
    refuses that email for good: it is the old link that could not be delivered, not the new one,
    which must not be marked undeliverable but issued and sent."""
    refusal = "554 5.7.1 Message rejected"
    interview = _one_email_on_the_wire_while(app, smtp_server, make_interview, resend_invitation, refusal)
    assert (interview.invitation.version, interview.invitation.status) == (2, InvitationStatus.SCHEDULED)
    summary = send_due()
    assert (summary.issued, summary.delivery.sent) == (1, 1)
    db.session.expire_all()
    assert interview.invitation.status == InvitationStatus.SENT


def test_a_link_resent_and_issued_during_a_later_batch_is_sent_by_the_same_delivery_run(
    app, make_interview, smtp_server
):
    """One delivery run takes batch after batch. A link resent (and its email issued by another
    worker) while a later batch is on the wire is read afresh when its own batch comes: not
    taken for superseded by the invitation as an earlier batch loaded it."""
    app.config["OUTBOX_BATCH_SIZE"] = 1
    interviews = [make_interview() for _ in range(2)]
    issue_due_invitations(interviews[-1].ends_at + timedelta(hours=3))

    def first_resent_and_issued():
        first = next(i for i in interviews if i.candidate.email == handler.messages[0]["To"])
        resend_invitation(db.session.get(Invitation, first.invitation.id))
        assert issue_due_invitations(utcnow())["issued"] == 1

    smtp_server.handler = handler = WhileAMessageIsSent(app, first_resent_and_issued, at=1)
    smtp_server.stop()
    smtp_server.start()
    summary = deliver_outbox()

    assert (summary.sent, summary.skipped, summary.batches) == (3, 0, 3)
    first = next(i for i in interviews if i.candidate.email == handler.messages[0]["To"])
    db.session.expire_all()
    assert (first.invitation.version, first.invitation.status) == (2, InvitationStatus.SENT)
    newest = handler.to(first.candidate.email)[-1]
    assert app.test_client().get(survey_link(newest)).status_code == 200


def test_a_bounce_writes_the_invitation_then_the_message_then_the_candidate(app, make_interview, smtp_server):
    """A bounced invitation email gives up its invitation, its message and its candidate's address
    in the order an erasure (and a delivery) locks those rows, so that on PostgreSQL one waits
    for the other instead of the two deadlocking."""
    from helpers import recorded_statements

    interview = make_interview()
    issue_due_invitations(interview.ends_at + timedelta(hours=3))
    smtp_server.handler.refuse[interview.candidate.email] = "550 5.1.1 No such user"
    with recorded_statements() as statements:
        assert deliver_outbox().dead == 1
    tables = [s.split()[1] for s in statements if s.upper().startswith("UPDATE")]
    giving_up = tables[tables.index("invitations") :]
    assert giving_up == ["invitations", "outbox_messages", "candidates"]
    db.session.expire_all()
    assert interview.invitation.status == InvitationStatus.UNDELIVERABLE
    assert interview.candidate.bounced_at is not None


def test_a_survey_cancelled_while_its_email_is_sent_stays_cancelled(app, make_interview, smtp_server):
    """The recruiter cancels the survey while its email is on the wire: the delivery records the
    email as sent (it was) but does not turn the cancelled survey back into a sent one, whose
    link would work again."""
    interview = _one_email_on_the_wire_while(app, smtp_server, make_interview, cancel_invitation)
    assert interview.invitation.status == InvitationStatus.CANCELLED
    assert interview.invitation.sent_at is not None
    kept = _sent_facts()
    assert kept and set(kept.values()) == {1}
    rebuild_cells()
    assert _sent_facts() == kept


def delivered(smtp_server) -> Counter:
    return Counter(message["To"] for message in smtp_server.messages)


@settings(max_examples=200)
@given(
    local=st.text(alphabet="abcXYZ019.!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=20),
    domain=st.text(alphabet="abz09.-", min_size=1, max_size=15),
)
def test_a_plain_address_is_written_exactly_as_flask_mail_would(local, domain):
    address = f"{local}@{domain}"
    assert _sanitized_recipient(address) == sanitize_address(address)


def test_the_envelope_names_the_sender_and_recipient_as_flask_mail_would(app, smtp_server):
    """The outbox's connection encodes the envelope's addresses itself (once per sender setting);
    the server must see exactly what Flask-Mail's own send gives: a non-ASCII company name, a
    recipient with a display name and an international domain."""
    from flask_mail import Connection, Message

    from survey.mailing import company_sender

    app.config["COMPANY_NAME"] = "Ünïcode Größe GmbH"
    recipients = ("zoe@example.org", "Zoë Ölmann <zoe@bücher.example>", "Al <al@example.org>")
    for address in recipients:
        enqueue("notice", address, "Hello", "survey_invitation", CONTEXT)
    db.session.commit()
    assert deliver_outbox().sent == len(recipients)
    ours = [(e.mail_from, e.rcpt_tos) for e in smtp_server.handler.envelopes]
    smtp_server.handler.envelopes.clear()
    with Connection(app.extensions["mail"]) as connection:  # Flask-Mail's own, unchanged
        for address in recipients:
            connection.send(Message("Hello", sender=company_sender(), recipients=[address], body="x"))
    assert ours == [(e.mail_from, e.rcpt_tos) for e in smtp_server.handler.envelopes]
    assert ours[1][1] == ["zoe@xn--bcher-kva.example"]


@settings(max_examples=300)
@given(
    text=st.text(alphabet=st.sampled_from("ab .=-\r\n\tÄé€😀"), max_size=40),
    html=st.text(alphabet=st.sampled_from("<p>&\r\n Zoë"), max_size=40),
    subject=st.sampled_from(["Hello", "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "a\n b"]),
)
def test_an_email_is_written_byte_for_byte_as_the_email_package_writes_it(text, html, subject):
    """The outbox writes each email out directly; the email package (compat32, SMTP line endings,
    Flask-Mail's UTF-8 charset setting) is the reference it must match, line breaks and all."""
    reference = MIMEMultipart("alternative", boundary="=_b")
    reference.attach(MIMEText(text, "plain", "utf-8"))
    reference.attach(MIMEText(html, "html", "utf-8"))
    reference["Subject"] = subject
    reference["To"] = "zoe@example.org"
    expected = reference.as_bytes(policy=email_policy.compat32.clone(linesep="\r\n"))
    headers = [
        ("Content-Type", 'multipart/alternative; boundary="=_b"'),
        ("MIME-Version", "1.0"),
        ("Subject", subject),
        ("To", "zoe@example.org"),
    ]
    assert write_alternative(headers, [("plain", text), ("html", html)], "=_b") == expected


def test_a_delivered_invitation_is_written_once_and_its_loaded_rows_read_as_stored(
    app, make_interview, smtp_server
):
    """A delivery writes its invitation's and message's rows itself (one UPDATE each, in the
    flush's order) and its fact in one more statement, and keeps the loaded objects in step: the
    commit writes nothing again."""
    from helpers import recorded_statements

    interviews = [make_interview() for _ in range(3)]
    issue_due_invitations(interviews[-1].ends_at + timedelta(hours=3))
    with recorded_statements() as statements:
        assert deliver_outbox().sent == 3
    updates = [" ".join(s.split()[:2]) for s in statements if s.lstrip().upper().startswith("UPDATE")]
    scope_reads = [s for s in statements if s.startswith("SELECT") and "FROM report_scopes" in s]
    if db.engine.dialect.name == "postgresql":
        # Each outcome is one statement in autocommit (invitation, message, facts: in that order
        # in it). The first email's scope does not exist yet: its statement writes nothing, and
        # it goes the long way (which creates the scope, read before and after).
        at_once = [s for s in statements if s.startswith("WITH first_send_scopes")]
        assert len(at_once) == 3
        assert all(
            s.index("UPDATE invitations")
            < s.index("UPDATE outbox_messages")
            < s.index("INSERT INTO report_facts")
            for s in at_once
        )
        assert updates == ["UPDATE outbox_messages", "UPDATE invitations", "UPDATE outbox_messages"]
    else:
        assert updates.count("UPDATE invitations") == 3
        outcomes = [s for s in statements if s.startswith("UPDATE outbox_messages SET status")]
        assert len(outcomes) == 3
        assert updates.index("UPDATE invitations") < updates.index("UPDATE outbox_messages", 1)
    # Their facts: the first email creates its scope (read before and after); the next two, in
    # the same scope, add theirs in one statement each without reading it.
    assert len(scope_reads) == 2
    loaded = {
        row.id: (row.status, row.sent_at, row.expires_at) for row in db.session.scalars(select(Invitation))
    }
    db.session.expire_all()
    stored = {
        row.id: (row.status, row.sent_at, row.expires_at) for row in db.session.scalars(select(Invitation))
    }
    assert loaded == stored and {status for status, _, _ in stored.values()} == {"sent"}
    messages = db.session.scalars(select(OutboxMessage)).all()
    assert {(m.status, m.claimed_until, m.last_error) for m in messages} == {("sent", None, None)}
