"""Retention purge and erasure on request: personal data gone everywhere, answers kept de-identified."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Text, select

from helpers import csrf_token, survey_link
from survey.extensions import db
from survey.models import AuditEvent, Candidate, Debrief, Invitation, OutboxMessage, Response, utcnow
from survey.services.accounts import sign_in
from survey.services.invitations import send_due

NAME = "Zoë O'Quennell-Ashworth"
EMAIL = "zoe.quennell@example.org"
FORBIDDEN = (EMAIL, NAME, "Quennell", "O'Quennell", "Zoë", "Zo\\u00eb", "zoe.quennell")


def database_text() -> str:
    """Every text and JSON value of every row of every table, as one lower-cased string."""
    chunks = []
    for table in db.metadata.sorted_tables:
        text_columns = [c for c in table.columns if isinstance(c.type, Text | db.String | db.JSON)]
        for row in db.session.execute(select(*text_columns)).all():
            for value in row:
                chunks.append(json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value)
                chunks.append(json.dumps(value))  # the escaped spelling, as JSON columns store it
    return "\n".join(chunks).lower()


def assert_gone(text: str) -> None:
    for needle in FORBIDDEN:
        assert needle.lower() not in text, needle


@pytest.fixture
def answered_candidate(app, client, make_interview, smtp_server):
    """A candidate with an answered named survey, a debrief, a pending second invitation and mail."""
    first = make_interview(candidate={"name": NAME, "email": EMAIL, "external_id": "ats-cand-77"})
    send_due(now=first.ends_at + timedelta(hours=3))
    path = survey_link(smtp_server.handler.to(EMAIL)[-1])
    token = csrf_token(client.get(path).get_data(as_text=True))
    answers = {
        "csrf_token": token,
        "nps": "9",
        "went_well": f"I am {NAME} ({EMAIL}); Zoë liked the team. Quennell out.",
        "consent": "named",
    }
    assert client.post(path, data=answers).status_code == 303
    db.session.add(
        Debrief(
            interview_id=first.id,
            interest=4,
            free_notes=f"Call with Zoë: {NAME} asked about remote work; reach her at {EMAIL}.",
            red_flags="none for Ms O'Quennell-Ashworth",
        )
    )
    db.session.commit()
    second = make_interview(
        candidate={"name": NAME, "email": EMAIL}, stage="Onsite", ends_at="2026-11-24T10:00:00Z"
    )
    sign_in(EMAIL, "wrong password")  # she typed her address into the staff sign-in
    assert NAME.lower() in database_text() and EMAIL in database_text()
    return {"path": path, "first": first, "second": second}


def test_erase_leaves_the_email_and_name_nowhere_in_the_database(app, runner, answered_candidate):
    bystander = Candidate(name="Ben Bystander", email="ben@example.org")
    db.session.add(bystander)
    db.session.commit()

    result = runner.invoke(args=["data", "erase", EMAIL.upper()])
    assert result.exit_code == 0, result.output
    assert "1 candidates" in result.output and "1 responses deidentified" in result.output

    db.session.expire_all()
    assert_gone(database_text())
    assert db.session.get(Candidate, bystander.id).email == "ben@example.org"


def test_erase_revokes_links_and_keeps_answers_de_identified(app, client, runner, answered_candidate):
    second_invitation_id = answered_candidate["second"].invitation.id
    assert runner.invoke(args=["data", "erase", EMAIL]).exit_code == 0
    db.session.expire_all()

    page = client.get(answered_candidate["path"])
    assert page.status_code == 404 and "not valid" in page.get_data(as_text=True)
    second = db.session.get(Invitation, second_invitation_id)
    assert second.status == "cancelled" and second.version == 2

    [response] = db.session.scalars(select(Response)).all()
    assert response.invitation_id is None
    assert response.consent == "anonymous" and response.submitted_at is None
    assert response.answers["nps"] == 9
    assert "[erased]" in response.answers["went_well"] and "liked the team" in response.answers["went_well"]

    debrief = db.session.scalar(select(Debrief))
    assert "asked about remote work" in debrief.free_notes and debrief.interest == 4
    assert all(m.status in ("sent", "dead") for m in db.session.scalars(select(OutboxMessage)))

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "data.erase"))
    assert event.details["responses_deidentified"] == 1 and event.details["invitations_revoked"] == 2
    assert EMAIL not in json.dumps(event.details)


def test_erased_candidates_pending_mail_is_never_sent(app, runner, answered_candidate, smtp_server):
    assert runner.invoke(args=["data", "erase", EMAIL]).exit_code == 0
    delivered = len(smtp_server.messages)
    send_due(now=utcnow() + timedelta(days=30))
    assert len(smtp_server.messages) == delivered


def test_erase_takes_the_name_out_of_other_candidates_answers_other_debriefs_and_the_report_texts(
    app, runner, answered_candidate, make_interview, recruiter
):
    """Someone else's named answer or another interview's call notes may name her: they lose the
    mention too, and so do the texts the report's themes read (report_text_facts)."""
    from survey.models import report_text_facts
    from survey.services.debriefs import save_debrief
    from survey.services.responses import submit_response

    other = make_interview(candidate={"name": "Bram Otherperson", "email": "bram@example.org"})
    said = "Ask Zoë O'Quennell-Ashworth how she found the panel; Quennell was kind"
    assert submit_response(other.invitation, {"nps": 8, "improve": said}, "named")
    save_debrief(
        other, {"interest": 3, "process_issues": "Zoë O'Quennell-Ashworth arrived late too"}, recruiter
    )
    texts = db.session.scalars(select(report_text_facts.c.text)).all()
    assert any("Quennell" in text for text in texts)
    result = runner.invoke(args=["data", "erase", EMAIL])
    assert result.exit_code == 0 and "1 named answers scrubbed" in result.output
    assert_gone(database_text())
    kept = db.session.scalar(select(Response).where(Response.invitation_id == other.invitation.id))
    assert kept.improve_text == "Ask [erased] how she found the panel; [erased] was kind"
    assert not any(
        "quennell" in text.lower() for text in db.session.scalars(select(report_text_facts.c.text))
    )
    assert db.session.get(Candidate, other.candidate_id).name == "Bram Otherperson"  # untouched


def test_erase_of_an_unknown_email_says_so(runner, app):
    result = runner.invoke(args=["data", "erase", "nobody@example.org"])
    assert result.exit_code == 1
    assert "No candidate has that email address" in result.output


def test_purge_de_identifies_only_candidates_past_retention(app, runner, make_interview):
    now = utcnow()
    old = make_interview(
        candidate={"name": "Olga Oldfield", "email": "olga@example.org"},
        starts_at=None,
        ends_at=(now - timedelta(days=400)).isoformat(),
    )
    old.candidate.created_at = now - timedelta(days=401)
    recent = make_interview(candidate={"name": "Rita Recent", "email": "rita@example.org"})
    db.session.commit()

    result = runner.invoke(args=["data", "purge"])
    assert result.exit_code == 0, result.output
    assert "older than 365 days: 1 candidates" in result.output

    db.session.expire_all()
    assert "olga" not in database_text()
    assert db.session.get(Candidate, old.candidate_id).erased_at is not None
    assert db.session.get(Candidate, recent.candidate_id).email == "rita@example.org"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "data.purge"))
    assert event.details["candidates"] == 1 and event.details["retention_days"] == 365

    # Running it again finds nothing new: already erased candidates are skipped.
    assert "1 candidates" not in runner.invoke(args=["data", "purge"]).output


def test_purge_honours_data_retention_days(app, runner, make_interview):
    app.config["DATA_RETENTION_DAYS"] = 3
    interview = make_interview(starts_at=None, ends_at=(utcnow() - timedelta(days=5)).isoformat())
    interview.candidate.created_at = utcnow() - timedelta(days=6)
    db.session.commit()
    assert "older than 3 days: 1 candidates" in runner.invoke(args=["data", "purge"]).output


def test_scrubber_replaces_whole_names_parts_in_any_case_and_email_but_not_inside_words():
    from survey.services.retention import Scrubber

    scrub = Scrubber("Will May", "will.may@example.org")
    assert scrub.text("WILL MAY wrote from will.may@example.org; may call, willing.") == (
        "[erased] wrote from [erased]; [erased] call, willing."
    )
    assert Scrubber("X", "x@example.org").text("a box") == "a box"


def checkpoint() -> None:
    """Copy SQLite's write-ahead log into the database file and empty it."""
    db.session.remove()
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def test_erase_leaves_no_byte_of_the_email_or_any_name_part_in_the_database_file(
    app, runner, answered_candidate, make_interview
):
    """Every copy goes: answers and their improve_text copy, debriefs, mail, audit, anonymous
    answers released or held, in any letter case; deleted bytes are zeroed, not left in free pages."""
    from survey.models import AnonymousAnswer, HeldAnswer
    from survey.sealing import unseal
    from survey.services.responses import submit_response

    if db.engine.dialect.name != "sqlite":
        pytest.skip("a byte search of the database file is SQLite's")
    response = db.session.scalar(select(Response))
    response.answers = {**response.answers, "improve": "QUENNELL-ASHWORTH waited; zoë was late"}
    response.improve_text = response.answers["improve"]
    debrief = db.session.scalar(select(Debrief))
    debrief.process_issues = "zoë o'quennell-ashworth mentioned parking"
    # Long enough to spill onto overflow pages, which go to the free list when rewritten.
    debrief.free_notes = "Notes on Quennell. " + "Talked about the team and the role. " * 300
    db.session.add(
        AnonymousAnswer(
            month="2026-10",
            department=None,
            question_set_version=1,
            answers={"improve": "Ask ZOË O'QUENNELL, she knows"},
        )
    )
    db.session.commit()
    held_interview = make_interview(candidate={"name": "Someone Else", "email": "else@example.org"})
    assert submit_response(held_interview.invitation, {"improve": "tell quennell hi"}, "anonymous")

    her_invitation = answered_candidate["first"].invitation.id
    checkpoint()  # the name now sits in the database file itself, not only in the WAL
    assert b"quennell" in Path(db.engine.url.database).read_bytes().lower()
    assert runner.invoke(args=["data", "erase", EMAIL]).exit_code == 0
    sent_to_her = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.invitation_id == her_invitation)
    ).all()
    # Delivered mail keeps its metadata, but its survey and opt-out links are gone.
    assert sent_to_her and all(m.status == "sent" and m.sent_at and m.message_id for m in sent_to_her)
    assert all((m.body_text, m.body_html, m.headers) == ("", "", {}) for m in sent_to_her)
    [held] = db.session.scalars(select(HeldAnswer)).all()
    assert unseal(held.sealed)["answers"]["improve"] == "tell [erased] hi"
    checkpoint()
    with db.engine.connect() as connection:  # whatever the SQLite build's default
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    path = Path(db.engine.url.database)
    data = path.read_bytes() + Path(f"{path}-wal").read_bytes()
    folded = data.lower()  # ASCII letters in any case
    for needle in (EMAIL, "zoe.quennell", "Zoë", "Quennell", "Ashworth", "O'Quennell"):
        for spelling in {needle, needle.upper(), needle.title()}:
            for encoded in (spelling.encode(), json.dumps(spelling)[1:-1].encode()):
                assert encoded.lower() not in folded, encoded


def _themes_remembered() -> int:
    from survey import themes

    cached = (themes._masked, themes._answer_phrases, themes._span_label, themes._names_pattern)
    return sum(function.cache_info().currsize for function in cached)


def test_a_worker_forgets_the_answer_texts_and_names_its_themes_were_worked_from(app):
    """The report's themes remember each answer's masked text and phrases in the process, keyed by
    the answer as written and the names masked in it. A clock, set when they are first remembered,
    forgets them all: an answer or a name erased from the database does not stay in a worker."""
    from survey import themes

    themes.forget_answers()
    answers = [(f"Zelda Quist said the take-home assignment took far longer {n}", 3) for n in range(3)]
    assert themes.cluster_themes(answers, minimum=3, known_names=["Zelda Quist"])
    clock = themes._forgetting
    assert clock is not None and clock.is_alive() and clock.interval == themes.FORGET_AFTER_SECONDS
    assert _themes_remembered() > 0

    clock.cancel()
    clock.function()  # what the clock does when it runs out
    assert _themes_remembered() == 0
    themes.redact("Zelda Quist again")
    assert themes._forgetting is not None and themes._forgetting is not clock  # set again
    themes.forget_answers()  # which stops that clock too
    assert themes._forgetting is None and _themes_remembered() == 0


def test_a_forked_worker_starts_with_nothing_its_parent_remembered(app):
    """gunicorn forks its workers: a timer thread does not survive the fork, so the child's copy of
    the parent's remembered answers would never be forgotten; the child forgets them at once."""
    from survey import themes

    themes.redact("Zelda Quist was late", ["Zelda Quist"])
    assert _themes_remembered() > 0
    child = os.fork()
    if child == 0:
        os._exit(0 if _themes_remembered() == 0 and themes._forgetting is None else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    themes.forget_answers()
