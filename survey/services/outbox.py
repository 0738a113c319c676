"""The durable email outbox: enqueue in the caller's transaction, deliver in batches.

Each batch is claimed (row locks with SKIP LOCKED where the database has them, plus a
short lease so a dead worker's claim runs out within a minute), then sent over one SMTP
connection (or MAIL_CONNECTIONS in parallel). The delivering worker keeps a batch for at
most a quarter of the lease before claiming afresh, and records an outcome only while the
lease is still its own. Every message's outcome is committed as soon as it is known, so a
crash repeats at most the messages that were in flight (one per connection).

Time is read when it is needed (at each claim, message and send) from a clock, never once
per pass: a long pass must not claim with a lease that has already run out, nor record a
message as sent before it was written.
"""

from __future__ import annotations

import queue
import re
import secrets
import smtplib
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.utils import formatdate, make_msgid
from functools import cache, lru_cache
from typing import Any

from flask import current_app, render_template
from flask_mail import (
    BadHeaderError,
    Connection,
    Message,
    email_dispatched,
    sanitize_address,
    sanitize_subject,
)
from sqlalchemy import Integer, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ..database import begin_claim
from ..driver_sql import DriverStatement, per_database, prepare
from ..extensions import db
from ..i18n import bound_gettext
from ..mailing import company_sender, sender_address
from ..models import (
    OUTBOX_DUE_STATUSES,
    Candidate,
    Interview,
    Invitation,
    InvitationStatus,
    OutboxMessage,
    OutboxStatus,
    utcnow,
)
from .report_facts import LEVELS, add_first_sends, interview_scope_ids, sent_added_to

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
    context = {"company": current_app.config["COMPANY_NAME"], "gettext": bound_gettext(), **context}
    return enqueue_rendered(
        kind,
        to_address,
        subject,
        render_template(f"email/{template}.txt", **context),
        render_template(f"email/{template}.html", **context),
        invitation=invitation,
        headers=headers,
        now=now,
    )


def enqueue_rendered(
    kind: str,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str,
    *,
    invitation: Invitation | None = None,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Write an email already rendered (text and HTML) into an outbox row; the caller commits."""
    message = OutboxMessage(
        **_email_columns(kind, to_address, subject, body_text, body_html, headers, now),
        invitation=invitation,
        invitation_version=invitation.version if invitation else None,
    )
    db.session.add(message)
    return message


def outbox_row(
    kind: str,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str,
    *,
    invitation: Invitation,
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The outbox row of an email already rendered for a stored invitation, by column, as
    enqueue_rendered would write it: for enqueue_rows to write with others."""
    return {
        **_email_columns(kind, to_address, subject, body_text, body_html, headers, now),
        "invitation_id": invitation.id,
        "invitation_version": invitation.version,
    }


def _email_columns(
    kind: str,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str,
    headers: dict[str, str] | None,
    now: datetime | None,
) -> dict[str, Any]:
    """A new pending email's own columns (the invitation's are the caller's)."""
    return {
        "kind": kind,
        "to_address": to_address,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "headers": headers or {},
        "message_id": make_msgid(domain=_sender_domain()),
        "status": OutboxStatus.PENDING,
        "next_attempt_at": now or utcnow(),
    }


def enqueue_rows(rows: list[dict[str, Any]]) -> None:
    """Write emails (outbox_row's) with one INSERT, without an object per email; the caller commits.
    A sending pass writes a batch's hundred emails so."""
    if rows:
        db.session.execute(insert(OutboxMessage), rows)


def _sender_domain() -> str:
    return sender_address().rsplit("@", 1)[-1].strip(" >") or "localhost"


@dataclass
class DeliverySummary:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0
    taken_over: int = 0
    smtp_error: str | None = None
    batches: int = 0


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

    def send(self, message: Message, envelope_from: str | None = None) -> None:
        """Flask-Mail's `Connection.send`, step for step, with the envelope's addresses encoded as
        an outbox email's headers are: the sender once per setting, a plain recipient address as it
        stands. Flask-Mail parses and encodes both again for every message (its sanitize_address),
        which was a tenth of a delivery's CPU; the addresses it would give are the same."""
        assert message.send_to, "No recipients have been added"
        assert message.sender, "The message does not specify a sender"
        if message.has_bad_headers():
            raise BadHeaderError
        if message.date is None:
            message.date = time.time()
        if self.host is not None:
            self.host.sendmail(
                _sanitized_envelope_sender(envelope_from or message.sender),
                [_sanitized_recipient(address) for address in message.send_to],
                message.as_bytes(),
                message.mail_options,
                message.rcpt_options,
            )
        email_dispatched.send(current_app._get_current_object(), message=message)
        self.num_emails += 1
        if self.num_emails == self.mail.max_emails:
            self.num_emails = 0
            if self.host:
                self.host.quit()
                self.host = self.configure_host()


def deliver_outbox(clock: Clock = utcnow, max_batches: int | None = None) -> DeliverySummary:
    """Send every due outbox message, batch by batch, until none is left or SMTP fails."""
    report = DeliverySummary()
    with _keep_batch_loaded():
        while max_batches is None or report.batches < max_batches:
            # What an earlier batch loaded may have changed since (a resend issued a newer link,
            # another worker recorded an outcome): the next batch reads its rows afresh.
            db.session.expire_all()
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
        # PostgreSQL: the connection (in autocommit) a batch's delivered messages are recorded
        # on, one statement each (_record_sent_at_once); None elsewhere and between batches.
        self.autocommit: Any = None

    def start(self) -> datetime:
        """Begin the lease now; the moment it was read."""
        self.taken = self.clock()
        self.until = self.taken + self.length
        return self.taken

    def fresh(self) -> bool:
        """Whether the batch may go on: less than a quarter of the lease since it was claimed."""
        return self.clock() < self.taken + self.length / 4

    def unexpired(self) -> bool:
        """Whether the lease has not run out yet: until then no other worker can take a message."""
        return self.clock() < self.until

    def still_holds(self, message: OutboxMessage) -> bool:
        """Before recording an outcome: whether the message is still this claim's.

        Certain while the lease has not run out; after that (a send that stalled past it),
        asked of the database, in the transaction that records the outcome.
        """
        if self.unexpired():
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
            OutboxMessage.status.in_(OUTBOX_DUE_STATUSES),
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


def _load_invitations(batch: list[OutboxMessage]) -> list[Invitation]:
    """Load, in one query, the invitations (with interview and candidate) the batch's checks read.

    The caller keeps the list while it sends: the objects stay in the session's identity map,
    so each message's `invitation.interview.candidate` is found there instead of being three
    lazy loads per email.
    """
    ids = {message.invitation_id for message in batch if message.invitation_id is not None}
    if not ids:
        return []
    stmt = (
        select(Invitation)
        .where(Invitation.id.in_(ids))
        .options(
            joinedload(Invitation.interview, innerjoin=True).joinedload(Interview.candidate, innerjoin=True)
        )
    )
    return list(db.session.scalars(stmt))


def _send_batch(batch: list[OutboxMessage], report: DeliverySummary, lease: Lease) -> None:
    loaded = _load_invitations(batch)  # noqa: F841  (held for the identity map while sending)
    # End the read: each outcome is recorded in a transaction of its own, which must see
    # (on SQLite, in a fresh snapshot) whether another worker has taken a message over.
    db.session.commit()
    state = current_app.extensions["mail"]
    where = f"{state.server}:{state.port}"
    connections = _connect(state, max(1, min(current_app.config["MAIL_CONNECTIONS"], len(batch))))
    if isinstance(connections, Exception):
        release_claims(batch, lease)
        raise TransportError(f"cannot connect to {where}: {connections}") from connections
    try:
        with _recording_connection(lease):
            if len(connections) == 1:
                _send_in_turn(connections[0], batch, report, lease, where)
            else:
                _send_in_parallel(connections, batch, report, lease, where)
    finally:
        for connection in connections:
            _close_quietly(connection)


@contextmanager
def _recording_connection(lease: Lease) -> Iterator[None]:
    """PostgreSQL: one connection in autocommit for the batch's delivered messages, checked out
    once (the pool pings a connection at each checkout: one round trip per batch, not per email)."""
    if db.engine.dialect.name != "postgresql":
        yield
        return
    with db.engine.connect() as connection:
        lease.autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield
        finally:
            lease.autocommit = None


def _connect(state, count: int) -> list[Connection] | Exception:
    """Up to `count` open SMTP connections; the error if not even one could be opened.

    Fewer than asked for (a server's per-client limit) is fine: the batch goes over those.
    """
    connections: list[Connection] = []
    for _ in range(count):
        connection = TimeoutConnection(state)
        try:
            connection.host = connection.configure_host()
        except (OSError, smtplib.SMTPException) as exc:
            return connections or exc
        connections.append(connection)
    return connections


def _send_in_turn(
    connection: Connection, batch: list[OutboxMessage], report: DeliverySummary, lease: Lease, where: str
) -> None:
    for index, message in enumerate(batch):
        if not lease.fresh():
            release_claims(batch[index:], lease)  # claimed again at once, after older due mail
            return
        try:
            _deliver_one(connection, message, report, lease)
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            release_claims(batch[index:], lease)
            raise TransportError(f"connection to {where} lost: {exc}") from exc


def _send_in_parallel(
    connections: list[Connection],
    batch: list[OutboxMessage],
    report: DeliverySummary,
    lease: Lease,
    where: str,
) -> None:
    """Hand the SMTP exchanges to one thread per connection; record each outcome here, in order.

    Only this thread touches the database, and each outcome is committed as soon as it is
    known, through the lease, as in turn; what can be repeated after a crash is the messages
    in flight, at most one per connection. No message is started once the lease is no longer
    fresh, nor after a connection is lost: the exchanges already started are finished and
    recorded, and the messages not started go back to the queue.
    """
    app = current_app._get_current_object()
    idle: queue.SimpleQueue[Connection] = queue.SimpleQueue()
    for connection in connections:
        idle.put(connection)

    def exchange(mail: Message) -> Exception | None:
        connection = idle.get()
        try:
            with app.app_context():  # Flask-Mail reads the app while sending
                return _attempt(connection, mail)
        finally:
            idle.put(connection)

    in_flight: deque[tuple[OutboxMessage, Future]] = deque()
    unsent: list[OutboxMessage] = []
    lost: Exception | None = None
    with ThreadPoolExecutor(max_workers=len(connections)) as pool:
        for index, message in enumerate(batch):
            # No more messages out than connections: the oldest is recorded before another is
            # handed over, so what a crash can repeat is at most one message per connection.
            while len(in_flight) >= len(connections):
                lost = _record_exchange(*in_flight.popleft(), report, lease, unsent) or lost
            if lost is not None or not lease.fresh():
                unsent.extend(batch[index:])  # claimed again at once (or after the outage)
                break
            if not _skip_if_stale(message, report, lease):
                in_flight.append((message, pool.submit(exchange, _to_mail(message))))
        while in_flight:
            lost = _record_exchange(*in_flight.popleft(), report, lease, unsent) or lost
    if unsent:
        release_claims(unsent, lease)
    if lost is not None:
        raise TransportError(f"connection to {where} lost: {lost}") from lost


def _record_exchange(
    message: OutboxMessage, exchange: Future, report: DeliverySummary, lease: Lease, unsent: list
) -> Exception | None:
    """Record one finished exchange; the transport error if the connection was lost instead."""
    try:
        error = exchange.result()
    except (OSError, smtplib.SMTPServerDisconnected) as exc:
        unsent.append(message)
        return exc
    _record_outcome(message, error, report, lease)
    return None


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
    connection: Connection, message: OutboxMessage, report: DeliverySummary, lease: Lease
) -> None:
    if _skip_if_stale(message, report, lease):
        return
    _record_outcome(message, _attempt(connection, _to_mail(message)), report, lease)


def _skip_if_stale(message: OutboxMessage, report: DeliverySummary, lease: Lease) -> bool:
    """Give up (and commit) a message that must no longer go out; whether it was."""
    reason = _stale_reason(message)
    if reason:
        _finish(message, OutboxStatus.DEAD, reason)
        _commit_outcome(message, "skipped", report, lease)
    return reason is not None


def _attempt(connection: Connection, mail: Message) -> Exception | None:
    """One SMTP exchange: None when accepted, the refusal otherwise.

    A lost connection (OSError, SMTPServerDisconnected) is raised instead: the server failed,
    not the message.
    """
    try:
        connection.send(mail)
    except (BadHeaderError, ValueError, smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
        return exc
    return None


def _record_outcome(
    message: OutboxMessage, error: Exception | None, report: DeliverySummary, lease: Lease
) -> None:
    """Record what the server said to one message, with the time read now, and commit it."""
    if isinstance(error, BadHeaderError | ValueError):
        # The message itself can never be sent (e.g. a newline in a header): give it up at once,
        # so one bad row cannot stop every message queued behind it.
        _finish(message, OutboxStatus.DEAD, f"unsendable: {error.__class__.__name__}: {error}"[:500])
        _after_giving_up(message, lease.clock(), bounced=False)
        outcome = "dead"
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        outcome = _record_failure(message, code, text, lease.clock(), recipient_refused=True)
    elif isinstance(error, smtplib.SMTPResponseException):
        outcome = _record_failure(message, error.smtp_code, error.smtp_error, lease.clock())
    else:
        sent_at = lease.clock()  # when the server took it: never before it was written
        if _record_sent_at_once(message, sent_at, lease):
            report.sent += 1
            return
        _record_sent(message, sent_at)
        outcome = "sent"
    _commit_outcome(message, outcome, report, lease)


def _record_sent_at_once(message: OutboxMessage, sent_at: datetime, lease: Lease) -> bool:
    """PostgreSQL: a delivered message's whole outcome (its row, its invitation's, a first send's
    facts) as one statement in autocommit, which is its own transaction: one round trip instead
    of five (begin, three statements, commit). Whether it was recorded so; if not, the caller
    records it in a transaction of the session's (at most the invitation's row was written, with
    the values the session's way writes again: a message row gone meanwhile).

    Only while the lease is certainly this worker's (after that, the outcome is recorded through
    the lease, in the session's transaction), and the message row must still name this claim. A
    first send whose interview's scope does not exist yet at all three levels writes nothing: the
    long way creates the scope. Nor does a delivery whose invitation changed since the batch was
    loaded (see _decided_from): the long way decides again from the row as it is.
    """
    connection = lease.autocommit
    if connection is None or not lease.unexpired():
        return False
    invitation = message.invitation if message.kind in ("invitation", "reminder") else None
    values: dict[str, Any] = {"message_row_id": message.id, "lease_token": lease.token}
    message_changes = _sent_changes(sent_at)
    values |= {f"message_{name}": value for name, value in message_changes.items()}
    invitation_changes: dict[str, Any] = {}
    decided_from: tuple[str, ...] = ()
    if invitation is not None:
        invitation_changes = _invitation_delivered(message, invitation, sent_at)
        decided_from = _decided_from(message, invitation, invitation_changes)
        values |= {f"invitation_{name}": value for name, value in invitation_changes.items()}
        values |= {"invitation_row_id": invitation.id, "scope_interview_id": invitation.interview_id, "n": 1}
        values["loaded_version"] = message.invitation_version
    columns = tuple(invitation_changes) if invitation is not None else None
    written = connection.execute(_sent_at_once_statement(columns, decided_from), values).all()
    if len(written) != (len(LEVELS) if "sent_at" in decided_from else 1):
        return False
    if invitation is not None:
        _keep_in_step(invitation, invitation_changes)
    _keep_in_step(message, message_changes)
    return True


def _sent_changes(sent_at: datetime) -> dict[str, Any]:
    """A delivered message's row, by column."""
    return {"status": OutboxStatus.SENT, "last_error": None, "claimed_until": None, "sent_at": sent_at}


def _invitation_delivered(
    message: OutboxMessage, invitation: Invitation, sent_at: datetime
) -> dict[str, Any]:
    """What a delivered invitation (or reminder) email changes in its invitation's row."""
    if message.kind == "reminder":
        return invitation.reminder_delivered(sent_at)
    valid_for = timedelta(days=current_app.config["SURVEY_EXPIRES_AFTER_DAYS"])
    return invitation.delivered(sent_at, valid_for)


def _decided_from(message: OutboxMessage, invitation: Invitation, changes: dict[str, Any]) -> tuple[str, ...]:
    """The invitation's columns whose values, as loaded with the batch, decided what its delivery
    writes: `version` still the email's link (an email of an older link changes nothing of a newer
    one), `sent_at` still empty makes it a first send (one more `sent` fact), `status` still
    scheduled makes it sent. The UPDATE holds only while all are so: between the batch's read and
    the outcome, a recruiter may have cancelled the survey, or resent it (and another worker may
    have delivered the new link, which was then the first send)."""
    decided_from: tuple[str, ...] = ("version",)
    if message.kind == "invitation" and invitation.sent_at is None:
        decided_from += ("sent_at",)
    if "status" in changes:
        decided_from += ("status",)
    return decided_from


def _still_as_loaded(invitations: Any, decided_from: tuple[str, ...]) -> list[Any]:
    """SQL conditions that the columns named by _decided_from still hold the values they had (the
    email's link version is bound as `loaded_version`)."""
    conditions = []
    if "version" in decided_from:
        conditions.append(invitations.c.version == bindparam("loaded_version", type_=Integer))
    if "sent_at" in decided_from:
        conditions.append(invitations.c.sent_at.is_(None))
    if "status" in decided_from:
        conditions.append(invitations.c.status == InvitationStatus.SCHEDULED.value)
    return conditions


@lru_cache(maxsize=16)
def _sent_at_once_statement(invitation_columns: tuple[str, ...] | None, decided_from: tuple[str, ...]) -> Any:
    """PostgreSQL: a delivered message's outcome in one statement. Its invitation's row first,
    then the message's, then a first send's facts (each data-modifying CTE waits for the one
    before through the EXISTS that reads it): the order the flush writes them in, so a
    transaction that changes the same rows locks them in the same order and waits instead of
    deadlocking. A first send writes nothing unless its scope exists at all three levels, and
    no delivery writes anything unless its invitation is still as loaded (_decided_from).
    No bind is named as a column of a table it updates (SQLAlchemy would add it to the SET)."""
    outbox, invitations = OutboxMessage.__table__, Invitation.__table__
    message = _update_statement(outbox, tuple(_sent_changes(utcnow())), prefix="message_")
    message = message.where(outbox.c.claimed_by == bindparam("lease_token"))
    if invitation_columns is None:
        return message.returning(outbox.c.id)
    invitation = _update_statement(invitations, invitation_columns, decided_from, prefix="invitation_")
    first_send = "sent_at" in decided_from
    scopes = interview_scope_ids("postgresql", bindparam("scope_interview_id")).cte("first_send_scopes")
    if first_send:
        invitation = invitation.where(select(func.count(scopes.c.id)).scalar_subquery() == len(LEVELS))
    delivered_invitation = invitation.returning(invitations.c.id).cte("delivered_invitation")
    delivered = (
        message.where(exists(select(delivered_invitation.c.id)))
        .returning(outbox.c.id)
        .cte("delivered_message")
    )
    if not first_send:
        return select(delivered.c.id).add_cte(delivered_invitation, delivered)
    facts = sent_added_to("postgresql", scopes, exists(select(delivered.c.id)))
    return facts.add_cte(scopes, delivered_invitation, delivered)


def _keep_in_step(row: Any, changes: dict[str, Any]) -> None:
    """The loaded object's columns as now committed, so that no flush writes them again."""
    for name, value in changes.items():
        set_committed_value(row, name, value)


def _record_sent(message: OutboxMessage, sent_at: datetime) -> None:
    """Write a delivered message's row and its invitation's (sent or reminded) in the outcome's
    transaction, with one cached UPDATE each, and the facts a first delivery adds.

    The rows' new values are what the models' own transitions give (Invitation.delivered …);
    they are written directly rather than through the session's flush, whose bookkeeping for
    two changed objects cost more than the rest of the outcome, and the loaded objects are kept
    in step (as committed), so the commit after this writes nothing more.
    """
    connection = db.session.connection()
    # The invitation's row first, then the message's, as the flush orders them: a transaction
    # that changes both (a resend) locks them in the same order and waits instead of deadlocking.
    invitation, first_send = message.invitation, False
    if invitation is not None and message.kind in ("invitation", "reminder"):
        first_send = _write_invitation_delivered(connection, message, invitation, sent_at)
    _write_through(connection, message, _sent_changes(sent_at))
    if first_send:
        add_first_sends(connection, [invitation.interview_id])


def _write_invitation_delivered(
    connection: Any, message: OutboxMessage, invitation: Invitation, sent_at: datetime
) -> bool:
    """Write what the delivery changes in its invitation's row; whether it was the first send.

    Decided from the row as loaded with the batch, if it is still so (_decided_from); otherwise
    from the row read again and locked till the commit (on PostgreSQL only this row, as an UPDATE
    locks it; on SQLite by the write lock the UPDATE that found it changed already took). An
    email of a link that a resend has replaced changes nothing of the new link's row."""
    changes = _invitation_delivered(message, invitation, sent_at)
    decided_from = _decided_from(message, invitation, changes)
    statement = _prepared_update(connection.dialect, Invitation.__table__, tuple(changes), decided_from)
    values = {"row_id": invitation.id, "loaded_version": message.invitation_version, **changes}
    if statement.execute(connection, values).rowcount == 1:
        _keep_in_step(invitation, changes)
        return "sent_at" in decided_from
    as_it_is = connection.execute(_locked_decision_statement(), {"row_id": invitation.id}).one()
    _keep_in_step(invitation, dict(as_it_is._mapping))
    if invitation.version != message.invitation_version:
        return False
    changes = _invitation_delivered(message, invitation, sent_at)
    first_send = "sent_at" in _decided_from(message, invitation, changes)
    _write_through(connection, invitation, changes)
    return first_send


@cache
def _locked_decision_statement() -> Any:
    """The invitation's columns a delivery is decided from, its row locked (FOR NO KEY UPDATE)."""
    invitations = Invitation.__table__
    return (
        select(invitations.c.version, invitations.c.sent_at, invitations.c.status)
        .where(invitations.c.id == bindparam("row_id"))
        .with_for_update(key_share=True)
    )


def _write_through(connection: Any, row: Any, changes: dict[str, Any]) -> None:
    """UPDATE one loaded row's columns by its id, and keep the object in step as committed."""
    statement = _prepared_update(connection.dialect, type(row).__table__, tuple(changes))
    statement.execute(connection, {"row_id": row.id, **changes})
    _keep_in_step(row, changes)


@per_database
def _prepared_update(
    dialect: Any, table: Any, columns: tuple[str, ...], decided_from: tuple[str, ...] = ()
) -> DriverStatement:
    """The UPDATE as the driver's own SQL, prepared once per database (see driver_sql.py): a
    delivery runs two per email, and SQLAlchemy's per-execution work cost more than each."""
    return prepare(_update_statement(table, columns, decided_from), dialect)


@lru_cache(maxsize=16)
def _update_statement(
    table: Any, columns: tuple[str, ...], decided_from: tuple[str, ...] = (), prefix: str = ""
) -> Any:
    """One row's UPDATE by its id (bound as `<prefix>row_id`), each column from the bind
    `<prefix><column>`: a prefix keeps two UPDATEs of one statement apart. An invitation's holds
    only while its row is still as loaded (_decided_from)."""
    return (
        update(table)
        .where(table.c.id == bindparam(f"{prefix}row_id"), *_still_as_loaded(table, decided_from))
        .values({name: bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in columns})
    )


def _commit_outcome(message: OutboxMessage, outcome: str, report: DeliverySummary, lease: Lease) -> None:
    """Commit one message's outcome, unless its lease ran out and another worker took it over."""
    if not lease.still_holds(message):
        db.session.rollback()
        report.taken_over += 1
        current_app.logger.warning("outbox message %s: lease lost mid-send; left to its holder", message.id)
        return
    setattr(report, outcome, getattr(report, outcome) + 1)
    db.session.commit()


@lru_cache(maxsize=8)
def _sanitized_sender(sender: str) -> str:
    # company_sender() is formataddr's output: already encoded for the wire (RFC 2047) when the
    # company name is not ASCII. Flask-Mail's sanitizer would encode that encoding once more.
    return sender if sender.isascii() else sanitize_address(sender)


@lru_cache(maxsize=8)
def _sanitized_envelope_sender(sender: str) -> str:
    return sanitize_address(sender)


# A bare address of these characters is what Flask-Mail's sanitize_address returns unchanged.
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def _sanitized_recipient(address: str | tuple[str, str]) -> str:
    """A recipient as Flask-Mail's sanitize_address writes it; a plain address (the usual case)
    needs no parsing or encoding."""
    if isinstance(address, str) and PLAIN_ADDRESS.fullmatch(address):
        return address
    return sanitize_address(address)


class OutboxMail(Message):
    """Flask-Mail's Message for one outbox row, written out as bytes directly.

    Flask-Mail wraps the text/HTML alternative in a second multipart, switches the finished
    tree to the SMTP policy (which parses every header again while writing it), and searches
    both bodies with a freshly compiled pattern to pick a MIME boundary; its constructor also
    looks up the host name for a Message-ID we replace. Here: one multipart/alternative of the
    two rendered parts, written as the `email` package writes it (compat32, SMTP line endings,
    the bodies as 7bit or 8bit UTF-8 as Flask-Mail's charset setting has them), but in one pass
    over plain strings instead of building and generating a tree of MIME objects per message;
    headers encoded once by Flask-Mail's sanitizers, and a random boundary that cannot occur in
    the text. Flask-Mail still checks the headers (BadHeaderError) and sends the bytes.
    """

    def __init__(self, message: OutboxMessage):
        # Message.__init__'s fields, set here so that no Message-ID is made (make_msgid looks
        # up the host name) only to be replaced by the one the outbox row keeps.
        self.sender = company_sender()
        self.recipients = [message.to_address]
        self.subject = message.subject
        self.reply_to = None
        self.cc, self.bcc, self.attachments = [], [], []
        self.body = message.body_text
        self.alts = {"html": message.body_html}
        self.date = None
        self.msgId = message.message_id
        self.charset = None
        # Every email here is sent by the system, not typed by a person (RFC 3834): no auto-replies.
        self.extra_headers = {"Auto-Submitted": "auto-generated", **(message.headers or {})}
        self.mail_options, self.rcpt_options = [], []

    def as_bytes(self) -> bytes:
        encoding = self.charset or "utf-8"
        boundary = f"=_debrief_{secrets.token_hex(16)}"
        headers = [
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
            ("MIME-Version", "1.0"),
            ("Subject", sanitize_subject(self.subject, encoding)),
            ("From", _sanitized_sender(self.sender)),
            ("To", ", ".join(_sanitized_recipient(address) for address in self.recipients)),
            ("Date", formatdate(self.date, localtime=True)),
            ("Message-ID", self.msgId),
            *((name, _extra_header(value)) for name, value in (self.extra_headers or {}).items()),
        ]
        parts = [("plain", self.body), *self.alts.items()]
        return write_alternative(headers, parts, boundary, encoding)


CRLF = "\r\n"


def write_alternative(
    headers: list[tuple[str, str]], parts: list[tuple[str, str]], boundary: str, encoding: str = "utf-8"
) -> bytes:
    """A multipart/alternative email, byte for byte as the `email` package writes it (compat32,
    SMTP line endings, each text part 7bit or 8bit): the headers (encoded for the wire already;
    their only line breaks are the sanitizers' folding), then each (subtype, text) part."""
    lines = [f"{name}: {value}".replace("\n", CRLF) for name, value in headers]
    lines.append("")  # the blank line that ends the headers
    for subtype, text in parts:
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="{encoding}"',
            "MIME-Version: 1.0",
            f"Content-Transfer-Encoding: {'7bit' if text.isascii() else '8bit'}",
            "",
            _with_smtp_line_endings(text),
        ]
    lines += [f"--{boundary}--", ""]
    return CRLF.join(lines).encode(encoding)


def _with_smtp_line_endings(text: str) -> str:
    """Every line break (CRLF, CR or LF) written as CRLF, as the email package's generator does."""
    return text.replace(CRLF, "\n").replace("\r", "\n").replace("\n", CRLF)


def _extra_header(value: str) -> str:
    """An extra header's value, encoded for the wire; a line break in it makes the message unsendable."""
    if "\r" in value or "\n" in value:
        raise BadHeaderError
    return value if value.isascii() else Header(value, "utf-8").encode()


def _to_mail(message: OutboxMessage) -> Message:
    return OutboxMail(message)


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
        _finish(message, OutboxStatus.DEAD, error)
        _after_giving_up(message, now, bounced=permanent and recipient_refused)
        return "dead"
    backoff = min(FIRST_BACKOFF * 2 ** (message.attempts - 1), MAX_BACKOFF)
    message.status = OutboxStatus.RETRYING
    message.last_error = error
    message.next_attempt_at = now + backoff
    message.claimed_until = None
    return "retrying"


def _finish(message: OutboxMessage, status: OutboxStatus, error: str | None) -> None:
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


def _after_giving_up(message: OutboxMessage, now: datetime, bounced: bool) -> None:
    invitation = message.invitation
    # The invitation's row, then the message's, then the candidate's: the order every other writer
    # of them locks them in (a delivery, an erasure), so a concurrent one waits instead of
    # deadlocking.
    with db.session.no_autoflush:
        if invitation is not None and message.kind == "invitation":
            giving_up = Invitation.giving_up(invitation.id, message.invitation_version)
            db.session.execute(giving_up.execution_options(synchronize_session="fetch"))
    if bounced:
        db.session.flush()  # the message's row
        db.session.execute(Candidate.bouncing(message.to_address, now))
