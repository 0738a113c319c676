"""How emails are built and delivered: one multipart message per outbox row, and delivery over
MAIL_CONNECTIONS parallel SMTP connections with every outcome recorded once."""

from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

from flask_mail import sanitize_address
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from helpers import text_part
from survey.extensions import db
from survey.models import Candidate, Invitation, OutboxMessage
from survey.outbox import _sanitized_recipient, deliver_outbox, enqueue
from survey.services.invitations import send_due

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
    assert subject == "How was your interview with Ünïcode Größe GmbH?"
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
    report = deliver_outbox(now=interviews[-1].ends_at + timedelta(hours=4))
    assert report.sent == 5
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(i.candidate.email for i in interviews)


@settings(max_examples=200)
@given(
    local=st.text(alphabet="abcXYZ019.!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=20),
    domain=st.text(alphabet="abz09.-", min_size=1, max_size=15),
)
def test_a_plain_address_is_written_exactly_as_flask_mail_would(local, domain):
    address = f"{local}@{domain}"
    assert _sanitized_recipient(address) == sanitize_address(address)
