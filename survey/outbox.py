"""The durable email outbox: enqueue in the caller's transaction, deliver in batches.

Each batch is claimed (row locks with SKIP LOCKED where the database has them, plus a
short lease so a dead worker's claim runs out within a minute), then sent over one SMTP
connection. The delivering worker keeps a batch for at most a quarter of the lease before
claiming afresh, and records an outcome only while the lease is still its own. Every
message's outcome is committed as soon as it is known, so a crash repeats at most the
message that was in flight.

Time is read when it is needed (at each claim, message and send) from a clock, never once
per pass: a long pass must not claim with a lease that has already run out, nor record a
message as sent before it was written.
"""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid

from flask import current_app, render_template
from flask_mail import BadHeaderError, Connection, Message
from sqlalchemy import or_, select, update

from .database import begin_claim
from .extensions import db
from .mailing import company_sender, sender_address
from .models import Candidate, Invitation, OutboxMessage, utcnow

MAX_BACKOFF = timedelta(hours=6)
FIRST_BACKOFF = timedelta(minutes=1)

Clock = Callable[[], datetime]


def clock_from(now: datetime | None) -> Clock:
    """The real clock, or (given a moment) one that starts there and runs at the real pace.

    A pass told "it is now X" (a test, a catch-up run) still sees time move during the pass.
    """
    if now is None:
        return utcnow
    offset = now - utcnow()
    return lambda: utcnow() + offset


def enqueue(
    kind: str,
    to_address: str,
    subject: str,
    template: str,
    context: dict,
    *,
    invitation: Invitation | None = None,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Render an email (text and HTML) into an outbox row; the caller commits."""
    context = {"company": current_app.config["COMPANY_NAME"], **context}
    message = OutboxMessage(
        kind=kind,
        to_address=to_address,
        subject=subject,
        body_text=render_template(f"email/{template}.txt", **context),
        body_html=render_template(f"email/{template}.html", **context),
        headers=headers or {},
        message_id=make_msgid(domain=_sender_domain()),
        invitation=invitation,
        invitation_version=invitation.version if invitation else None,
        status="pending",
        next_attempt_at=now or utcnow(),
    )
    db.session.add(message)
    return message


def _sender_domain() -> str:
    return sender_address().rsplit("@", 1)[-1].strip(" >") or "localhost"


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0
    taken_over: int = 0
    smtp_error: str | None = None
    batches: int = 0
    sent_ids: list[int] = field(default_factory=list)


class TransportError(Exception):
    """The SMTP server could not be reached or dropped the connection."""


class TimeoutConnection(Connection):
    """Flask-Mail's connection with a socket timeout, so a hung server cannot hang a worker."""

    def configure_host(self) -> smtplib.SMTP:
        timeout = current_app.config["MAIL_TIMEOUT_SECONDS"]
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def deliver_outbox(clock: Clock = utcnow, max_batches: int | None = None) -> DeliveryReport:
    """Send every due outbox message, batch by batch, until none is left or SMTP fails."""
    report = DeliveryReport()
    with _keep_batch_loaded():
        while max_batches is None or report.batches < max_batches:
            lease = Lease(clock)
            batch = claim_batch(lease)
            if not batch:
                break
            report.batches += 1
            try:
                _send_batch(batch, report, lease)
            except TransportError as exc:
                report.smtp_error = str(exc)
                break
    return report


@contextmanager
def _keep_batch_loaded() -> Iterator[None]:
    """Commit after every message without expiring the rest of the batch.

    The claimed rows are leased to this process, so nobody else changes them meanwhile;
    expiring them on each commit would reload every remaining message once per email sent.
    """
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = previous


class Lease:
    """One claim's hold on a batch: a random token, when it was taken, and when it runs out.

    Another worker may claim the rows once `until` has passed, so a dead worker's batch is
    free again within `OUTBOX_CLAIM_SECONDS`. The holder keeps a batch for at most a quarter
    of that (`fresh`): then it gives the unsent rest back and claims again, oldest due first.
    That is its renewal: it never starts a message with less than three quarters of a lease
    left, and a busy worker reaches the mail of a dead one within a quarter lease of that
    lease running out, instead of after however long its own batch takes.
    Hosts running workers must keep their clocks in step (NTP): leases compare wall-clock times.
    """

    def __init__(self, clock: Clock):
        self.clock = clock
        self.token = uuid.uuid4().hex
        self.length = timedelta(seconds=current_app.config["OUTBOX_CLAIM_SECONDS"])
        self.taken: datetime | None = None
        self.until: datetime | None = None

    def start(self) -> datetime:
        """Begin the lease now; the moment it was read."""
        self.taken = self.clock()
        self.until = self.taken + self.length
        return self.taken

    def fresh(self) -> bool:
        """Whether the batch may go on: less than a quarter of the lease since it was claimed."""
        return self.clock() < self.taken + self.length / 4

    def still_holds(self, message: OutboxMessage) -> bool:
        """Before recording an outcome: whether the message is still this claim's.

        Certain while the lease has not run out; after that (a send that stalled past it),
        asked of the database, in the transaction that records the outcome.
        """
        if self.clock() < self.until:
            return True
        stmt = (
            select(OutboxMessage.id)
            .where(OutboxMessage.id == message.id, OutboxMessage.claimed_by == self.token)
            .with_for_update()
        )
        return db.session.scalar(stmt) is not None


def claim_batch(lease: Lease) -> list[OutboxMessage]:
    """Lease the next due messages to this claim and commit the lease."""
    size = current_app.config["OUTBOX_BATCH_SIZE"]
    begin_claim(db.session)
    now = lease.start()  # read after any wait for the write lock, so the lease is whole
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_(("pending", "failed")),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    batch = list(db.session.scalars(stmt))
    for message in batch:
        message.claimed_until = lease.until
        message.claimed_by = lease.token
    db.session.commit()
    return batch


def _send_batch(batch: list[OutboxMessage], report: DeliveryReport, lease: Lease) -> None:
    state = current_app.extensions["mail"]
    where = f"{state.server}:{state.port}"
    connection = TimeoutConnection(state)
    try:
        connection.host = connection.configure_host()
    except (OSError, smtplib.SMTPException) as exc:
        release_claims(batch, lease)
        raise TransportError(f"cannot connect to {where}: {exc}") from exc
    try:
        for index, message in enumerate(batch):
            if not lease.fresh():
                release_claims(batch[index:], lease)  # claimed again at once, after older due mail
                return
            try:
                _deliver_one(connection, message, report, lease)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                release_claims(batch[index:], lease)
                raise TransportError(f"connection to {where} lost: {exc}") from exc
    finally:
        _close_quietly(connection)


def _close_quietly(connection: Connection) -> None:
    if connection.host is None:
        return
    try:
        connection.host.quit()
    except (OSError, smtplib.SMTPException):
        connection.host.close()


def release_claims(messages: list[OutboxMessage], lease: Lease) -> None:
    """Give unsent messages back to the queue at once (the server, not the message, failed).

    Only the ones this claim still holds: a row another worker has taken over stays its own.
    """
    db.session.rollback()
    ids = [message.id for message in messages]
    if ids:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == lease.token)
            .values(claimed_until=None, claimed_by=None)
        )
    db.session.commit()


def _deliver_one(
    connection: Connection, message: OutboxMessage, report: DeliveryReport, lease: Lease
) -> None:
    reason = _stale_reason(message)
    if reason:
        _finish(message, "dead", reason)
        _commit_outcome(message, "skipped", report, lease)
        return
    try:
        connection.send(_to_mail(message))
    except (BadHeaderError, ValueError) as exc:
        # The message itself can never be sent (e.g. a newline in a header): give it up at once,
        # so one bad row cannot stop every message queued behind it.
        _finish(message, "dead", f"unsendable: {exc.__class__.__name__}: {exc}"[:500])
        _after_giving_up(message, lease.clock(), bounced=False)
        outcome = "dead"
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        outcome = _record_failure(message, code, text, lease.clock(), recipient_refused=True)
    except (smtplib.SMTPResponseException, smtplib.SMTPDataError) as exc:
        outcome = _record_failure(message, exc.smtp_code, exc.smtp_error, lease.clock())
    else:
        sent_at = lease.clock()  # when the server took it: never before the message was written
        _finish(message, "sent", None)
        message.sent_at = sent_at
        _after_delivery(message, sent_at)
        outcome = "sent"
    _commit_outcome(message, outcome, report, lease)


def _commit_outcome(message: OutboxMessage, outcome: str, report: DeliveryReport, lease: Lease) -> None:
    """Commit one message's outcome, unless its lease ran out and another worker took it over."""
    if not lease.still_holds(message):
        db.session.rollback()
        report.taken_over += 1
        current_app.logger.warning("outbox message %s: lease lost mid-send; left to its holder", message.id)
        return
    setattr(report, outcome, getattr(report, outcome) + 1)
    if outcome == "sent":
        report.sent_ids.append(message.id)
    db.session.commit()


class AlternativeMessage(Message):
    """Flask-Mail's message, but text + HTML without attachments is a plain multipart/alternative.

    Flask-Mail wraps the alternative in a multipart/mixed even with nothing attached, which
    some clients show as an attachment and spam filters count against the message.
    """

    def _message(self):
        message = super()._message()
        if self.attachments or not self.alts or message.get_content_subtype() != "mixed":
            return message
        [alternative] = message.get_payload()
        for key, value in message.items():
            if key.lower() not in ("content-type", "mime-version"):
                alternative[key] = value
        alternative.policy = message.policy
        return alternative


def _to_mail(message: OutboxMessage) -> Message:
    # Every email here is sent by the system, not typed by a person (RFC 3834): no auto-replies.
    headers = {"Auto-Submitted": "auto-generated", **(message.headers or {})}
    mail_message = AlternativeMessage(
        subject=message.subject,
        sender=company_sender(),
        recipients=[message.to_address],
        body=message.body_text,
        html=message.body_html,
        extra_headers=headers,
    )
    mail_message.msgId = message.message_id
    return mail_message


def _record_failure(
    message: OutboxMessage,
    code: int,
    text: bytes | str,
    now: datetime,
    recipient_refused: bool = False,
) -> str:
    """Record a refused message: given up ("dead") or due again later ("retrying")."""
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    error = f"{code} {detail}"
    message.attempts += 1
    permanent = 500 <= code < 600
    if permanent or message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        _finish(message, "dead", error)
        _after_giving_up(message, now, bounced=permanent and recipient_refused)
        return "dead"
    backoff = min(FIRST_BACKOFF * 2 ** (message.attempts - 1), MAX_BACKOFF)
    message.status = "failed"
    message.last_error = error
    message.next_attempt_at = now + backoff
    message.claimed_until = None
    return "retrying"


def _finish(message: OutboxMessage, status: str, error: str | None) -> None:
    message.status = status
    message.last_error = error
    message.claimed_until = None


def _stale_reason(message: OutboxMessage) -> str | None:
    """Why an invitation email must no longer go out, if it must not."""
    invitation = message.invitation
    if invitation is None:
        return None
    if message.invitation_version != invitation.version:
        return "superseded by a newer link"
    if not invitation.is_open:
        return f"invitation is {invitation.status}"
    if not invitation.interview.candidate.reachable:
        return "candidate opted out or bounced"
    return None


def _after_delivery(message: OutboxMessage, now: datetime) -> None:
    invitation = message.invitation
    if invitation is None:
        return
    if message.kind == "invitation":
        invitation.deliver(now, timedelta(days=current_app.config["SURVEY_EXPIRES_AFTER_DAYS"]))
    elif message.kind == "reminder":
        invitation.deliver_reminder(now)


def _after_giving_up(message: OutboxMessage, now: datetime, bounced: bool) -> None:
    invitation = message.invitation
    if bounced:
        db.session.execute(Candidate.bouncing(message.to_address, now))
    if invitation is not None and message.kind == "invitation":
        invitation.give_up()
