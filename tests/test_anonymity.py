"""Anonymity that holds: each attack on an anonymous answer, replayed, learns nothing.

An hr user who knows which interviews completed anonymously and when compares pages and exports
before and after a submit, and under every small filter; someone with a copy of the database
looks for rows, tallies and timestamps that moved with the submit. Released cohorts still count.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, inspect, select, text

from helpers import csrf_token, survey_link
from survey.extensions import db
from survey.models import (
    AnonymousAnswer,
    AnonymousCell,
    HeldAnswer,
    Interview,
    Invitation,
    Position,
    Response,
    User,
)
from survey.reports.filters import ReportFilters
from survey.reports.report import build_report
from survey.sealing import seal
from survey.services import anonymity
from survey.services.accounts import create_user
from survey.services.anonymity import Cohort, plan_release, release_cohorts
from survey.services.invitations import fix_question_set, send_due
from survey.services.responses import submit_response

K = 5
PASSWORD = "password-123"
POSITIONS = (
    {"title": "Backend Engineer", "department": "Engineering", "location": "Berlin"},
    {"title": "Counsel", "department": "Legal", "location": "Berlin"},
    {"title": "Account Executive", "department": "Sales", "location": "London"},
)
STAGES = ("Technical", "Onsite", "Hiring manager")
MANAGERS = ("Catherine Perkins", "Hugo Manager", "Mona Lind")
AFTER_OCTOBER = datetime(2026, 12, 5, tzinfo=UTC)


def sign_in(client, email: str) -> None:
    page = client.get("/login")
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    assert client.post("/login", data=data).status_code == 302


@pytest.fixture
def hr(app):
    return create_user("hana.hr@example.com", "Hana Analyst", "hr", PASSWORD)


@pytest.fixture
def world(app, make_interview, recruiter, hr):
    """A small organisation: named answers in October and November, and interviews whose
    candidates will answer anonymously (returned, not yet answered)."""
    create_user("rex.recruiter@example.com", "Rex Recruiter", "recruiter", PASSWORD)
    rng = random.Random(10)

    def interview(month: str, index: int):
        day = 1 + index % 27
        return make_interview(
            position=POSITIONS[rng.randrange(3)],
            stage=rng.choice(STAGES),
            hiring_manager=rng.choice(MANAGERS),
            recruiter_email=rng.choice(("rita.recruiter@example.com", "rex.recruiter@example.com")),
            starts_at=f"{month}-{day:02d}T09:00:00Z",
            ends_at=f"{month}-{day:02d}T10:00:00Z",
        )

    for index in range(36):
        month = "2026-10" if index % 2 else "2026-11"
        answers = {"nps": rng.randint(0, 10), "fair": rng.randint(1, 5), "on_time": rng.randint(1, 5)}
        assert submit_response(interview(month, index).invitation, answers, "named")
    anonymous = [interview("2026-10", 40 + index) for index in range(8)]
    anonymous += [interview("2026-11", 50 + index) for index in range(3)]
    return anonymous


def answer_anonymously(interviews, nps: int = 0) -> None:
    for interview in interviews:
        invitation = interview.invitation
        answers = {"nps": nps, "fair": 1, "improve": f"Lone remark {interview.id}"}
        assert submit_response(invitation, answers, "anonymous", now=datetime(2026, 11, 28, tzinfo=UTC))


def filter_combinations() -> list[dict[str, str]]:
    """Every filter of one attribute, and of two different attributes, over the world's values."""
    options = {
        "department": [p["department"] for p in POSITIONS],
        "position_id": [str(i) for i in db.session.scalars(select(Position.id))],
        "stage": list(STAGES),
        "hiring_manager": list(MANAGERS),
        "recruiter_id": [str(i) for i in db.session.scalars(select(User.id).where(User.role == "recruiter"))],
        "month_from": ["2026-10", "2026-11"],
        "month_to": ["2026-10", "2026-11"],
    }
    singles = [{name: value} for name, values in options.items() for value in values]
    pairs = [
        {**first, **second}
        for first, second in itertools.combinations(singles, 2)
        if set(first) != set(second)
    ]
    return singles + pairs


def exports(client, combinations) -> dict[str, dict]:
    """The JSON export of every filter combination, parsed."""
    result = {}
    for filters in combinations:
        response = client.get("/reports/export.json", query_string=filters)
        assert response.status_code == 200
        result[json.dumps(filters, sort_keys=True)] = json.loads(response.data)
    return result


# --- Attack 1: before/after one anonymous submit ----------------------------------------------


def test_one_anonymous_submit_changes_no_byte_of_any_export_or_page(client, hr, world, smtp_server):
    """hr downloads, one candidate answers anonymously through the form, hr downloads again."""
    target = world[-1]  # a November interview: its link is still live
    send_due(now=datetime(2026, 11, 27, tzinfo=UTC))
    message = smtp_server.handler.to(target.candidate.email)[-1]
    sign_in(client, hr.email)
    urls = ("/reports/export.json", "/reports/export.csv", "/reports", "/reports?department=Legal")
    before = {url: client.get(url).data for url in urls}

    path = survey_link(message)
    page = client.get(path)
    data = {"csrf_token": csrf_token(page.text), "consent": "anonymous", "nps": "0", "improve": "Rude panel"}
    assert "kept anonymous" in client.post(path, data=data, follow_redirects=True).text

    after = {url: client.get(url).data for url in urls}
    assert after == before
    assert b"Rude panel" not in b"".join(after.values())


# --- Attack 2: every small filter, before release and after --------------------------------------


def test_every_one_and_two_attribute_filter_learns_nothing_held_and_only_cohorts_released(client, hr, world):
    """While held, anonymous answers are in no figure and no row under any filter. Once
    released, a filter by position, stage, hiring manager or recruiter uses named answers only,
    so it is exactly what it was; a cohort-grain figure moves by a whole cohort of at least k."""
    sign_in(client, hr.email)
    combinations = filter_combinations()
    before = exports(client, combinations)
    answer_anonymously(world)
    assert exports(client, combinations) == before
    summary = release_cohorts(AFTER_OCTOBER)
    # October's 8 are released (small departments merged); November's 3 stay below k and wait.
    assert summary.released == 8 and summary.held == 3
    after = exports(client, combinations)
    cohort_grain = {"department", "month_from", "month_to"}
    moved = 0
    for key, old in before.items():
        new = after[key]
        assert new["responses"] == old["responses"], key  # raw rows: named answers only
        assert all(row["consent"] == "named" for row in new["responses"])
        assert not any("Lone remark" in json.dumps(row) for row in new["responses"])
        assert new["filters"] == old["filters"]
        if not set(new["filters"]) <= cohort_grain:
            assert new == old, key
            continue

        def key_of(row):
            return row["dimension"], row["group"], row["item"], row["statistic"]

        old_rows = {key_of(r): r for r in old["aggregates"]}
        for row in new["aggregates"]:
            previous = old_rows.get(key_of(row))
            if previous == row:
                continue
            assert row["answers"] == "named and anonymous", (key, row)
            if row["statistic"] == "responses" and row["value"] is not None:
                gained = row["value"] - (previous["value"] or 0 if previous else 0)
                assert gained == 0 or gained >= K, (key, row)
                moved += gained >= K
    assert moved  # the released cohort does show somewhere


# --- Attack 3: a copy of the database --------------------------------------------------------------


def table_dump() -> dict[str, list[tuple]]:
    """Every row of every table, as a backup would hold them (sorted, order is not the point)."""
    dump = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table)).all()
        dump[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return dump


def test_database_copy_after_an_anonymous_submit_ties_nothing_to_the_interview(app, world):
    [target, *_] = world
    before = table_dump()
    answer_anonymously([target])
    after = table_dump()

    changed = {name for name in after if after[name] != before[name]}
    # No response, tally, outbox, alert or audit row moved with the interview's attributes.
    assert changed == {"invitations", "held_answers"}
    [added] = set(after["invitations"]) - set(before["invitations"])
    invitation = db.session.get(Invitation, target.invitation.id)
    assert invitation.status == "completed"
    assert invitation.completed_at == datetime(2026, 11, 28, tzinfo=UTC)  # the day, not the time
    # The held row: a random id and a sealed box, no timestamp, no cohort or answer in clear.
    assert [c.name for c in HeldAnswer.__table__.columns] == ["id", "sealed"]
    [held] = db.session.scalars(select(HeldAnswer)).all()
    for clear in (b"2026-10", b"Engineering", b"Legal", b"Sales", b"Lone remark", b'"nps"'):
        assert clear not in held.sealed
    assert len(held.sealed) % 512 == 12 + 16  # nonce + padded text + tag: length hides the text


def test_held_and_released_tables_store_rows_in_random_id_order_not_submit_order(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("WITHOUT ROWID is SQLite's; PostgreSQL has no rowid to leak")
    schema = dict(db.session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    assert "WITHOUT ROWID" in schema["held_answers"]
    assert "WITHOUT ROWID" in schema["anonymous_answers"]


def test_released_rows_keep_only_the_cohort_and_are_shuffled(app, world):
    answer_anonymously(world)
    release_cohorts(AFTER_OCTOBER)
    columns = {c["name"] for c in inspect(db.engine).get_columns("anonymous_answers")}
    assert columns == {"id", "month", "department", "question_set_version", "answers"}
    released = db.session.scalars(select(AnonymousAnswer)).all()
    assert {(a.month, a.department) for a in released} == {("2026-10", None)}  # departments merged
    # Released under new random ids, in no order that follows the interviews.
    remarks = [int(a.answers["improve"].split()[-1]) for a in released]
    assert remarks != sorted(remarks) or len(set(remarks)) < 2


# --- Released cohorts still count --------------------------------------------------------------


def test_released_cohort_counts_in_the_organisation_department_and_month_figures(client, hr, world):
    named_total = build_report(ReportFilters()).overall.responses
    answer_anonymously(world[:8], nps=0)
    assert build_report(ReportFilters()).overall.responses == named_total  # held: not yet
    release_cohorts(AFTER_OCTOBER)

    report = build_report(ReportFilters())
    assert report.overall.responses == named_total + 8 and report.anonymous_included
    october = next(g for g in report.trend.groups if g.key == "2026-10")
    assert october.responses == 18 + 8
    merged = [g for g in report.breakdown("department").groups if g.key is None]
    assert merged and merged[0].responses == 8 and not merged[0].hidden
    stage = report.breakdown("stage")
    assert not stage.anonymous_included and sum(g.responses for g in stage.groups) == named_total
    assert build_report(ReportFilters(stage="Onsite")).anonymous_included is False

    sign_in(client, hr.email)
    page = client.get("/reports").text
    assert "include anonymous answers" in page and "(several departments, anonymous)" in page
    assert "uses named answers only" in client.get("/reports?stage=Onsite").text


def test_a_department_with_k_anonymous_answers_is_released_as_its_own_cohort(app, make_interview):
    for index in range(K):
        interview = make_interview(ends_at=f"2026-10-{index + 1:02d}T10:00:00Z", starts_at=None)
        assert submit_response(interview.invitation, {"nps": 9}, "anonymous")
    assert release_cohorts(AFTER_OCTOBER).cohorts == 1
    assert db.session.execute(select(AnonymousAnswer.department).distinct()).scalars().all() == [
        "Engineering"
    ]
    engineering = build_report(ReportFilters(department="Engineering"))
    assert engineering.overall.responses == K and engineering.overall.items["nps"].mean == 9


def test_rebuilding_the_tallies_recounts_the_released_cohorts_exactly(app, runner, world):
    answer_anonymously(world)
    release_cohorts(AFTER_OCTOBER)
    tally = select(AnonymousCell.month, AnonymousCell.department, AnonymousCell.item, AnonymousCell.value)
    summed = tally.add_columns(func.sum(AnonymousCell.count)).group_by(*tally.selected_columns)
    released = sorted(db.session.execute(summed).all())
    result = runner.invoke(args=["reports", "rebuild-cells"])
    assert result.exit_code == 0 and "Recounted 1 released anonymous cohorts" in result.output
    assert sorted(db.session.execute(summed).all()) == released
    assert ("2026-10", None, "responses", "0", 8) in released


# --- The release rule --------------------------------------------------------------------------


def test_release_plan_keeps_big_departments_merges_small_ones_and_carries_the_rest():
    def held(month, department, count, start):
        return [
            (f"{month}-{department}-{start + i}", {"month": month, "department": department})
            for i in range(count)
        ]

    answers = (
        held("2026-01", "Eng", 5, 0)
        + held("2026-01", "Legal", 2, 0)
        + held("2026-01", "Sales", 1, 0)
        + held("2026-02", "Legal", 1, 0)
        + held("2026-03", "Eng", 9, 0)
    )
    plan = plan_release(answers, {"2026-01", "2026-02"}, 5)
    assert [(cohort, len(ids)) for cohort, ids in plan] == [(Cohort("2026-01", "Eng"), 5)]
    plan = plan_release(answers, {"2026-01", "2026-02", "2026-03"}, 5)
    assert [(cohort, len(ids)) for cohort, ids in plan] == [
        (Cohort("2026-01", "Eng"), 5),
        (Cohort("2026-03", "Eng"), 9),
    ]  # 2 + 1 + 1 answers of small departments stay below 5: they wait
    answers += held("2026-04", "Sales", 1, 0)
    plan = plan_release(answers, {"2026-01", "2026-02", "2026-03", "2026-04"}, 5)
    assert (Cohort("2026-04", None), 5) in [(cohort, len(ids)) for cohort, ids in plan]


def test_a_release_larger_than_one_delete_statement_takes_every_answer_exactly_once(
    app, make_interview, monkeypatch
):
    """PostgreSQL takes at most 65,535 parameters a statement: big releases delete in chunks."""
    monkeypatch.setattr(anonymity, "DELETE_CHUNK", 2)
    for index in range(K + 1):
        interview = make_interview(ends_at=f"2026-10-{index + 1:02d}T10:00:00Z", starts_at=None)
        assert submit_response(interview.invitation, {"nps": index % 11}, "anonymous")
    assert release_cohorts(AFTER_OCTOBER).released == K + 1
    assert db.session.scalar(select(func.count()).select_from(HeldAnswer)) == 0
    assert db.session.scalar(select(func.count()).select_from(AnonymousAnswer)) == K + 1


def test_a_month_with_an_open_invitation_is_not_released(app, make_interview):
    for index in range(K):
        interview = make_interview(ends_at=f"2026-10-{index + 1:02d}T10:00:00Z", starts_at=None)
        assert submit_response(interview.invitation, {"nps": 9}, "anonymous")
    make_interview(ends_at="2026-10-30T10:00:00Z", starts_at=None)  # still open
    summary = release_cohorts(AFTER_OCTOBER)
    assert (summary.released, summary.held) == (0, K)
    assert release_cohorts(datetime(2026, 10, 31, tzinfo=UTC)).released == 0  # nor before its end


def test_send_due_releases_closed_cohorts_and_says_so(app, runner, make_interview):
    for index in range(K):
        interview = make_interview(ends_at=f"2026-10-{index + 1:02d}T10:00:00Z", starts_at=None)
        assert submit_response(interview.invitation, {"nps": 9}, "anonymous")
    result = runner.invoke(args=["surveys", "send-due"])
    assert result.exit_code == 0 and f"released {K} anonymous answer(s) in 1 cohort(s)" in result.output
    assert db.session.scalar(select(func.count()).select_from(HeldAnswer)) == 0
    assert "released 0" in runner.invoke(args=["surveys", "send-due"]).output  # once only


def test_release_opens_boxes_sealed_before_a_key_rotation(app):
    old = "an-old-secret-key-rotated-out"
    payload = {"month": "2026-10", "department": "Legal", "version": 1, "answers": {"nps": 4}}
    for _ in range(K):
        db.session.add(HeldAnswer(sealed=seal(payload, old)))
    db.session.commit()
    unreadable = release_cohorts(AFTER_OCTOBER)
    assert (unreadable.released, unreadable.unreadable) == (0, K)
    app.config["SECRET_KEY_FALLBACKS"] = [old]
    assert release_cohorts(AFTER_OCTOBER).released == K


def test_anonymous_submit_is_two_statements_in_one_transaction(app, make_interview):
    """Kept small for the survey POST: the completing UPDATE and the held INSERT."""
    invitation = make_interview().invitation
    fix_question_set(invitation)  # as issuing the link did (the version is fixed then, not at submit)
    db.session.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert submit_response(invitation, {"nps": 5, "improve": "x"}, "anonymous")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert [s for s in statements if s in ("UPDATE", "INSERT", "DELETE")] == ["UPDATE", "INSERT"]
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0
    assert db.session.get(Interview, invitation.interview_id).invitation.status == "completed"


def test_anonymous_answers_raise_no_alert_and_no_mail(app, make_interview):
    from survey.models import Alert, OutboxMessage

    invitation = make_interview().invitation
    outbox_before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert submit_response(invitation, {"nps": 0, "fair": 1}, "anonymous")
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before


def test_an_anonymous_completion_keeps_only_its_day_and_a_named_one_its_time(app, make_interview):
    moment = datetime(2026, 11, 21, 17, 42, 5, tzinfo=UTC)
    anonymous, named = make_interview().invitation, make_interview().invitation
    assert submit_response(anonymous, {"nps": 5}, "anonymous", now=moment)
    assert submit_response(named, {"nps": 5}, "named", now=moment)
    db.session.refresh(anonymous)
    db.session.refresh(named)
    assert anonymous.completed_at == datetime(2026, 11, 21, tzinfo=UTC)
    assert named.completed_at == moment


def test_on_the_demo_data_no_filtered_export_holds_an_anonymous_row(client, runner, hr):
    """The issue's attack 2 on `make run`'s data: pick a filter only one anonymous interview
    matches; the export still holds named rows only, and the database no anonymous response."""
    assert runner.invoke(args=["demo", "seed", "--interviews", "400"]).exit_code == 0
    assert db.session.scalar(select(func.count()).where(Response.consent == "anonymous")) == 0
    sign_in(client, hr.email)
    manager = db.session.scalar(select(Interview.hiring_manager).where(Interview.stage == "Hiring manager"))
    for filters in ({}, {"stage": "Hiring manager"}, {"stage": "Hiring manager", "hiring_manager": manager}):
        export = client.get("/reports/export.json", query_string=filters).json
        assert {row["consent"] for row in export["responses"]} <= {"named"}
        named_only = {row["answers"] for row in export["aggregates"] if row["dimension"] != "Month"}
        if filters:
            assert named_only <= {"named only"}


@pytest.mark.slow
def test_three_workers_at_once_release_a_cohort_exactly_once(app, make_interview):
    """Separate processes race for the same held answers; each answer is released once."""
    from processes import start_flask

    for index in range(2 * K):
        interview = make_interview(ends_at=f"2026-10-{index + 1:02d}T10:00:00Z", starts_at=None)
        assert submit_response(interview.invitation, {"nps": index % 11}, "anonymous")
    processes = [start_flask(app, "surveys", "send-due") for _ in range(3)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AnonymousAnswer)) == 2 * K
    assert db.session.scalar(select(func.count()).select_from(HeldAnswer)) == 0
    responses = select(func.sum(AnonymousCell.count)).where(AnonymousCell.item == "responses")
    assert db.session.scalar(responses) == 2 * K
    assert sum(f"released {2 * K} anonymous" in output for output in outputs) == 1, outputs
