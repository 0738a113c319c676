"""A local SMTP server for development that stores every message in a Maildir."""

from __future__ import annotations

import logging
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import click
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from ..stopping import StopRequest


def ensure_maildir(mail_dir: str) -> None:
    """Create the Maildir and its three folders (mailbox.Maildir skips them for an existing path)."""
    for sub in ("tmp", "new", "cur"):
        (Path(mail_dir) / sub).mkdir(parents=True, exist_ok=True)


def decoded(value: str | None) -> str:
    """A header as text (`=?utf-8?q?…?=` decoded)."""
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError):
        return value


class OneLineMailbox(Mailbox):
    """Keeps each message in the Maildir and logs one line for it."""

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        message = message_from_bytes(envelope.content)
        click.echo(f"mailcatcher: to {', '.join(envelope.rcpt_tos)}: {decoded(message['Subject'])}")
        return reply


def serve(mail_dir: str, host: str, port: int) -> None:
    """Accept mail on host:port until SIGINT/SIGTERM."""
    ensure_maildir(mail_dir)
    # aiosmtpd logs every SMTP command at INFO: dozens of lines per batch that bury the rest.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = StopRequest()
    controller = Controller(OneLineMailbox(mail_dir), hostname=host, port=port)
    controller.start()
    try:
        while not stop.wait(None):
            pass
    finally:
        controller.stop()
