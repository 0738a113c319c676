"""Shared fixtures: a fresh app and database per test, a real SMTP server on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, make_url, select, text

from config import TestingConfig
from helpers import (
    ON_POSTGRES,
    POSTGRES_URL,
    SmtpServer,
    app_on_fresh_database,
    csrf_token,
    free_port,
    interview_payload,
)
from survey.extensions import db
from survey.models import Interview, Invitation
from survey.services.accounts import create_api_key, create_user
from survey.services.intake import create_interview, validate_api_interview


def pytest_collection_modifyitems(config, items):
    """Skip `postgres` tests, visibly, without a PostgreSQL; in CI (REQUIRE_POSTGRES=1) fail instead."""
    if ON_POSTGRES:
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not a PostgreSQL URL")
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """On PostgreSQL: one fresh database for the run, schema created once (tests truncate it)."""
    if not ON_POSTGRES:
        yield None
        return
    url = make_url(POSTGRES_URL)
    name = f"debrief_test_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(test_url)
    db.metadata.create_all(engine)
    engine.dispose()
    yield test_url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path, postgres_database) -> str:
    """The URL of this test's database (subprocesses started by a test use it too)."""
    return postgres_database or f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def app(database_url):
    """The app on a fresh database: a new SQLite file, or emptied PostgreSQL tables."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        MAIL_PORT = free_port()  # nothing listens unless a test starts the SMTP fixture

    with app_on_fresh_database(Config) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def smtp_server(app) -> Iterator[SmtpServer]:
    """A running SMTP server on the app's MAIL_PORT."""
    server = SmtpServer(app.config["MAIL_PORT"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def recruiter(app):
    return create_user("rita.recruiter@example.com", "Rita Recruiter", "recruiter", "password-123")


@pytest.fixture
def api_key(app):
    _, plain = create_api_key("test ATS")
    return plain


@pytest.fixture
def make_interview(app, recruiter):
    """Create an interview through the intake service; returns the Interview."""
    counter = iter(range(1, 10_000))

    def factory(**overrides) -> Interview:
        number = next(counter)
        overrides.setdefault("external_id", f"ats-{number}")
        overrides.setdefault(
            "candidate", {"name": f"Candidate {number}", "email": f"candidate{number}@example.org"}
        )
        data, errors = validate_api_interview(interview_payload(**overrides))
        assert not errors, errors
        interview, _ = create_interview(data)
        return interview

    return factory


@pytest.fixture
def sent_invitation(app, make_interview, smtp_server):
    """An invitation whose email has been delivered; returns (invitation, email message)."""
    from survey.services.invitations import send_due

    interview = make_interview()
    send_due(now=interview.ends_at + timedelta(hours=3))
    invitation = db.session.scalar(select(Invitation).where(Invitation.interview_id == interview.id))
    return invitation, smtp_server.handler.to(interview.candidate.email)[-1]


@pytest.fixture
def staff(app, recruiter):
    """One user per kind of visitor to staff pages: the owning recruiter, another recruiter, hr, admin."""
    from helpers import STAFF_PASSWORD

    return {
        "owner": recruiter,
        "other": create_user("oscar.other@example.com", "Oscar Other", "recruiter", STAFF_PASSWORD),
        "hr": create_user("hilda.hr@example.com", "Hilda HR", "hr", STAFF_PASSWORD),
        "admin": create_user("ada.admin@example.com", "Ada Admin", "admin", STAFF_PASSWORD),
    }


@pytest.fixture
def answer_survey(client, smtp_server):
    """Answer a delivered invitation through the real survey form; returns the POST's response."""
    from helpers import survey_link

    def answer(message, consent: str = "named", **answers):
        path = survey_link(message)
        page = client.get(path)
        data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "consent": consent}
        data.update({key: str(value) for key, value in answers.items()})
        return client.post(path, data=data)

    return answer
