"""Demo data: staff, positions, interviews across a year, and believable answers.

Rows are written with Core bulk inserts (executemany, no ORM objects, no primary keys
fetched back) and pre-assigned ids, and names come from a pool made once, so that
`--interviews 1000000` takes minutes. The seed only runs on an empty database.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

from ..extensions import db
from ..models import (
    Candidate,
    Debrief,
    HeldAnswer,
    Interview,
    Invitation,
    InvitationStatus,
    Position,
    Response,
    User,
    random_id,
    utcnow,
)
from ..sealing import seal
from .accounts import create_user
from .anonymity import cohort_payload, release_cohorts
from .question_sets import questions_for, seed_default_set
from .responses import named_response_row, start_of_day
from .tallies import rebuild_cells

DEMO_PASSWORD = "debrief-demo"
DEMO_STAFF = (
    ("alex.morgan@example.com", "Alex Morgan", "recruiter"),
    ("priya.shah@example.com", "Priya Shah", "recruiter"),
    ("tom.becker@example.com", "Tom Becker", "recruiter"),
    ("hana.kim@example.com", "Hana Kim", "hr"),
    ("admin@example.com", "Dana Admin", "admin"),
)
POSITIONS = (
    ("Backend Engineer", "Engineering", "Berlin"),
    ("Frontend Engineer", "Engineering", "Remote"),
    ("Data Scientist", "Engineering", "London"),
    ("Product Designer", "Design", "Berlin"),
    ("Account Executive", "Sales", "London"),
    ("Sales Development Rep", "Sales", "Madrid"),
    ("Customer Success Manager", "Customer Success", "Remote"),
    ("People Partner", "People", "Berlin"),
    ("Financial Analyst", "Finance", "London"),
)
NAME_POOL = 5000
STAGES = ("Phone screen", "Technical", "Onsite", "Hiring manager")
# The candidate's language and time zone follow the position's location (no random draw, so the
# rest of the demo data stays as it was).
LOCALES = {
    "Berlin": ("de", "Europe/Berlin"),
    "Madrid": ("es", "Europe/Madrid"),
    "London": ("en", "Europe/London"),
    "Remote": ("en", "UTC"),
}
# How each group tends to be experienced: added to every 1-5 item's mean.
DEPARTMENT_BIAS = {
    "Engineering": 0.1,
    "Design": 0.3,
    "Sales": -0.5,
    "Customer Success": 0.2,
    "People": 0.4,
    "Finance": 0.0,
}
STAGE_BIAS = {"Phone screen": 0.3, "Technical": -0.2, "Onsite": -0.4, "Hiring manager": 0.1}
WENT_WELL = (
    "The recruiter kept me informed at every step.",
    "Friendly interviewers who clearly knew the product.",
    "The technical exercise was relevant to the actual job.",
    "I liked meeting the team I would work with.",
    "Clear agenda sent before the interview.",
    "The hiring manager was open about the challenges of the role.",
    "Good conversation, felt like a two-way discussion.",
)
IMPROVE = (
    "The interview started twenty minutes late.",
    "Nobody had read my CV before the call.",
    "Too many rounds for this level of role.",
    "I still do not know the salary range.",
    "The take-home assignment took far longer than the stated two hours.",
    "Interviewers asked the same questions twice.",
    "Please send feedback faster after each stage.",
    "The video call link did not work and we lost time.",
    "More information about the team structure would help.",
)
WHAT_MATTERS = (
    "Ownership: asked twice how I handle a project with no clear owner.",
    "Stakeholder communication, especially saying no to sales.",
    "Depth in SQL and data modelling.",
    "Coaching juniors; several questions about mentoring.",
    "Pace: how fast I ship and how I cut scope.",
    "Customer empathy; wanted real examples of difficult clients.",
)
PROCESS_ISSUES = (
    "Interviewer joined ten minutes late.",
    "The panel had not seen the take-home submission.",
    "Candidate was told two different salary ranges.",
    "Scheduling took three reschedules.",
    "Interview started late because the room was double booked.",
    "Panel had not seen the take-home submission.",
    "Candidate waited a week for the scheduling email.",
    "Too many interview rounds for the seniority.",
    "Video call dropped twice.",
)
RED_FLAGS = (
    "Has a competing offer expiring Friday.",
    "Spoke negatively about every former manager.",
    "Hiring manager cut the interview short.",
)
FREE_NOTES = (
    "Warm call, wants feedback by next week.",
    "Asked to be considered for the senior opening too.",
    "Prefers email over phone for updates.",
    "Relocation is possible but not before spring.",
)
DOUBTS = (
    "How the on-call rotation works.",
    "Whether the role is fully remote.",
    "Who I would report to.",
    "What the career path looks like.",
    "How success is measured in the first six months.",
)


@dataclass
class SeedSummary:
    """What the seed wrote."""

    interviews: int
    responses: int
    due_now: int
    skipped: bool = False


def seed_demo(interviews: int = 400, seed: int = 7, now: datetime | None = None) -> SeedSummary:
    """Fill an empty database with demo data; does nothing if interviews already exist."""
    if db.session.scalar(select(func.count()).select_from(Interview)):
        return SeedSummary(0, 0, 0, skipped=True)
    from faker import Faker  # here: importing it costs every command's start a fifth of a second

    now = now or utcnow()
    rng = random.Random(seed)
    fake = Faker()
    Faker.seed(seed)
    recruiters = _ensure_staff()
    positions = _ensure_positions()
    version = seed_default_set()
    builder = _Builder(rng, fake, now, recruiters, positions, questions_for(version, "en"))
    for start in range(0, interviews, 5000):
        builder.build(min(5000, interviews - start))
        builder.flush()
    _reset_sequences()
    db.session.commit()
    rebuild_cells()
    release_cohorts(now)
    return SeedSummary(interviews, builder.response_count, builder.due_now)


def _ensure_staff() -> list[User]:
    recruiters = []
    for email, name, role in DEMO_STAFF:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(email, name, role, DEMO_PASSWORD)
        if role == "recruiter":
            recruiters.append(user)
    return recruiters


def _ensure_positions() -> list[Position]:
    positions = []
    for title, department, location in POSITIONS:
        stmt = select(Position).where(Position.title == title, Position.department == department)
        position = db.session.scalar(stmt)
        if position is None:
            position = Position(title=title, department=department, location=location)
            db.session.add(position)
        positions.append(position)
    db.session.commit()
    return positions


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


# How far each demo recruiter's read of a candidate strays (standard deviations): calibration differs.
RECRUITER_NOISE = (0.5, 1.0, 1.8)


class _Builder:
    """Generates rows in memory, then writes them with one bulk insert per table."""

    def __init__(self, rng, fake, now, recruiters, positions, questions):
        self.rng, self.fake, self.now = rng, fake, now
        self.questions = questions
        self.recruiters, self.positions = recruiters, positions
        self.managers = [fake.name() for _ in range(12)]
        # Faker builds each name through its template engine; drawing from a pool made once is
        # ~50x cheaper per row and still gives thousands of distinct, reproducible names.
        self.names = [fake.name() for _ in range(NAME_POOL)]
        self.response_count = 0
        self.due_now = 0
        self.next_candidate = _next_id(Candidate)
        self.next_interview = _next_id(Interview)
        self.rows: dict[Any, list[dict]] = {}

    def build(self, count: int) -> None:
        self.rows = {Candidate: [], Interview: [], Invitation: [], Response: [], HeldAnswer: [], Debrief: []}
        for _ in range(count):
            self._one_interview()

    def flush(self) -> None:
        # Core inserts on the tables: one executemany each, where the ORM's bulk insert would
        # send a statement per debrief to fetch its generated id.
        for model in (Candidate, Interview, Invitation, Response, HeldAnswer, Debrief):
            if self.rows[model]:
                db.session.execute(insert(model.__table__), _same_keys(self.rows[model]))
        db.session.commit()

    def _one_interview(self) -> None:
        rng = self.rng
        candidate_id, interview_id = self.next_candidate, self.next_interview
        self.next_candidate += 1
        self.next_interview += 1
        position = rng.choice(self.positions)
        stage = rng.choices(STAGES, weights=(4, 3, 2, 2))[0]
        recruiter = rng.choice(self.recruiters)
        manager = self.managers[(position.id * 2 + rng.randrange(2)) % len(self.managers)]
        ends_at = self._interview_end()
        # How strong the candidate really is: drives the outcome, their own read and the recruiter's.
        strength = rng.gauss(0, 1)
        self.rows[Candidate].append(
            {
                "id": candidate_id,
                "name": rng.choice(self.names),
                "email": f"candidate{candidate_id}@example.org",
                "created_at": ends_at - timedelta(days=3),
            }
        )
        self.rows[Interview].append(
            {
                "id": interview_id,
                "candidate_id": candidate_id,
                "position_id": position.id,
                "recruiter_id": recruiter.id,
                "stage": stage,
                "hiring_manager": manager,
                "interviewers": rng.sample(self.names, rng.randint(1, 3)),
                "starts_at": ends_at - timedelta(minutes=rng.choice((30, 45, 60, 90))),
                "ends_at": ends_at,
                "outcome": self._outcome(ends_at, strength),
                "language": LOCALES.get(position.location, ("en", "UTC"))[0],
                "timezone": LOCALES.get(position.location, ("en", "UTC"))[1],
                "created_at": ends_at,
            }
        )
        invitation = self._invitation(interview_id, ends_at)
        self.rows[Invitation].append(invitation)
        answers = None
        if invitation["status"] == InvitationStatus.COMPLETED:
            answers = self._response(invitation, position, stage, manager, recruiter, ends_at, strength)
        # Most calls a day or more ago have a debrief; the rest show up as "needs a debrief".
        if self.now - ends_at > timedelta(days=1) and rng.random() < 0.75:
            self._debrief(interview_id, recruiter, stage, ends_at, answers or {}, strength)

    def _interview_end(self) -> datetime:
        # A few interviews ended just now, so `make run` has surveys due for the worker to send.
        if self.due_now < 5:
            self.due_now += 1
            return self.now - timedelta(hours=3, minutes=self.due_now)
        days_ago = self.rng.triangular(0, 365, 20)
        end = self.now - timedelta(days=days_ago)
        return end.replace(
            hour=self.rng.randint(8, 17), minute=self.rng.choice((0, 15, 30, 45)), second=0, microsecond=0
        )

    def _outcome(self, ends_at: datetime, strength: float) -> str:
        if self.now - ends_at < timedelta(days=10):
            return "pending"
        rng = self.rng
        if rng.random() < 0.08:
            return "withdrawn"
        # Stronger candidates go on more often, but not always (the panel sees other things too).
        if rng.random() < 1 / (1 + math.exp(-(1.3 * strength - 0.2))):
            return "hired" if rng.random() < 0.2 else "advanced"
        return "rejected"

    def _invitation(self, interview_id: int, ends_at: datetime) -> dict:
        send_after = ends_at + timedelta(hours=2)
        row = {
            "id": interview_id,
            "interview_id": interview_id,
            "version": 1,
            "send_after": send_after,
            "status": InvitationStatus.SCHEDULED.value,
        }
        if self.now - ends_at < timedelta(hours=4):
            return row
        sent_at = send_after + timedelta(minutes=self.rng.randint(0, 10))
        row.update(
            status=InvitationStatus.SENT.value,
            issued_at=sent_at,
            sent_at=sent_at,
            expires_at=sent_at + timedelta(days=14),
            question_set_version_id=self.questions.version,
        )
        if self.rng.random() < 0.7:
            row.update(
                status=InvitationStatus.OPENED.value,
                opened_at=sent_at + timedelta(hours=self.rng.randint(1, 60)),
            )
            if self.rng.random() < 0.7 and row["opened_at"] < self.now:
                row.update(
                    status=InvitationStatus.COMPLETED.value,
                    completed_at=row["opened_at"] + timedelta(minutes=3),
                )
        if row["status"] != InvitationStatus.COMPLETED and row["expires_at"] <= self.now:
            row["status"] = InvitationStatus.EXPIRED.value
        if row["status"] != InvitationStatus.COMPLETED and self.now - sent_at > timedelta(hours=72):
            row.update(
                reminder_issued_at=sent_at + timedelta(hours=72), reminded_at=sent_at + timedelta(hours=72)
            )
        return row

    def _response(
        self, invitation, position, stage, manager, recruiter, ends_at, strength: float
    ) -> dict[str, Any]:
        rng = self.rng
        bias = DEPARTMENT_BIAS.get(position.department, 0) + STAGE_BIAS.get(stage, 0)
        mood = rng.gauss(0, 0.7)
        answers: dict[str, Any] = {}
        for question in self.questions.scale_questions:
            if question.key == "nps" or rng.random() < 0.06:
                continue
            answers[question.key] = _clamp(round(rng.gauss(3.7 + bias + mood, 0.8)), 1, 5)
        # Candidates sense a little of how they did.
        for key in ("self_assessment", "interest"):
            if key in answers:
                answers[key] = _clamp(round(answers[key] + 0.5 * strength), 1, 5)
        if stage == "Onsite" and position.department == "Engineering" and "prepared" in answers:
            answers["prepared"] = max(1, answers["prepared"] - 1)
        average = sum(answers.values()) / max(len(answers), 1)
        answers["nps"] = _clamp(round(rng.gauss(average * 2.2 - 0.5, 1.5)), 0, 10)
        self._add_comments(answers, average)
        named = rng.random() < 0.7
        self.response_count += 1
        if not named:
            # Held back sealed, as a real anonymous submit does; released at the end of the seed.
            invitation["completed_at"] = start_of_day(invitation["completed_at"])
            payload = cohort_payload(ends_at, position.department, answers, self.questions.version)
            self.rows[HeldAnswer].append({"id": random_id(), "sealed": seal(payload)})
            return answers
        row = named_response_row(
            invitation["id"],
            self.questions.version,
            answers,
            position_id=position.id,
            position_title=position.title,
            department=position.department,
            stage=stage,
            hiring_manager=manager,
            recruiter_id=recruiter.id,
            ends_at=ends_at,
            submitted_at=invitation["completed_at"],
        )
        self.rows[Response].append({"id": f"{invitation['id']:032x}", **row})
        return answers

    def _debrief(
        self,
        interview_id: int,
        recruiter: User,
        stage: str,
        ends_at: datetime,
        answers: dict,
        strength: float,
    ) -> None:
        rng = self.rng
        # Recruiters tend to over-read interest after onsite interviews: a gap HR findings can show.
        optimism = {"interest": 1} if stage == "Onsite" else {}

        def read(key: str) -> int:
            # The recruiter's read follows the candidate's answer; one call in five misjudges it badly.
            heard = answers.get(key, rng.randint(2, 5)) + optimism.get(key, 0)
            if rng.random() < 0.2:
                return _clamp(heard + rng.choice((-3, -2, 2, 3)), 1, 5)
            return _clamp(heard + rng.choice((-1, 0, 0, 0, 1)), 1, 5)

        severity = rng.choices(("none", "low", "medium", "high"), weights=(80, 10, 7, 3))[0]
        at = ends_at + timedelta(days=1)
        self.rows[Debrief].append(
            {
                "interview_id": interview_id,
                "interest": read("interest"),
                "self_assessment": read("self_assessment"),
                "next_step_signal": rng.choices(("yes", "no", "unclear"), weights=(5, 2, 3))[0],
                "doubts": rng.choice(DOUBTS) if rng.random() < 0.4 else "",
                "doubts_cleared": rng.random() < 0.6,
                "process_issues": rng.choice(PROCESS_ISSUES) if rng.random() < 0.3 else "",
                "culture_score": read("culture_picture"),
                "culture_notes": "",
                "what_matters": rng.choice(WHAT_MATTERS) if rng.random() < 0.7 else "",
                "red_flags": rng.choice(RED_FLAGS) if severity != "none" else "",
                "red_flag_severity": severity,
                "expected_outcome": self._expectation(recruiter, strength),
                "referral_potential": rng.randint(1, 5),
                "open_to_other_roles": rng.random() < 0.5,
                "free_notes": rng.choice(FREE_NOTES) if rng.random() < 0.5 else "",
                "created_by_id": recruiter.id,
                "updated_by_id": recruiter.id,
                "created_at": at,
                "updated_at": at,
            }
        )

    def _expectation(self, recruiter: User, strength: float) -> str:
        """The recruiter's call after the debrief: some recruiters read candidates better than others."""
        noise = RECRUITER_NOISE[self.recruiters.index(recruiter) % len(RECRUITER_NOISE)]
        sensed = strength + self.rng.gauss(0, noise)
        return "likely" if sensed > 0.5 else "unlikely" if sensed < -0.5 else "unsure"

    def _add_comments(self, answers: dict[str, Any], average: float) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            answers["went_well"] = rng.choice(WENT_WELL)
        if rng.random() < (0.7 if average < 3.5 else 0.3):
            answers["improve"] = rng.choice(IMPROVE)
        if answers.get("role_clarity", 5) <= 3 and rng.random() < 0.6:
            answers["open_doubts"] = rng.choice(DOUBTS)


def _same_keys(rows: list[dict]) -> list[dict]:
    """Rows with one set of keys (an executemany needs it): a key a row lacks is NULL."""
    keys = set().union(*rows)
    return [row if len(row) == len(keys) else {key: row.get(key) for key in keys} for row in rows]


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _reset_sequences() -> None:
    """PostgreSQL: move id sequences past the ids the seed assigned."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("candidates", "interviews", "invitations"):
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )
        )


def demo_logins() -> list[tuple[str, str, str]]:
    """(email, password, role) of each demo account, for the terminal."""
    return [(email, DEMO_PASSWORD, role) for email, _, role in DEMO_STAFF]
