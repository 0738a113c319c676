"""Who the company's emails come from, where replies go, and what counts as an address."""

from __future__ import annotations

from email.utils import formataddr, parseaddr
from functools import lru_cache

from flask import current_app


def sender_address() -> str:
    """The bare address of MAIL_DEFAULT_SENDER (which may carry a display name)."""
    return _bare_address(current_app.config["MAIL_DEFAULT_SENDER"])


def company_sender() -> str:
    """`COMPANY_NAME <address>`: candidates and staff see the company, not the product."""
    return _named(current_app.config["COMPANY_NAME"], current_app.config["MAIL_DEFAULT_SENDER"])


def reply_to_address() -> str:
    """Where a candidate can write: MAIL_REPLY_TO, else the sender's address."""
    return current_app.config.get("MAIL_REPLY_TO") or sender_address()


# Parsed once per setting, not once per email: a batch of a thousand asks for the same few values.
@lru_cache(maxsize=16)
def _bare_address(sender: str | tuple[str, str]) -> str:
    if isinstance(sender, tuple):
        return sender[1]
    return parseaddr(sender)[1] or sender


@lru_cache(maxsize=16)
def _named(company: str, sender: str | tuple[str, str]) -> str:
    return formataddr((company, _bare_address(sender)))


class InvalidAddress(ValueError):
    """An email address that cannot be used; the message says why."""


def normalized_address(value: str) -> str:
    """An email address as it is stored: checked (not for deliverability) and lower-cased; raises
    InvalidAddress. email_validator is imported on first use: a process that checks no address
    (a survey worker, `surveys send-due`) starts without it."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidAddress(f"Not a valid email address: {exc}") from exc
