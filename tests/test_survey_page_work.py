"""What the survey page does per request: one query to open it, nothing written on a repeat
open, no session cookie, a form token bound to its link, and the answers in one short
transaction (held back sealed when anonymous)."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.sql import ClauseElement
from werkzeug.datastructures import MultiDict

from helpers import csrf_token, sign_in, survey_link
from helpers import recorded_statements as statements
from survey.candidate.forms import answers_from, quick_answers, survey_form_class
from survey.extensions import db
from survey.models import HeldAnswer, Invitation, Response, report_cells, utcnow
from survey.questions import TEXT_MAX_CHARS, localize
from survey.services.debriefs import save_debrief
from survey.services.invitations import send_due
from survey.services.question_sets import DEFAULT_DOCUMENT
from survey.services.report_facts import interview_standing
from survey.tokens import make_answered_mark, make_survey_form_token


def test_opening_the_page_is_one_query_and_a_repeat_open_writes_nothing(client, make_interview, smtp_server):
    earlier, interview = make_interview(), make_interview()
    send_due(now=interview.ends_at + timedelta(hours=3))
    # Another link of the same question-set version was shown before: this process read the
    # (never changing) version then, and does not read it again.
    assert client.get(survey_link(smtp_server.handler.to(earlier.candidate.email)[-1])).status_code == 200
    path = survey_link(smtp_server.handler.to(interview.candidate.email)[-1])
    with statements() as first:
        assert client.get(path).status_code == 200
    assert [s.split()[0] for s in first] == ["SELECT", "UPDATE"]  # the first open is recorded
    invitation = db.session.get(Invitation, interview.invitation.id)
    opened_at = invitation.opened_at
    assert opened_at is not None
    with statements() as again:
        page = client.get(path)
    assert page.status_code == 200
    assert len(again) == 1 and again[0].startswith("SELECT")
    db.session.refresh(invitation)
    assert invitation.opened_at == opened_at


def test_the_interview_line_gives_the_day_in_the_candidates_time_zone_and_escapes_what_it_shows(
    app, client, make_interview, smtp_server
):
    ends = (utcnow() - timedelta(days=1)).replace(hour=20, minute=0, second=0, microsecond=0)
    local = ends.astimezone(ZoneInfo("Pacific/Auckland"))  # already the next day there
    assert local.day != ends.day
    interview = make_interview(
        position={"title": "<b>Ops</b> & Co", "department": "Support", "location": ""},
        starts_at=None,
        ends_at=ends.isoformat(),
        timezone="Pacific/Auckland",
    )
    send_due(now=interview.ends_at + timedelta(hours=3))
    path = survey_link(smtp_server.handler.to(interview.candidate.email)[-1])
    for _ in range(2):  # the first open and a repeat open (the blank page then comes from the cache)
        html = client.get(path).get_data(as_text=True)
        assert "interview for &lt;b&gt;Ops&lt;/b&gt; &amp; Co" in html and "<b>Ops" not in html
        assert f'<time datetime="{ends.isoformat()}">{local.day} {local:%B}</time>' in html


def test_the_survey_page_sets_no_cookie_and_does_not_vary_by_one(client, sent_invitation, recruiter):
    client.get(survey_link(sent_invitation[1]))  # the blank page is rendered once, then kept
    page = client.get(survey_link(sent_invitation[1]))
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    # Nothing on the page depends on a cookie; a staff page, which reads the session, says it does.
    assert "Cookie" not in page.headers.get("Vary", "")
    sign_in(client, recruiter.email)
    assert "Cookie" in client.get("/interviews").headers["Vary"]


def test_answering_sets_no_session_only_a_mark_for_its_own_thank_you_page(app, client, sent_invitation):
    path = survey_link(sent_invitation[1])
    token = csrf_token(client.get(path).get_data(as_text=True))
    sent = client.post(path, data={"csrf_token": token, "nps": "9", "consent": "named"})
    assert sent.status_code == 303
    [cookie] = sent.headers.getlist("Set-Cookie")
    assert cookie.startswith("survey_answered=named.")
    assert f"Path={path}/thanks" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.config["SESSION_COOKIE_NAME"] not in cookie
    assert "Your recruiter will read them" in client.get(sent.location).get_data(as_text=True)


def test_a_thank_you_mark_made_for_another_link_or_altered_shows_already_answered(
    client, make_interview, smtp_server
):
    first, second = make_interview(), make_interview()
    send_due(now=second.ends_at + timedelta(hours=3))
    path = survey_link(smtp_server.handler.to(first.candidate.email)[-1])
    other = survey_link(smtp_server.handler.to(second.candidate.email)[-1])
    token = csrf_token(client.get(path).get_data(as_text=True))
    client.post(path, data={"csrf_token": token, "nps": "9", "consent": "anonymous"})
    stranger = client.application.test_client()
    for mark in (make_answered_mark(other.removeprefix("/s/"), "anonymous"), "named.forged", "anonymous."):
        stranger.set_cookie("survey_answered", mark, path=path + "/thanks")
        page = stranger.get(path + "/thanks").get_data(as_text=True)
        assert "<title>Already answered</title>" in page and "kept anonymous" not in page


def test_a_named_answer_is_stored_with_seven_statements_in_one_transaction(client, sent_invitation):
    invitation, message = sent_invitation
    path = survey_link(message)
    token = csrf_token(client.get(path).get_data(as_text=True))
    with statements() as sent:
        page = client.post(path, data={"csrf_token": token, "nps": "9", "fair": "5", "consent": "named"})
    assert page.status_code == 303
    verbs = [s.split()[0] for s in sent]
    # Read the link; spend it, which returns whether its interview has an outcome or a debrief
    # yet (the report facts the answer joins); store the response, count it in its report cell,
    # and count its answers in the three tally tables (by cell, over all months, by month).
    assert verbs == ["SELECT", "UPDATE", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT"], sent
    assert "RETURNING" in sent[1].upper() and "DEBRIEFS" in sent[1].upper()
    assert all("ON CONFLICT" in statement.upper() for statement in (sent[3], *sent[-3:]))
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1
    assert "Thank you" in client.get(page.location).get_data(as_text=True)


def test_after_the_first_answer_nothing_of_an_answer_is_compiled_again(
    client, make_interview, smtp_server, monkeypatch
):
    """A statement SQLAlchemy cannot cache (a multi-row VALUES, say) is compiled on every answer; the
    write turn's statements run as SQL prepared once per database (survey/driver_sql.py)."""
    interviews = [make_interview() for _ in range(2)]
    send_due(now=interviews[-1].ends_at + timedelta(hours=3))
    misses, driver_sql, compiled = [], [], []

    def record(conn, cursor, statement, parameters, context, executemany):
        if context.compiled is None:
            driver_sql.append(statement)
        elif context.cache_hit is not CacheStats.CACHE_HIT:
            misses.append(statement)

    compile_statement = ClauseElement.compile

    def counting_compile(self, *args, **kwargs):
        compiled.append(self)
        return compile_statement(self, *args, **kwargs)

    for number, interview in enumerate(interviews):
        path = survey_link(smtp_server.handler.to(interview.candidate.email)[-1])
        token = csrf_token(client.get(path).get_data(as_text=True))
        if number:
            event.listen(db.engine, "before_cursor_execute", record)
            monkeypatch.setattr(ClauseElement, "compile", counting_compile)
        data = {"csrf_token": token, "nps": "9", "fair": "5", "went_well": "Clear", "consent": "named"}
        assert client.post(path, data=data).status_code == 303
    monkeypatch.undo()
    event.remove(db.engine, "before_cursor_execute", record)
    assert misses == [] and compiled == []
    # The spend, the response, its cell and its three tallies: the write turn, all prepared SQL.
    assert [statement.split()[0] for statement in driver_sql] == ["UPDATE", *["INSERT"] * 5], driver_sql


def test_a_debrief_of_another_interview_is_not_taken_for_this_answers_debrief(
    client, make_interview, smtp_server, staff
):
    """The spend returns whether the answer's own interview has a debrief; a bare column name in
    its RETURNING subquery once matched any debrief at all, and every answer then recounted facts."""
    debriefed, answered = make_interview(), make_interview()
    save_debrief(debriefed, {"culture_score": 4}, staff["owner"])
    send_due(now=answered.ends_at + timedelta(hours=3))
    path = survey_link(smtp_server.handler.to(answered.candidate.email)[-1])
    token = csrf_token(client.get(path).get_data(as_text=True))
    with statements() as sent:
        assert (
            client.post(path, data={"csrf_token": token, "nps": "9", "consent": "named"}).status_code == 303
        )
    # Nothing beyond the seven statements: no gap facts looked for (this interview has no debrief).
    assert [s.split()[0] for s in sent] == [
        "SELECT",
        "UPDATE",
        "INSERT",
        "INSERT",
        "INSERT",
        "INSERT",
        "INSERT",
    ]
    spend = Invitation.completion().returning(*interview_standing(Invitation.__table__))
    for interview, has_debrief in ((answered, False), (debriefed, True)):
        # The spend's RETURNING columns, read as a SELECT of the same expressions.
        standing = db.session.execute(
            select(*interview_standing(Invitation.__table__)).where(Invitation.id == interview.invitation.id)
        ).one()
        assert bool(standing.debriefed) is has_debrief
    assert "invitations.interview_id" in str(spend.compile(dialect=db.engine.dialect))


def test_an_anonymous_answer_is_three_statements_and_only_a_sealed_row(client, sent_invitation):
    invitation, message = sent_invitation
    path = survey_link(message)
    token = csrf_token(client.get(path).get_data(as_text=True))
    with statements() as sent:
        page = client.post(path, data={"csrf_token": token, "nps": "2", "consent": "anonymous"})
    assert page.status_code == 303
    # Read the link, spend it, hold the sealed answer: no response, no tally, no alert.
    assert [s.split()[0] for s in sent] == ["SELECT", "UPDATE", "INSERT"], sent
    assert "HELD_ANSWERS" in sent[-1].upper()
    assert db.session.scalar(select(func.count()).select_from(HeldAnswer)) == 1
    for table in (Response, report_cells):
        assert db.session.scalar(select(func.count()).select_from(table)) == 0
    completed_at = db.session.get(Invitation, invitation.id).completed_at
    assert (completed_at.hour, completed_at.minute, completed_at.second) == (0, 0, 0)


def test_a_form_token_works_only_for_its_own_link(client, make_interview, smtp_server):
    first, second = make_interview(), make_interview()
    send_due(now=second.ends_at + timedelta(hours=3))
    path_a = survey_link(smtp_server.handler.to(first.candidate.email)[-1])
    path_b = survey_link(smtp_server.handler.to(second.candidate.email)[-1])
    token_a = csrf_token(client.get(path_a).get_data(as_text=True))
    assert token_a == make_survey_form_token(path_a.removeprefix("/s/"))

    page = client.post(path_b, data={"csrf_token": token_a, "nps": "7", "consent": "named"})
    assert page.status_code == 400
    assert "Your answers are still here" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0
    assert db.session.get(Invitation, second.invitation.id).status != "completed"


def test_a_form_token_keeps_working_while_the_old_key_is_a_fallback(app, client, sent_invitation):
    path = survey_link(sent_invitation[1])
    token = csrf_token(client.get(path).get_data(as_text=True))
    old_key = app.config["SECRET_KEY"]
    app.config.update(SECRET_KEY="a-brand-new-secret-key-after-rotation", SECRET_KEY_FALLBACKS=[old_key])
    page = client.post(path, data={"csrf_token": token, "nps": "8", "consent": "anonymous"})
    assert page.status_code == 303
    assert "Thank you" in client.get(page.location).get_data(as_text=True)


def questions_with_a_choice():
    """The shipped set with a choice item added: every kind of item the form builds."""
    document = json.loads(DEFAULT_DOCUMENT.read_text(encoding="utf-8"))
    document["questions"].append(
        {
            "key": "format",
            "type": "choice",
            "text": {language: "Which format would you prefer?" for language in document["languages"]},
            "options": [
                {"value": value, "text": {language: value for language in document["languages"]}}
                for value in ("onsite", "video")
            ],
        }
    )
    return localize(document, "en", version=99, name="Test", number=1)


QUESTIONS = questions_with_a_choice()
SCALE_VALUES = st.sampled_from(["", " ", "0", "1", "3", " 5 ", "6", "10", "11", "-1", "x", "2.5", "+4"])
CHOICE_VALUES = st.sampled_from(["", " ", "onsite", "video", "Video", " onsite", "phone", "1"])
TEXT_VALUES = st.sampled_from(["", "  ", "Kind people", "x" * TEXT_MAX_CHARS, "x" * (TEXT_MAX_CHARS + 1)])
VALUES = {"nps": SCALE_VALUES, "scale": SCALE_VALUES, "choice": CHOICE_VALUES, "text": TEXT_VALUES}


@st.composite
def submissions(draw):
    data = {}
    for question in QUESTIONS.questions:
        if draw(st.booleans()):
            data[question.key] = draw(VALUES[question.kind])
    consent = draw(st.sampled_from([None, "named", "anonymous", "both", ""]))
    if consent is not None:
        data["consent"] = consent
    data["csrf_token"] = draw(st.sampled_from(["good", "stale", ""]))
    return data


# The app is only read from (one request context per example), so sharing it is safe.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=submissions())
def test_the_quick_path_accepts_exactly_what_the_form_accepts_with_the_same_answers(app, data):
    link_token = "link-token"
    if data["csrf_token"] == "good":
        data["csrf_token"] = make_survey_form_token(link_token)
    formdata = MultiDict(data)
    with app.test_request_context("/s/x", method="POST", data=data):
        form = survey_form_class(QUESTIONS)(formdata=formdata, meta={"csrf_context": link_token})
        valid = form.validate()
        quick = quick_answers(formdata, QUESTIONS, link_token)
        if quick is None:
            return  # declined: the form decides (and explains), whatever it says
        assert valid, form.errors
        assert quick == (answers_from(form, QUESTIONS), form.consent.data)


def test_a_well_formed_submission_needs_no_form_object(app):
    token = make_survey_form_token("t")
    data = MultiDict({"csrf_token": token, "nps": "10", "fair": "4", "format": "video", "consent": "named"})
    with app.test_request_context("/s/t", method="POST", data=data):
        answers, consent = quick_answers(data, QUESTIONS, "t")
    assert (answers["nps"], answers["fair"], answers["on_time"], consent) == (10, 4, None, "named")
    assert answers["format"] == "video"
