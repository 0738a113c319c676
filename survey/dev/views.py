"""`/dev/mail`: the caught mail, newest first, with clickable links."""

from __future__ import annotations

import mailbox
import re
from email.message import Message
from email.utils import parsedate_to_datetime

from flask import Response, abort, current_app, render_template

from . import bp
from .mailcatcher import decoded, ensure_maildir

# Headers shown above a caught message, when the message has them.
SHOWN_HEADERS = ("From", "To", "Reply-To", "Date", "Auto-Submitted", "List-Unsubscribe")

URL_PATTERN = re.compile(r"https?://[^\s<>\"]+")


def _mailbox() -> mailbox.Maildir:
    path = current_app.config["DEV_MAIL_DIR"]
    ensure_maildir(path)
    return mailbox.Maildir(path, create=True)


def _part(message: Message, content_type: str) -> str:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True) or b""
            return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return ""


def _sort_key(item: tuple[str, Message]):
    """Newest first: by Date, then by arrival (the Maildir key starts with the delivery time)."""
    key, message = item
    try:
        sent = parsedate_to_datetime(message["Date"]).timestamp()
    except (TypeError, ValueError):
        sent = 0
    return (sent, key)


@bp.get("/mail")
def mail_index():
    """Every caught message, newest first."""
    messages = [
        (key, {name: decoded(message[name]) for name in ("Date", "To", "Subject")})
        for key, message in sorted(_mailbox().items(), key=_sort_key, reverse=True)
    ]
    return render_template("dev/mail_index.html", messages=messages)


def _message_or_404(key: str) -> Message:
    try:
        return _mailbox()[key]
    except (KeyError, ValueError):
        abort(404)


@bp.get("/mail/<key>")
def mail_message(key: str):
    """One caught message: headers, its links, the text part and the HTML part."""
    message = _message_or_404(key)
    text = _part(message, "text/plain")
    return render_template(
        "dev/mail_message.html",
        key=key,
        subject=decoded(message["Subject"]),
        headers=[(name, decoded(message[name])) for name in SHOWN_HEADERS if message[name]],
        content_type=message.get_content_type(),
        text=text,
        links=list(dict.fromkeys(URL_PATTERN.findall(text))),
    )


@bp.get("/mail/<key>/html")
def mail_html(key: str):
    """The HTML part alone, framed by the message page (same origin) or opened in a tab."""
    html = _part(_message_or_404(key), "text/html")
    # Links open in a new tab: the survey page itself refuses to be framed.
    html = html.replace("<head>", '<head><base target="_blank">', 1)
    response = Response(html, mimetype="text/html")
    # Its links (the survey button) open in the top window: the frame is only a preview.
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# The caught email's HTML part uses inline styles (mail clients need them); let it render here,
# development only, still with no script and no other origin.
DEV_MAIL_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


@bp.after_request
def allow_inline_mail_styles(response):
    """The mail viewer's content security policy."""
    response.headers["Content-Security-Policy"] = DEV_MAIL_POLICY
    return response
