"""`/dev/mail`: the caught mail, newest first, with clickable links."""

from __future__ import annotations

import mailbox
import re
from email.message import Message
from email.utils import parsedate_to_datetime

from flask import abort, current_app, render_template

from . import bp
from .mailcatcher import ensure_maildir

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
    try:
        return parsedate_to_datetime(item[1]["Date"]).timestamp()
    except (TypeError, ValueError):
        return 0


@bp.get("/mail")
def mail_index():
    """Every caught message, newest first."""
    messages = sorted(_mailbox().items(), key=_sort_key, reverse=True)
    return render_template("dev/mail_index.html", messages=messages)


@bp.get("/mail/<key>")
def mail_message(key: str):
    """One caught message: headers, its links, the text part and the HTML part."""
    try:
        message = _mailbox()[key]
    except KeyError:
        abort(404)
    text = _part(message, "text/plain")
    return render_template(
        "dev/mail_message.html",
        message=message,
        text=text,
        html=_part(message, "text/html"),
        links=list(dict.fromkeys(URL_PATTERN.findall(text))),
    )
