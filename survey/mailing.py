"""Who the company's emails come from, and where replies go."""

from __future__ import annotations

from email.utils import formataddr, parseaddr

from flask import current_app


def sender_address() -> str:
    """The bare address of MAIL_DEFAULT_SENDER (which may carry a display name)."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    if isinstance(sender, tuple):
        return sender[1]
    return parseaddr(sender)[1] or sender


def company_sender() -> str:
    """`COMPANY_NAME <address>`: candidates and staff see the company, not the product."""
    return formataddr((current_app.config["COMPANY_NAME"], sender_address()))


def reply_to_address() -> str:
    """Where a candidate can write: MAIL_REPLY_TO, else the sender's address."""
    return current_app.config.get("MAIL_REPLY_TO") or sender_address()
