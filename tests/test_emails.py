"""The emails as a candidate and a recruiter receive them, and the development mail page."""

import smtplib
from datetime import timedelta
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from config import DevelopmentConfig
from helpers import free_port, text_part
from survey import create_app
from survey.dev.mailcatcher import OneLineMailbox, ensure_maildir
from survey.extensions import db
from survey.services.invitations import send_due


def html_part(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


def test_invitation_comes_from_the_company_and_speaks_naturally(app, make_interview, smtp_server):
    interview = make_interview(candidate={"name": "Wendy Ashford", "email": "wendy@example.org"})
    send_due(now=interview.ends_at + timedelta(hours=3))
    [message] = smtp_server.handler.to("wendy@example.org")
    assert message["From"] == "Acme Test Co <surveys@acme.test>"
    assert message["Subject"] == "How was your Technical interview, Wendy?"
    assert message["Reply-To"] == "surveys@acme.test"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.get_payload()] == ["text/plain", "text/html"]
    text = text_part(message)
    assert text.startswith("Hi Wendy,")
    db.session.refresh(interview.invitation)
    until = interview.invitation.expires_at
    assert f"The link works until {until.day} {until:%B %Y}." in text
    html = html_part(message)
    assert html.startswith("<!doctype html>")
    assert (
        '<meta charset="utf-8">' in html and "<title>How was your Technical interview, Wendy?</title>" in html
    )
    assert "<head>" in html and "The link works until" in html


def test_staff_alert_is_automatic_plain_alternative_without_unsubscribe(
    staff, sent_invitation, answer_survey, smtp_server
):
    _, message = sent_invitation
    answer_survey(message, nps=2)
    send_due()
    [alert] = smtp_server.handler.to(staff["owner"].email)
    assert alert["Auto-Submitted"] == "auto-generated"
    assert alert["List-Unsubscribe"] is None
    assert alert.get_content_type() == "multipart/alternative"
    assert alert["From"] == "Acme Test Co <surveys@acme.test>"
    assert "<title>" in html_part(alert)


def _dev_app(tmp_path, mail_port):
    class Dev(DevelopmentConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'dev.sqlite'}"
        DEV_MAIL_DIR = str(tmp_path / "mail")
        MAIL_PORT = mail_port
        COMPANY_NAME = "Zoë & Co"

    return create_app(Dev)


def _send(port: int, subject: str, date: str, html: str | None = None, **headers) -> None:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"], message["Date"] = (
        subject,
        "a@x.test",
        "b@x.test",
        date,
    )
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Answer here: http://127.0.0.1:5000/s/abc")
    if html:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(message)


def test_dev_mail_page_decodes_headers_sorts_newest_first_and_previews_html_in_a_frame(tmp_path, capfd):
    port = free_port()
    dev_app = _dev_app(tmp_path, port)
    ensure_maildir(str(tmp_path / "mail"))
    controller = Controller(OneLineMailbox(str(tmp_path / "mail")), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _send(port, "Older: grüße", "Mon, 23 Nov 2026 10:00:00 +0000")
        _send(
            port,
            "Newer: how was it, Zoë?",
            "Tue, 24 Nov 2026 10:00:00 +0000",
            html='<!doctype html><html><head><title>x</title></head><body><a href="http://127.0.0.1:5000/s/abc">Go</a></body></html>',
        )
    finally:
        controller.stop()
    # One line per message from the catcher, not the SMTP conversation.
    caught = [line for line in capfd.readouterr().out.splitlines() if line.startswith("mailcatcher:")]
    assert caught == [
        "mailcatcher: to b@x.test: Older: grüße",
        "mailcatcher: to b@x.test: Newer: how was it, Zoë?",
    ]

    client = dev_app.test_client()
    with dev_app.app_context():
        index = client.get("/dev/mail").get_data(as_text=True)
        assert index.index("Newer: how was it, Zoë?") < index.index("Older: grüße")
        assert "=?utf-8?" not in index
        key = index.split('href="/dev/mail/', 1)[1].split('"', 1)[0]
        page = client.get(f"/dev/mail/{key}").get_data(as_text=True)
        assert "<dt>List-Unsubscribe</dt>" not in page and "None" not in page
        assert f'src="/dev/mail/{key}/html"' in page and 'target="_blank"' in page
        preview = client.get(f"/dev/mail/{key}/html")
        assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
        assert '<base target="_blank">' in preview.get_data(as_text=True)
