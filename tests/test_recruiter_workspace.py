"""The recruiter's workspace as a user meets it: list, new interview, debrief, combined view, actions."""

from datetime import timedelta

from sqlalchemy import select

from helpers import (
    csrf_token,
    new_interview_form,
    recorded_statements,
    session_csrf,
    sign_in,
    survey_link,
    table_rows,
)
from survey.extensions import db
from survey.models import Debrief, Interview
from survey.services.invitations import send_due

DEBRIEF = {
    "interest": "1",
    "self_assessment": "4",
    "next_step_signal": "yes",
    "doubts": "",
    "doubts_cleared": "",
    "process_issues": "",
    "culture_score": "4",
    "culture_notes": "",
    "what_matters": "",
    "red_flags": "",
    "red_flag_severity": "none",
    "expected_outcome": "likely",
    "referral_potential": "3",
    "open_to_other_roles": "yes",
    "free_notes": "",
}


def record_debrief(client, interview_id: int, **fields):
    """Fill in and post the debrief form as a user would."""
    page = client.get(f"/interviews/{interview_id}/debrief")
    assert page.status_code == 200
    data = {**DEBRIEF, **fields, "csrf_token": csrf_token(page.get_data(as_text=True))}
    return client.post(f"/interviews/{interview_id}/debrief", data=data)


def test_recruiter_records_debrief_and_sees_both_sides_with_gap_flagged(
    client, staff, sent_invitation, answer_survey
):
    invitation, message = sent_invitation
    answered = answer_survey(
        message, interest=5, self_assessment=4, went_well="Marmalade-harbour phrase from the candidate"
    )
    assert answered.status_code == 303

    assert sign_in(client, staff["owner"].email).location == "/interviews"
    listing = client.get("/interviews").get_data(as_text=True)
    assert invitation.interview.candidate.name in listing
    assert "Needed" in listing

    saved = record_debrief(client, invitation.interview_id, free_notes="Copper-lantern phrase from the call")
    assert saved.status_code == 302
    page = client.get(saved.location).get_data(as_text=True)
    assert "Marmalade-harbour phrase from the candidate" in page
    assert "Copper-lantern phrase from the call" in page
    # Candidate 5, recruiter 1: a +4 gap on interest, flagged; self-assessment agrees, not flagged.
    rows = {cells[0]: (cls, cells) for cls, cells in table_rows(page, "mirror")[1:]}
    assert rows["Interest in the role"] == (
        "flagged",
        ["Interest in the role", "Extremely (5)", "Not at all (1)", "⚑ +4"],
    )
    assert rows["How well the interview went"] == (
        "",
        ["How well the interview went", "Well (4)", "Well (4)", "0"],
    )
    assert "1 item where the candidate and the debrief disagree (⚑)" in page


def test_debrief_is_editable_later_and_records_who_and_when(client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["owner"].email)
    record_debrief(client, interview.id, free_notes="first take")
    debrief = db.session.scalar(select(Debrief).where(Debrief.interview_id == interview.id))
    first_update = debrief.updated_at

    form = client.get(f"/interviews/{interview.id}/debrief").get_data(as_text=True)
    assert "first take" in form and "Last changed by Rita Recruiter" in form
    record_debrief(client, interview.id, free_notes="second take", interest="5")
    db.session.refresh(debrief)
    assert debrief.free_notes == "second take" and debrief.interest == 5
    assert debrief.created_by_id == staff["owner"].id and debrief.updated_by_id == staff["owner"].id
    assert debrief.updated_at >= first_update
    assert db.session.scalar(select(Debrief.id).where(Debrief.interview_id == interview.id)) == debrief.id


def test_debrief_with_a_bad_value_is_refused_and_keeps_the_notes(client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["owner"].email)
    response = record_debrief(client, interview.id, interest="9", free_notes="keep me")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Not a valid choice" in page and "keep me" in page
    assert db.session.scalar(select(Debrief).where(Debrief.interview_id == interview.id)) is None


def test_script_in_candidate_comment_and_recruiter_note_is_shown_as_text(
    client, staff, sent_invitation, answer_survey
):
    invitation, message = sent_invitation
    answer_survey(message, improve="<script>alert('candidate')</script>")
    sign_in(client, staff["owner"].email)
    record_debrief(client, invitation.interview_id, free_notes="<script>alert('recruiter')</script>")
    page = client.get(f"/interviews/{invitation.interview_id}").get_data(as_text=True)
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(&#39;candidate&#39;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#39;recruiter&#39;)&lt;/script&gt;" in page


def test_anonymous_answers_are_not_shown_and_the_debrief_stands_alone(
    client, staff, sent_invitation, answer_survey
):
    invitation, message = sent_invitation
    answer_survey(message, consent="anonymous", went_well="Secret-anonymous-words")
    sign_in(client, staff["owner"].email)
    record_debrief(client, invitation.interview_id, free_notes="My own call notes")
    page = client.get(f"/interviews/{invitation.interview_id}").get_data(as_text=True)
    assert "chose to stay anonymous" in page
    assert "Secret-anonymous-words" not in page
    assert "My own call notes" in page
    assert "Candidate said" not in page
    # The completion shows its day only, after the opening it followed.
    assert "Completed anonymously (only the day is kept)" in page
    assert page.index("<strong>Opened</strong>") < page.index("Completed anonymously")


def test_without_answers_the_combined_view_shows_survey_status_and_timeline(client, staff, sent_invitation):
    invitation, _ = sent_invitation
    sign_in(client, staff["owner"].email)
    page = client.get(f"/interviews/{invitation.interview_id}").get_data(as_text=True)
    assert "No answers yet" in page
    assert '<span class="badge badge-sent">sent</span>' in page
    assert "<strong>Sent</strong>" in page and "<strong>Scheduled to send</strong>" in page


def test_new_interview_form_creates_interview_and_schedules_its_survey(client, staff, app):
    sign_in(client, staff["owner"].email)
    page = client.get("/interviews/new")
    data = new_interview_form(
        page.get_data(as_text=True),
        candidate_name="Nia Newcomer",
        candidate_email="nia@example.org",
        position_title="Data Scientist",
        department="Engineering",
        interviewers="Ann, Ben",
        ends_at="2026-11-24T15:00",
    )
    created = client.post("/interviews/new", data=data)
    assert created.status_code == 302
    interview = db.session.scalar(select(Interview).order_by(Interview.id.desc()))
    assert created.location == f"/interviews/{interview.id}"
    assert interview.recruiter_id == staff["owner"].id and interview.interviewers == ["Ann", "Ben"]
    delay = timedelta(minutes=app.config["SURVEY_SEND_DELAY_MINUTES"])
    assert interview.invitation.status == "scheduled"
    assert interview.invitation.send_after == interview.ends_at + delay


def test_new_interview_with_bad_input_says_why_and_keeps_what_was_typed(client, staff):
    sign_in(client, staff["owner"].email)
    page = client.get("/interviews/new")
    data = new_interview_form(
        page.get_data(as_text=True),
        candidate_name="Kept Name",
        candidate_email="not-an-email",
        position_title="Designer",
        ends_at="yesterday",
    )
    response = client.post("/interviews/new", data=data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Not a valid datetime value" in text
    assert "Invalid email address" in text
    assert 'value="Kept Name"' in text
    assert db.session.scalar(select(Interview)) is None


def post_action(client, interview_id: int, action: str, **data):
    return client.post(
        f"/interviews/{interview_id}/{action}", data={"csrf_token": session_csrf(client), **data}
    )


def test_resend_issues_a_new_link_and_the_old_one_stops_working(
    client, app, staff, sent_invitation, smtp_server
):
    invitation, first_message = sent_invitation
    sign_in(client, staff["owner"].email)
    response = post_action(client, invitation.interview_id, "resend")
    assert response.status_code == 302
    send_due()
    second_message = smtp_server.handler.to(invitation.interview.candidate.email)[-1]
    candidate = app.test_client()
    assert candidate.get(survey_link(first_message)).status_code == 404
    assert candidate.get(survey_link(second_message)).status_code == 200
    db.session.refresh(invitation)
    assert invitation.version == 2


def test_cancel_stops_the_survey_link(client, app, staff, sent_invitation):
    invitation, message = sent_invitation
    sign_in(client, staff["owner"].email)
    post_action(client, invitation.interview_id, "cancel")
    db.session.refresh(invitation)
    assert invitation.status == "cancelled"
    assert app.test_client().get(survey_link(message)).status_code == 404
    page = client.get(f"/interviews/{invitation.interview_id}").get_data(as_text=True)
    assert "<strong>Cancelled</strong>" in page


def test_send_time_changes_before_sending_and_not_after(client, staff, make_interview, sent_invitation):
    interview = make_interview()
    sign_in(client, staff["owner"].email)
    post_action(client, interview.id, "reschedule", send_after="2030-03-04T09:30")
    db.session.refresh(interview.invitation)
    assert interview.invitation.send_after.isoformat() == "2030-03-04T09:30:00+00:00"

    sent, _ = sent_invitation
    response = post_action(client, sent.interview_id, "reschedule", send_after="2030-03-04T09:30")
    page = client.get(response.location).get_data(as_text=True)
    assert "already gone out" in page
    db.session.refresh(sent)
    assert sent.send_after.year != 2030


def test_an_answered_survey_is_neither_cancelled_nor_resent_and_the_page_says_why(
    client, staff, sent_invitation, answer_survey
):
    """The service refuses with a DomainError; the view shows its message and changes nothing."""
    invitation, message = sent_invitation
    assert answer_survey(message, nps=9).status_code == 303
    sign_in(client, staff["owner"].email)
    for action in ("cancel", "resend"):
        response = post_action(client, invitation.interview_id, action)
        assert response.status_code == 302
        assert "This survey has already been answered." in client.get(response.location).text
    db.session.refresh(invitation)
    assert invitation.status == "completed" and invitation.version == 1


def test_interview_list_filters_and_pages_newest_first(client, staff, make_interview):
    from helpers import utc

    for day in range(1, 31):
        make_interview(
            starts_at=None,
            ends_at=utc(2026, 10, day, 12).isoformat(),
            stage="Onsite" if day % 2 else "Technical",
            candidate={"name": f"Person {day:02d}", "email": f"p{day}@example.org"},
        )
    sign_in(client, staff["owner"].email)
    first = client.get("/interviews").get_data(as_text=True)
    assert "30 interviews" in first
    assert first.index("Person 30") < first.index("Person 29")
    assert "Person 05" not in first  # 25 per page
    assert "Person 05" in client.get("/interviews?page=2").get_data(as_text=True)

    onsite = client.get("/interviews?stage=Onsite").get_data(as_text=True)
    assert "15 interviews" in onsite and "Person 02" not in onsite

    interview = db.session.scalar(select(Interview).where(Interview.stage == "Technical"))
    record_debrief(client, interview.id)
    needs = client.get("/interviews?needs_debrief=y").get_data(as_text=True)
    assert "29 interviews" in needs and f'/interviews/{interview.id}"' not in needs
    assert "0 interviews" in client.get("/interviews?status=completed").get_data(as_text=True)
    # An unknown filter value is ignored rather than failing.
    assert client.get("/interviews?status=bogus&position=x").status_code == 200


def test_interview_list_runs_the_same_number_of_queries_however_many_rows(client, staff, make_interview, app):
    sign_in(client, staff["owner"].email)

    def queries_for_list() -> int:
        with recorded_statements() as statements:
            assert client.get("/interviews").status_code == 200
        return len(statements)

    make_interview()
    few = queries_for_list()
    for _ in range(24):
        interview = make_interview()
        record_debrief(client, interview.id)
    many = queries_for_list()
    assert few == many
    assert many <= 7  # 6, plus one grouped query for the recruiter's own calibration panel
