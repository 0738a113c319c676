"""The simulated people of `make soak` (a locustfile): candidates, an ATS, recruiters, HR and exports.

Started by bench/soak.py, which writes the data file named by SOAK_DATA (survey links, the
API key, who may see which interview). Every request is named by its kind, so locust's
statistics read as a table of kinds. A 503 is recorded as a failure named "503", anything
else unexpected by its status, so the outage shows up apart from real errors.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from datetime import UTC, datetime, timedelta

from locust import HttpUser, between, task

DATA = json.loads(open(os.environ["SOAK_DATA"], encoding="utf-8").read())  # noqa: SIM115
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SURVEY_LINKS = itertools.cycle(DATA["surveys"])  # each candidate takes the next unused link


def check(response, expected: tuple[int, ...]) -> None:
    """Mark the request failed unless its status is expected (503s grouped apart)."""
    if response.status_code in expected:
        response.success()
    else:
        response.failure(f"status {response.status_code}")


class StaffUser(HttpUser):
    """A signed-in member of staff; subclasses say who."""

    abstract = True
    login: tuple[str, str]

    def on_start(self) -> None:
        """Sign in through the real form (retried while the database may be down)."""
        for _ in range(5):
            page = self.client.get("/login", name="staff: sign-in page")
            token = CSRF.search(page.text)
            if token is None:
                continue
            form = {"csrf_token": token.group(1), "email": self.login[0], "password": self.login[1]}
            with self.client.post("/login", data=form, name="staff: sign in", catch_response=True) as answer:
                check(answer, (200,))  # the redirect is followed to the staff home page
                if answer.status_code == 200:
                    return

    def get(self, path: str, kind: str, expected: tuple[int, ...] = (200,)) -> None:
        """GET a page under the name of its kind, checking its status."""
        with self.client.get(path, name=kind, catch_response=True) as answer:
            check(answer, expected)


class Candidate(HttpUser):
    """Opens a survey link from an email, then answers it once (some press send twice)."""

    weight = 10
    wait_time = between(1, 3)

    @task
    def answer_a_survey(self) -> None:
        """Open, then submit; a few submit the same form twice in a row."""
        path = next(SURVEY_LINKS)
        with self.client.get(path, name="candidate: open survey", catch_response=True) as page:
            check(page, (200, 410))  # 410: an already answered link (the list wrapped round)
            token = CSRF.search(page.text) if page.status_code == 200 else None
        if token is None:
            return
        answers = {
            "csrf_token": token.group(1),
            "nps": str(random.randint(0, 10)),
            "went_well": "Clear questions and a friendly panel.",
            "consent": random.choice(("named", "anonymous")),
        }
        for _ in range(2 if random.random() < 0.1 else 1):
            with self.client.post(path, data=answers, name="candidate: submit", catch_response=True) as sent:
                check(sent, (200, 410))


class Ats(HttpUser):
    """The applicant-tracking system: posts finished interviews, reads their survey status."""

    weight = 3
    wait_time = between(1, 2)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {DATA['api_key']}"}
        self.created: list[int] = []

    @task(3)
    def post_an_interview(self) -> None:
        """A new interview that ended an hour ago (its survey is due at once)."""
        ended = datetime.now(UTC) - timedelta(hours=1)
        number = uuid.uuid4().hex[:12]
        payload = {
            "candidate": {"name": f"Soak Candidate {number}", "email": f"soak-{number}@example.org"},
            "position": {"title": "Backend Engineer", "department": "Engineering", "location": "Berlin"},
            "stage": "Technical",
            "hiring_manager": "Hugo Manager",
            "interviewers": ["Ines Interviewer"],
            "recruiter_email": DATA["recruiters"][0][0],
            "starts_at": (ended - timedelta(hours=1)).isoformat(),
            "ends_at": ended.isoformat(),
            "external_id": f"soak-{number}",
        }
        with self.client.post(
            "/api/v1/interviews",
            json=payload,
            headers=self.headers,
            name="ats: post interview",
            catch_response=True,
        ) as answer:
            check(answer, (200, 201))
            if answer.status_code in (200, 201):
                self.created.append(answer.json()["id"])

    @task(2)
    def read_a_status(self) -> None:
        """The survey status of an interview it posted."""
        if not self.created:
            return
        path = f"/api/v1/interviews/{random.choice(self.created)}"
        with self.client.get(
            path, headers=self.headers, name="ats: read status", catch_response=True
        ) as answer:
            check(answer, (200,))


class Recruiter(StaffUser):
    """Works through the interview list, opens interviews and their debrief forms."""

    weight = 3
    wait_time = between(2, 5)

    def on_start(self) -> None:
        email, password, self.own = random.choice(DATA["recruiters"])
        self.login = (email, password)
        super().on_start()

    @task(3)
    def interview_list(self) -> None:
        """A page of the list (some deep pages)."""
        self.get(f"/interviews?page={random.randint(1, 5)}", "recruiter: interview list")

    @task(3)
    def one_interview(self) -> None:
        """One of the recruiter's own interviews."""
        self.get(f"/interviews/{random.choice(self.own)}", "recruiter: interview")

    @task(1)
    def debrief_form(self) -> None:
        """The debrief-call form of one of them."""
        self.get(f"/interviews/{random.choice(self.own)}/debrief", "recruiter: debrief form")


class Hr(StaffUser):
    """Reads the findings, filtered this way and that."""

    weight = 2
    wait_time = between(3, 6)

    def on_start(self) -> None:
        self.login = tuple(DATA["hr"])
        super().on_start()

    @task
    def reports(self) -> None:
        """The reports page, sometimes filtered by department."""
        query = random.choice(("", "?department=Engineering", "?stage=Technical"))
        self.get(f"/reports{query}", "hr: reports")


class Exporter(StaffUser):
    """Downloads the de-identified export now and then."""

    weight = 1
    wait_time = between(5, 10)

    def on_start(self) -> None:
        self.login = tuple(DATA["hr"])
        super().on_start()

    @task
    def export(self) -> None:
        """A CSV or JSON export, streamed."""
        fmt = random.choice(("csv", "json"))
        self.get(f"/reports/export.{fmt}", f"hr: export {fmt}")
