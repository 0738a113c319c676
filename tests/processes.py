"""Real processes for the concurrency and fault tests: workers, gunicorn, bulk-seeded invitations."""

from __future__ import annotations

import glob
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import func, insert, select

from helpers import free_port
from survey.extensions import db
from survey.models import Candidate, Interview, Invitation, Position, User, utcnow
from survey.services.question_sets import version_for_stage
from survey.tokens import make_survey_token

ROOT = Path(__file__).resolve().parent.parent


def seed_invitations(count: int, recruiter: User, status: str = "scheduled") -> list[int]:
    """Insert `count` interviews whose invitations are due now (or already sent); returns their ids."""
    now = utcnow()
    position = Position(title="Load Tester", department="Engineering", location="Remote")
    db.session.add(position)
    db.session.flush()
    first = (db.session.scalar(select(func.max(Candidate.id))) or 0) + 1
    ids = range(first, first + count)
    db.session.execute(
        insert(Candidate), [{"id": i, "name": f"Load {i}", "email": f"load{i}@example.org"} for i in ids]
    )
    db.session.execute(
        insert(Interview),
        [
            {
                "id": i,
                "candidate_id": i,
                "position_id": position.id,
                "recruiter_id": recruiter.id,
                "stage": "Technical",
                "ends_at": now - timedelta(hours=3),
            }
            for i in ids
        ],
    )
    sent = status != "scheduled"
    # A sent link has its question-set version fixed, as issuing it does.
    version = version_for_stage("Technical").id if sent else None
    db.session.execute(
        insert(Invitation),
        [
            {
                "id": i,
                "interview_id": i,
                "status": status,
                "send_after": now - timedelta(hours=1),
                "issued_at": now if sent else None,
                "sent_at": now if sent else None,
                "expires_at": now + timedelta(days=14) if sent else None,
                "question_set_version_id": version,
            }
            for i in ids
        ],
    )
    db.session.commit()
    _advance_sequences()
    return list(ids)


def _advance_sequences() -> None:
    """PostgreSQL: explicit ids do not move the id sequences, so move them past the inserted rows."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in ("candidates", "interviews", "invitations"):
        db.session.execute(
            db.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )
    db.session.commit()


def survey_paths(invitation_ids: list[int]) -> list[str]:
    """The survey link path of each invitation (version 1)."""
    return [f"/s/{make_survey_token(i, 1)}" for i in invitation_ids]


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    """Poll `condition` until it returns something true (bounded polling, not a sleep); returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def app_env(app: Flask, **extra: str) -> dict[str, str]:
    """Environment for a child process that uses this test's database and SMTP port."""
    env = dict(os.environ)
    env.update(
        SURVEY_CONFIG="testing",
        TEST_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        MAIL_PORT=str(app.config["MAIL_PORT"]),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_flask(app: Flask, *args: str, **env: str) -> subprocess.Popen:
    """Start `flask --app wsgi ARGS` as a separate process."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=app_env(app, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class Gunicorn:
    """The app under gunicorn (the repository's gunicorn.conf.py) on a loopback port."""

    def __init__(self, app: Flask, workers: int = 2, threads: int = 8, **env: str):
        self.port = free_port()
        self.log_path = Path(app.instance_path) / f"gunicorn-{self.port}.log"
        self.env = app_env(
            app,
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS=str(threads),
            **env,
        )
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)  # not listening yet
        raise AssertionError(f"gunicorn did not come up:\n{self.output()}")

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        """One request on a new connection: (status, headers, body text)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read().decode()
        finally:
            connection.close()

    def get(self, path: str, headers: dict | None = None):
        """GET a path: (status, headers, body text)."""
        return self.request("GET", path, headers=headers)

    def output(self) -> str:
        """Everything gunicorn has logged so far (complete once it has stopped)."""
        return self.log_path.read_text()

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.log.close()


class TempPostgres:
    """A PostgreSQL server of the test's own (scripts/pg-temp), so the test may stop and start it."""

    def __init__(self):
        self.port = free_port()
        # Not under pytest's tmp_path: the server runs as the postgres user, who cannot enter it.
        self.dir = tempfile.mkdtemp(prefix="debrief-outage-pg-")
        self.url = ""

    @staticmethod
    def available() -> bool:
        """Whether PostgreSQL's server programs are installed."""
        return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))

    def start(self) -> None:
        """Start (or restart) the server; returns once it accepts connections."""
        result = subprocess.run(
            [ROOT / "scripts" / "pg-temp", "start", self.dir, str(self.port)],
            capture_output=True,
            text=True,
            check=True,
        )
        self.url = result.stdout.strip()

    def stop(self) -> None:
        """Stop the server the way an administrator would (fast: open connections are cut)."""
        subprocess.run([ROOT / "scripts" / "pg-temp", "stop", self.dir], check=True)

    def __enter__(self) -> TempPostgres:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class HttpSession:
    """A browser-like client for a real server: keeps the session cookie between requests."""

    def __init__(self, server: Gunicorn):
        self.server = server
        self.cookie = ""

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        """(status, headers, body text); the session cookie is sent and updated."""
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, response_headers, text = self.server.request(method, path, body, headers)
        for value in response_headers.get_all("Set-Cookie") or []:
            if value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return status, response_headers, text

    def get(self, path: str):
        """GET with the session cookie."""
        return self.request("GET", path)

    def sign_in(self, email: str, password: str) -> None:
        """Sign in through the real login form."""
        _, _, page = self.get("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = {"csrf_token": token, "email": email, "password": password}
        status, headers, _ = self.request("POST", "/login", form)
        assert status == 302, (status, headers)
