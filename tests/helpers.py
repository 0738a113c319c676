"""Small helpers the tests share."""

from __future__ import annotations

import os
import random
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from html.parser import HTMLParser

from aiosmtpd.controller import Controller
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import event, text

from survey.extensions import db

CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
URL_PATTERN = re.compile(r"https?://\S+")


# The suite runs on PostgreSQL when TEST_DATABASE_URL names one, else on a SQLite file per test.
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = POSTGRES_URL.startswith("postgresql")


def empty_tables() -> None:
    """Empty every table of the run's shared PostgreSQL database (tests there truncate, never drop)."""
    names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()


# Ports handed out in this run: a server may bind its port long after it was picked.
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody is listening on right now, never handed out before in this run.

    Picked below the kernel's range for the local ports of outgoing connections: a port picked
    in that range (what binding port 0 gives) can be taken, before the test's server binds it, by
    any connection the run opens meanwhile (to PostgreSQL, to the browser), which once failed a
    CI run with "address already in use".
    """
    for port in random.sample(_ports_for_servers(), k=200):
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free loopback port outside the range of outgoing connections")


def _ports_for_servers() -> range:
    """Unprivileged ports outside the kernel's range for outgoing connections' local ports (Linux's
    default where it cannot be read): the larger stretch, below it or above it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low, high = (int(value) for value in ports.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    below, above = range(10_000, low), range(high + 1, 65_536)
    chosen = max(below, above, key=len)
    if len(chosen) < 1_000:
        raise RuntimeError(f"the outgoing connections' ports ({low}-{high}) leave no room for test servers")
    return chosen


def interview_payload(**overrides) -> dict:
    """A valid API payload; keyword arguments replace top-level fields."""
    payload = {
        "candidate": {"name": "Cara Candidate", "email": "cara@example.org"},
        "position": {"title": "Backend Engineer", "department": "Engineering", "location": "Berlin"},
        "stage": "Technical",
        "hiring_manager": "Hugo Manager",
        "interviewers": ["Ines Interviewer"],
        "recruiter_email": "rita.recruiter@example.com",
        "starts_at": "2026-11-20T09:00:00Z",
        "ends_at": "2026-11-20T10:00:00Z",
        "external_id": "ats-1",
    }
    payload.update(overrides)
    return payload


def new_interview_form(page: str, **fields: str) -> dict[str, str]:
    """The recruiter's new-interview form as a browser posts it from `page`, with `fields` set."""
    return {
        "csrf_token": csrf_token(page),
        "candidate_name": "Greta",
        "candidate_email": "greta@example.org",
        "position_title": "Backend Engineer",
        "stage": "Onsite",
        **fields,
    }


def csrf_token(html: str) -> str:
    """The CSRF token in a rendered form."""
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token in page"
    return match.group(1)


def link_path(url: str) -> str:
    """The path of an absolute link from an email."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def survey_link(message) -> str:
    """The survey link (path only) in an email's text part."""
    text = text_part(message)
    links = [u for u in URL_PATTERN.findall(text) if "/s/" in u and not u.endswith("/opt-out")]
    assert links, text
    return link_path(links[0])


def opt_out_link(message) -> str:
    """The one-click opt-out link (path only) in an email's text part."""
    links = [u for u in URL_PATTERN.findall(text_part(message)) if u.endswith("/opt-out")]
    assert links
    return link_path(links[0])


def text_part(message) -> str:
    """The decoded text/plain part of an email."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


STAFF_PASSWORD = "password-123"
ANY_CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ANY_CSRF_BYTES = re.compile(rb'(name="csrf_token"[^>]*value=")[^"]+"')


def without_csrf_tokens(body: bytes) -> bytes:
    """A page with its CSRF token values blanked: every request signs a fresh one (with the time in it)."""
    return ANY_CSRF_BYTES.sub(rb'\1"', body)


@contextmanager
def recorded_statements(parameters: bool = False) -> Iterator[list]:
    """The SQL statements the database runs inside the block, in order (to count a page's queries);
    with `parameters`, each as (statement, its parameters: a list of them for an executemany)."""
    statements: list = []

    def record(conn, cursor, statement, params, context, executemany):
        statements.append((statement, params) if parameters else statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


class VisitorClient(FlaskClient):
    """A test client whose every request runs in an app context of its own, as in a real server.

    The test itself holds an app context (for `db.session`); without this, its requests would share
    that context's `g` (Flask-Login's cached user, Flask-WTF's CSRF token) and its database session.
    After each request the test's session forgets what it had loaded, so it reads what the request wrote.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
            # Read a streamed body while the request's context still exists.
            response.get_data()
        if has_app_context():
            db.session.expire_all()
        return response


def make_app(config_class) -> Flask:
    """The app for a test, with a client that gives every request its own app context."""
    from survey import create_app

    app = create_app(config_class)
    app.test_client_class = VisitorClient
    return app


@contextmanager
def app_on_fresh_database(config_class) -> Iterator[Flask]:
    """The app with an app context held, on a fresh database: SQLite tables made and dropped after,
    or the run's shared PostgreSQL tables emptied (never dropped)."""
    from survey.services.question_sets import seed_default_set

    app = make_app(config_class)
    with app.app_context():
        if ON_POSTGRES:
            empty_tables()
        else:
            db.create_all()
        # What the migrations seed: the default question set (DESIGN's v1) as version id 1.
        seed_default_set()
        yield app
        db.session.remove()
        if not ON_POSTGRES:
            db.drop_all()
        db.engine.dispose()


def sign_in(client, email: str, password: str = STAFF_PASSWORD):
    """Sign in through the real login form; returns the POST's response."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "email": email, "password": password},
    )


def session_csrf(client) -> str:
    """A CSRF token valid for the client's session, from any page that has a form."""
    page = client.get("/login", follow_redirects=True)
    match = ANY_CSRF_PATTERN.search(page.get_data(as_text=True))
    assert match, "no CSRF token in page"
    return match.group(1)


# --- A real SMTP server on loopback -------------------------------------------------------


@dataclass
class CollectingHandler:
    """aiosmtpd handler that keeps every message it receives."""

    messages: list[Message] = field(default_factory=list)
    envelopes: list = field(default_factory=list)
    connections: int = 0
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        """Messages addressed to one recipient."""
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """A real SMTP server on loopback that can be stopped and started again on its port."""

    def __init__(self, port: int):
        self.port = port
        self.handler = CollectingHandler()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages


# --- Reading pages ------------------------------------------------------------------------


class _TableRows(HTMLParser):
    """Collects each <tr> of the first table with a given class: its class and its cells' text."""

    def __init__(self, table_class: str):
        super().__init__()
        self.table_class = table_class
        self.depth = 0  # >0 while inside the wanted table
        self.rows: list[tuple[str, list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and (self.depth or self.table_class in (attributes.get("class") or "").split()):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append((attributes.get("class") or "", []))
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1][1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_class: str) -> list[tuple[str, list[str]]]:
    """(row class, cell texts) for every row of the first table with this class, header included."""
    parser = _TableRows(table_class)
    parser.feed(html)
    return parser.rows
