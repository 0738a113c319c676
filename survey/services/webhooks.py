"""Webhooks out, following the Standard Webhooks specification.

An event is written in the transaction of its cause (`emit`), with one delivery row per
endpoint that subscribed to its type. `deliver_webhooks` (run by `surveys send-due` and the
worker) claims due deliveries the way the email outbox claims messages (row locks with SKIP
LOCKED where the database has them, plus a lease), POSTs each with a hard deadline, and records
the outcome at once: 2xx is delivered; anything else is retried with exponential backoff until
WEBHOOK_MAX_ATTEMPTS, then given up.

Every request carries `webhook-id` (the event's id: the same on every retry, so a receiver can
drop duplicates), `webhook-timestamp` (seconds, the time of sending) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), keyed with the endpoint's `whsec_` secret.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, func, or_, select

from ..database import begin_claim
from ..extensions import db
from ..models import (
    WEBHOOK_EVENTS,
    User,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from .audit import record_event
from .errors import DomainError

FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
SECRET_PREFIX = "whsec_"
USER_AGENT = "Debrief-Webhooks/1"
# What is kept of a receiver's answer for the admin page.
ERROR_SNIPPET = 300


class WebhookError(DomainError):
    """A webhook request that cannot be carried out, with a message for people."""


# --- Endpoints and their secrets ---------------------------------------------------------------


def endpoint_secret(endpoint: WebhookEndpoint, key: str | None = None) -> str:
    """The endpoint's `whsec_` secret: derived from SECRET_KEY (or `key`) and the stored salt."""
    key = key if key is not None else current_app.config["SECRET_KEY"]
    raw = hmac.new(key.encode(), f"webhook-secret:{endpoint.secret_salt}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """Secrets to sign with: the current key's, then those of SECRET_KEY_FALLBACKS.

    While an old key is still a fallback, every request carries its signature too, so a receiver
    holding the secret printed before the key was rotated keeps verifying.
    """
    keys = [current_app.config["SECRET_KEY"], *current_app.config.get("SECRET_KEY_FALLBACKS", [])]
    return [endpoint_secret(endpoint, key) for key in keys]


def parse_events(value: str | Iterable[str]) -> list[str]:
    """Event types from a comma-separated string or a list; raises WebhookError on an unknown one."""
    items = value.split(",") if isinstance(value, str) else list(value)
    events = [item.strip() for item in items if item and item.strip()]
    if not events:
        raise WebhookError(f"Choose at least one event: {', '.join(WEBHOOK_EVENTS)}.")
    unknown = [event for event in events if event not in WEBHOOK_EVENTS]
    if unknown:
        raise WebhookError(f"Unknown event {unknown[0]!r}; choose from {', '.join(WEBHOOK_EVENTS)}.")
    return sorted(set(events), key=WEBHOOK_EVENTS.index)


def create_endpoint(
    url: str, events: str | Iterable[str], actor: User | None = None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown once, never stored). `actor`: the
    admin who registers it (None: a command)."""
    url = check_url(url.strip())
    endpoint = WebhookEndpoint(url=url, events=parse_events(events), secret_salt=secrets.token_hex(16))
    db.session.add(endpoint)
    db.session.flush()
    record_event("webhook.created", {"id": endpoint.id, "url": url, "events": endpoint.events}, actor=actor)
    db.session.commit()
    return endpoint, endpoint_secret(endpoint)


def delete_endpoint(endpoint_id: int, actor: User | None = None) -> WebhookEndpoint:
    """Remove an endpoint with its queued and past deliveries (`actor`: the admin, None: a command)."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookError(f"No webhook with id {endpoint_id}.")
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    # Events no other endpoint is waiting for are of no further use.
    db.session.execute(delete(WebhookEvent).where(~WebhookEvent.id.in_(select(WebhookDelivery.event_id))))
    record_event("webhook.deleted", {"id": endpoint_id, "url": endpoint.url}, actor=actor)
    db.session.commit()
    return endpoint


def list_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def endpoint_summaries(endpoints: list[WebhookEndpoint]) -> list[tuple[WebhookEndpoint, dict[str, int]]]:
    """Each endpoint with its deliveries counted by status (one grouped query)."""
    rows = db.session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
    )
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status, n in rows:
        counts.setdefault(endpoint_id, {})[status] = n
    return [(endpoint, counts.get(endpoint.id, {})) for endpoint in endpoints]


def recent_deliveries(limit: int = 50) -> list[WebhookDelivery]:
    """The latest deliveries with their event and endpoint, newest first."""
    from sqlalchemy.orm import joinedload

    stmt = (
        select(WebhookDelivery)
        .options(joinedload(WebhookDelivery.event), joinedload(WebhookDelivery.endpoint))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def send_again(delivery_id: int, now: datetime | None = None) -> WebhookDelivery:
    """Queue a delivery once more, now, with a fresh count of tries (same event id)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise WebhookError("No such delivery.")
    now = now or utcnow()
    if delivery.claimed_until is not None and delivery.claimed_until > now:
        raise WebhookError("This delivery is being sent right now.")
    delivery.status = WebhookDeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    db.session.commit()
    return delivery


# --- Addresses: what a webhook may point at (SSRF) ---------------------------------------------


def _production() -> bool:
    return current_app.config.get("ENV_NAME") == "production"


def _refuse_private() -> bool:
    return _production() and not current_app.config.get("WEBHOOK_ALLOW_PRIVATE", False)


def check_url(url: str) -> str:
    """The URL if a webhook may use it; raises WebhookError saying why not.

    https only in production (http is fine in development and tests); in production, a host
    that resolves to loopback, private, link-local or otherwise non-public addresses is refused
    unless WEBHOOK_ALLOW_PRIVATE is set, so a webhook cannot be aimed at the internal network.
    """
    if len(url) > 2000:
        raise WebhookError("The URL is too long (2,000 characters at most).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookError(f"Not a valid URL: {exc}.") from exc
    allowed = ("https",) if _production() else ("https", "http")
    if parts.scheme not in allowed:
        raise WebhookError(
            "The URL must start with https://" + ("" if _production() else " or http://") + "."
        )
    if not parts.hostname:
        raise WebhookError("The URL has no host name.")
    if parts.username or parts.password:
        raise WebhookError("Put no user name or password in the URL; the signature authenticates us.")
    if _refuse_private():
        resolve_public(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def _non_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return not address.is_global or address.is_multicast


def resolve_public(host: str, port: int) -> str:
    """One address of the host, checked: every address it resolves to must be public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookError(f"The host {host} cannot be resolved.") from exc
    addresses = [info[4][0] for info in infos]
    for text in addresses:
        if _non_public(ipaddress.ip_address(text.split("%", 1)[0])):
            raise WebhookError(
                f"The host {host} resolves to a loopback or private address ({text}); "
                "set WEBHOOK_ALLOW_PRIVATE=true to allow it."
            )
    return addresses[0]


# --- Events ------------------------------------------------------------------------------------


def new_event_id() -> str:
    """A unique event id, as Standard Webhooks suggests: msg_ and random characters."""
    return f"msg_{uuid.uuid4().hex}"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as the JSON API writes times."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def emit(event_type: str, data: dict[str, Any], now: datetime | None = None) -> WebhookEvent | None:
    """Write an event and its deliveries in the caller's transaction (the caller commits).

    Nothing is written when no endpoint subscribed to this type.
    """
    if event_type not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event_type}")
    endpoints = [e for e in db.session.scalars(select(WebhookEndpoint)) if event_type in (e.events or [])]
    if not endpoints:
        return None
    now = now or utcnow()
    body = json.dumps({"type": event_type, "timestamp": iso(now), "data": data}, separators=(",", ":"))
    event = WebhookEvent(id=new_event_id(), type=event_type, body=body, created_at=now)
    db.session.add(event)
    for endpoint in endpoints:
        db.session.add(WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now, created_at=now))
    return event


# --- Signing and sending -----------------------------------------------------------------------


def sign(secret: str, event_id: str, timestamp: int, body: str) -> str:
    """One `v1,<base64>` signature of "id.timestamp.body" (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(endpoint: WebhookEndpoint, event: WebhookEvent, timestamp: int) -> dict[str, str]:
    """The request headers of one delivery attempt."""
    signatures = " ".join(
        sign(secret, event.id, timestamp, event.body) for secret in signing_secrets(endpoint)
    )
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


@dataclass
class Attempt:
    """What one POST came to."""

    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer: the receiver has the event."""
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: str, headers: dict[str, str], timeout: float) -> Attempt:
    """POST the body, with `timeout` as a hard limit on the whole exchange (not per read).

    The connection goes to the address checked by resolve_public (no second DNS lookup that a
    rebinding name could answer differently); TLS still checks the certificate for the host name.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve_public(parts.hostname, port) if _refuse_private() else parts.hostname
    except WebhookError as exc:
        return Attempt(error=str(exc))
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, port, timeout=timeout)
    connection._create_connection = lambda _addr, *args, **kwargs: socket.create_connection(  # type: ignore[attr-defined]
        (address, port), *args, **kwargs
    )
    # A receiver that trickles bytes would beat a per-read timeout: cut the socket at the deadline.
    cut = threading.Event()
    watchdog = threading.Timer(timeout, _cut, args=(connection, cut))
    watchdog.daemon = True
    watchdog.start()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        answer = response.read(ERROR_SNIPPET).decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) or cut.is_set() else str(exc)
        return Attempt(error=f"{exc.__class__.__name__}: {reason}"[:ERROR_SNIPPET])
    finally:
        watchdog.cancel()
        connection.close()
    if cut.is_set():
        # Cut mid-answer, what was read may look complete (a status line, then EOF): it is not.
        return Attempt(error=f"timed out after {timeout} s without a complete answer")
    if 200 <= response.status < 300:
        return Attempt(response.status)
    return Attempt(response.status, f"HTTP {response.status}: {answer}".strip()[:ERROR_SNIPPET])


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing left to cut
            sock.shutdown(socket.SHUT_RDWR)


@dataclass
class WebhookSummary:
    """What one delivery run did."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    pruned: int = 0
    delivered_ids: list[int] = field(default_factory=list)

    @property
    def did_something(self) -> bool:
        """Whether any delivery was attempted."""
        return bool(self.delivered or self.retrying or self.dead)


def deliver_webhooks(now: datetime | None = None, max_batches: int | None = None) -> WebhookSummary:
    """Send every due delivery, batch by batch, until none is left."""
    report = WebhookSummary()
    batches = 0
    while max_batches is None or batches < max_batches:
        batch = claim_deliveries(now or utcnow())
        if not batch:
            break
        batches += 1
        for delivery in batch:
            _attempt(delivery, report, now or utcnow())
    report.pruned = prune_history(now or utcnow())
    return report


def prune_history(now: datetime) -> int:
    """Forget finished deliveries older than WEBHOOK_HISTORY_DAYS, and events nobody waits for.

    Event bodies carry candidates' answers: they are kept only as long as the admin page needs them.
    """
    cutoff = now - timedelta(days=current_app.config["WEBHOOK_HISTORY_DAYS"])
    result = db.session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status.in_((WebhookDeliveryStatus.DELIVERED, WebhookDeliveryStatus.DEAD)),
            WebhookDelivery.created_at < cutoff,
        )
    )
    db.session.execute(
        delete(WebhookEvent).where(
            WebhookEvent.created_at < cutoff, ~WebhookEvent.id.in_(select(WebhookDelivery.event_id))
        )
    )
    db.session.commit()
    return result.rowcount or 0


def claim_deliveries(now: datetime) -> list[WebhookDelivery]:
    """Lease the next due deliveries to this process and commit the lease.

    The lease outlasts the batch: each request is cut at WEBHOOK_TIMEOUT_SECONDS, so no other
    worker can take a row while this one may still be sending it.
    """
    size = current_app.config["WEBHOOK_BATCH_SIZE"]
    lease = timedelta(seconds=(size + 1) * current_app.config["WEBHOOK_TIMEOUT_SECONDS"] + 60)
    stmt = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.status.in_((WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.RETRYING)),
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(size)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    begin_claim(db.session)
    batch = list(db.session.scalars(stmt))
    for delivery in batch:
        delivery.claimed_until = now + lease
    db.session.commit()
    return batch


def _attempt(delivery: WebhookDelivery, report: WebhookSummary, now: datetime) -> None:
    endpoint, event = delivery.endpoint, delivery.event
    headers = signed_headers(endpoint, event, int(time.time()))
    result = post(endpoint.url, event.body, headers, current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = result.status_code
    delivery.claimed_until = None
    if result.ok:
        delivery.status = WebhookDeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.last_error = None
        report.delivered += 1
        report.delivered_ids.append(delivery.id)
    elif delivery.attempts >= current_app.config["WEBHOOK_MAX_ATTEMPTS"]:
        delivery.status = WebhookDeliveryStatus.DEAD
        delivery.last_error = result.error
        report.dead += 1
    else:
        delivery.status = WebhookDeliveryStatus.RETRYING
        delivery.last_error = result.error
        delivery.next_attempt_at = now + min(FIRST_BACKOFF * 2 ** (delivery.attempts - 1), MAX_BACKOFF)
        report.retrying += 1
    db.session.commit()
