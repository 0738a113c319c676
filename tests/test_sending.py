"""Sending: due invitations, reminders, expiry and the outbox against a real SMTP server."""

from datetime import timedelta

from sqlalchemy import func, select

from helpers import SmtpServer, survey_link, text_part
from survey.extensions import db
from survey.models import Invitation, OutboxMessage
from survey.services.invitations import send_due


def invitation_of(interview) -> Invitation:
    return db.session.scalar(select(Invitation).where(Invitation.interview_id == interview.id))


def outbox_count(status: str) -> int:
    stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == status)
    return db.session.scalar(stmt)


def test_invitation_is_not_sent_before_the_delay(make_interview, smtp_server):
    interview = make_interview()
    summary = send_due(now=interview.ends_at + timedelta(minutes=119))
    assert summary.issued == 0
    assert smtp_server.messages == []
    summary = send_due(now=interview.ends_at + timedelta(minutes=120))
    assert (summary.issued, summary.delivery.sent) == (1, 1)


def test_email_has_both_parts_headers_and_a_working_link(client, make_interview, smtp_server):
    interview = make_interview()
    send_due(now=interview.ends_at + timedelta(hours=3))
    [message] = smtp_server.messages
    assert message["To"] == interview.candidate.email
    assert message["From"] == "Acme Test Co <surveys@acme.test>"
    assert message["Subject"] == "How was your Technical interview, Candidate?"
    assert message["Message-ID"]
    types = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in types and "text/html" in types
    html = (
        next(p for p in message.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )
    assert "http://localhost/s/" in html and "Acme Test Co" in html
    assert "Acme Test Co" in text_part(message)
    unsubscribe = message["List-Unsubscribe"].strip()
    assert unsubscribe.startswith("<http://localhost/s/") and unsubscribe.endswith("/opt-out>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert client.get(survey_link(message)).status_code == 200
    # The one-click opt-out URL works with a bare POST, as mail clients send it.
    assert client.post(unsubscribe[1:-1].replace("http://localhost", "")).status_code == 200
    assert invitation_of(interview).status == "opted_out"


def test_invitation_is_marked_sent_only_once_delivered(make_interview, smtp_server):
    interview = make_interview()
    smtp_server.stop()
    send_due(now=interview.ends_at + timedelta(hours=3))
    invitation = invitation_of(interview)
    assert invitation.status == "scheduled" and invitation.sent_at is None
    smtp_server.start()
    send_due(now=interview.ends_at + timedelta(hours=3, minutes=1))
    db.session.refresh(invitation)
    assert invitation.status == "sent"
    assert invitation.expires_at == invitation.sent_at + timedelta(days=14)


def test_smtp_down_loses_nothing_and_each_arrives_once_after(app, make_interview, runner):
    interviews = [make_interview() for _ in range(5)]
    result = runner.invoke(args=["surveys", "send-due"])  # nothing listens on MAIL_PORT
    assert result.exit_code == 1
    assert "SMTP unavailable" in result.output
    assert "issued 5 invitation(s)" in result.output
    assert outbox_count("pending") == 5
    assert all(invitation_of(i).status == "scheduled" for i in interviews)

    # Running again while still down issues nothing twice.
    runner.invoke(args=["surveys", "send-due"])
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 5

    server = SmtpServer(app.config["MAIL_PORT"])
    server.start()
    try:
        result = runner.invoke(args=["surveys", "send-due"])
        assert result.exit_code == 0, result.output
        assert "delivered 5 email(s)" in result.output
        assert sorted(m["To"] for m in server.messages) == sorted(i.candidate.email for i in interviews)
        runner.invoke(args=["surveys", "send-due"])
        assert len(server.messages) == 5
    finally:
        server.stop()
    assert all(invitation_of(i).status == "sent" for i in interviews)


def test_one_connection_per_batch(app, make_interview, smtp_server):
    app.config["OUTBOX_BATCH_SIZE"] = 4
    interviews = [make_interview() for _ in range(10)]
    summary = send_due(now=interviews[-1].ends_at + timedelta(hours=3))
    assert summary.delivery.sent == 10
    assert summary.delivery.batches == 3
    assert smtp_server.handler.connections == 3


def test_temporary_failure_is_retried_with_backoff(make_interview, smtp_server):
    interview = make_interview()
    smtp_server.handler.refuse[interview.candidate.email] = "451 Try again later"
    start = interview.ends_at + timedelta(hours=3)
    summary = send_due(now=start)
    assert summary.delivery.retrying == 1
    message = db.session.scalar(select(OutboxMessage))
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.next_attempt_at > start

    smtp_server.handler.refuse.clear()
    assert send_due(now=start + timedelta(seconds=30)).delivery.sent == 0  # still backing off
    assert send_due(now=message.next_attempt_at).delivery.sent == 1
    assert len(smtp_server.messages) == 1


def test_message_is_given_up_after_the_maximum_attempts(app, make_interview, smtp_server):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    interview = make_interview()
    smtp_server.handler.refuse[interview.candidate.email] = "452 Mailbox full"
    moment = interview.ends_at + timedelta(hours=3)
    for _ in range(5):
        send_due(now=moment)
        moment += timedelta(days=1)
    message = db.session.scalar(select(OutboxMessage))
    assert (message.status, message.attempts) == ("dead", 3)
    assert "452" in message.last_error
    assert invitation_of(interview).status == "failed"


def test_permanent_failure_marks_the_address_bounced(make_interview, smtp_server):
    interview = make_interview()
    smtp_server.handler.refuse[interview.candidate.email] = "550 No such user"
    summary = send_due(now=interview.ends_at + timedelta(hours=3))
    assert summary.delivery.dead == 1
    db.session.refresh(interview.candidate)
    assert interview.candidate.bounced_at is not None
    assert invitation_of(interview).status == "failed"
    # A later interview of the same candidate gets nothing.
    later = make_interview(candidate={"name": "Same", "email": interview.candidate.email})
    send_due(now=later.ends_at + timedelta(hours=3))
    assert invitation_of(later).status == "opted_out"
    assert smtp_server.messages == []


def test_one_reminder_after_the_configured_hours(make_interview, smtp_server):
    interview = make_interview()
    sent = interview.ends_at + timedelta(hours=3)
    send_due(now=sent)
    assert send_due(now=sent + timedelta(hours=71)).reminders == 0
    assert send_due(now=sent + timedelta(hours=73)).reminders == 1
    assert send_due(now=sent + timedelta(hours=100)).reminders == 0
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert len(subjects) == 2 and subjects[1].startswith("Reminder:")
    assert invitation_of(interview).reminded_at is not None


def test_no_reminder_once_answered_or_opted_out(make_interview, smtp_server):
    answered, opted = make_interview(), make_interview()
    sent = answered.ends_at + timedelta(hours=3)
    send_due(now=sent)
    invitation_of(answered).status = "completed"
    opted.candidate.opted_out_at = sent
    db.session.commit()
    assert send_due(now=sent + timedelta(hours=80)).reminders == 0
    assert len(smtp_server.messages) == 2


def test_open_invitations_expire(make_interview, smtp_server):
    interview = make_interview()
    sent = interview.ends_at + timedelta(hours=3)
    send_due(now=sent)
    summary = send_due(now=sent + timedelta(days=15))
    assert summary.expired == 1
    assert invitation_of(interview).status == "expired"


def test_invitation_due_long_ago_expires_instead_of_sending(make_interview, smtp_server):
    interview = make_interview()
    summary = send_due(now=interview.ends_at + timedelta(days=30))
    assert (summary.issued, summary.expired) == (0, 1)
    assert smtp_server.messages == []


def test_cancelled_before_delivery_is_not_sent(make_interview, smtp_server):
    from survey.services.invitations import cancel_invitation, issue_due_invitations
    from survey.services.outbox import deliver_outbox

    interview = make_interview()
    issue_due_invitations(interview.ends_at + timedelta(hours=3))
    cancel_invitation(invitation_of(interview))
    report = deliver_outbox()
    assert (report.sent, report.skipped) == (0, 1)
    assert smtp_server.messages == []


def test_worker_once_runs_a_pass(runner, make_interview, smtp_server):
    make_interview()
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0
    assert "delivered 1 email(s)" in result.output
    assert len(smtp_server.messages) == 1


def test_an_unsendable_message_is_given_up_and_the_rest_still_go(app, make_interview, smtp_server):
    from survey.services.outbox import deliver_outbox, enqueue

    enqueue(
        "alert",
        "rita.recruiter@example.com",
        "Alert: Eve\nEvil",
        "survey_invitation",
        {
            "candidate_name": "x",
            "position_title": "x",
            "stage": "x",
            "survey_url": "x",
            "opt_out_url": "x",
            "is_reminder": False,
        },
    )
    db.session.commit()
    interview = make_interview()
    send_due(now=interview.ends_at + timedelta(hours=3))
    report = deliver_outbox()
    assert [m["To"] for m in smtp_server.messages] == [interview.candidate.email]
    bad = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
    assert bad.status == "dead" and "unsendable" in bad.last_error
    assert report.sent == 0  # nothing left to retry


def test_names_with_line_breaks_are_refused_at_intake(app, recruiter):
    from helpers import interview_payload
    from survey.services.intake import validate_api_interview

    _, errors = validate_api_interview(
        interview_payload(candidate={"name": "Eve\nEvil", "email": "eve@example.org"})
    )
    assert errors == {"candidate.name": "Must be a single line without control characters."}
