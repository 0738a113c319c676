"""Alerts to the owning recruiter, leads worth keeping in touch with, and the position brief."""

from sqlalchemy import func, select

from helpers import csrf_token, sign_in, text_part
from survey.extensions import db
from survey.models import Alert, Interview, OutboxMessage
from survey.services.alerts import queue_alert
from survey.services.debriefs import save_debrief
from survey.services.invitations import send_due
from survey.services.leads import leads_for


def alert_count() -> int:
    alerts = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "alert")
    return db.session.scalar(alerts)


def test_named_detractor_emails_the_owning_recruiter_once_with_a_link(
    staff, sent_invitation, answer_survey, smtp_server
):
    invitation, message = sent_invitation
    answer_survey(message, nps=4, fair=2)
    # However it is asked again (a retried request, a second worker), the database lets one through.
    assert queue_alert(invitation.interview, "survey", ["detractor"], {"nps": 4}) is False
    db.session.commit()
    send_due()
    [alert] = smtp_server.handler.to(staff["owner"].email)
    body = text_part(alert)
    assert f"http://localhost/interviews/{invitation.interview_id}" in body
    assert "would not recommend applying (score 4 of 10)" in body
    assert "did not feel treated fairly" in body
    assert alert_count() == 1


def test_anonymous_detractor_raises_no_alert(staff, sent_invitation, answer_survey, smtp_server):
    _, message = sent_invitation
    answer_survey(message, consent="anonymous", nps=0, fair=1)
    send_due()
    assert smtp_server.handler.to(staff["owner"].email) == []
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0


def test_promoter_raises_no_alert(staff, sent_invitation, answer_survey):
    _, message = sent_invitation
    answer_survey(message, nps=10, fair=5)
    assert alert_count() == 0


def test_high_red_flag_in_debrief_alerts_once_however_often_it_is_saved(client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["owner"].email)
    for note in ("first", "second"):
        page = client.get(f"/interviews/{interview.id}/debrief")
        data = {
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "red_flags": f"Competing offer ({note})",
            "red_flag_severity": "high",
        }
        assert client.post(f"/interviews/{interview.id}/debrief", data=data).status_code == 302
    [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
    assert message.to_address == staff["owner"].email
    assert "high-severity red flag" in message.body_text


def test_medium_red_flag_raises_no_alert(staff, make_interview):
    interview = make_interview()
    save_debrief(interview, {"red_flags": "Slow to reply", "red_flag_severity": "medium"}, staff["owner"])
    assert alert_count() == 0


def test_leads_are_named_promoters_or_likely_referrers_never_hired(
    client, staff, make_interview, sent_invitation, answer_survey
):
    invitation, message = sent_invitation
    answer_survey(message, nps=9)
    referrer = make_interview(candidate={"name": "Rhea Referrer", "email": "rhea@example.org"})
    save_debrief(referrer, {"referral_potential": 4}, staff["owner"])
    hired = make_interview(candidate={"name": "Hank Hired", "email": "hank@example.org"})
    save_debrief(hired, {"referral_potential": 5}, staff["owner"])
    hired.outcome = "hired"
    lukewarm = make_interview(candidate={"name": "Luke Warm", "email": "luke@example.org"})
    save_debrief(lukewarm, {"referral_potential": 3}, staff["owner"])

    names = {lead.candidate_name for lead in leads_for(staff["owner"])}
    assert names == {invitation.interview.candidate.name, "Rhea Referrer"}
    assert leads_for(staff["other"]) == []
    assert {lead.candidate_name for lead in leads_for(staff["hr"])} == names

    sign_in(client, staff["owner"].email)
    page = client.get("/leads").get_data(as_text=True)
    assert "Rhea Referrer" in page and "Hank Hired" not in page and "Luke Warm" not in page


def test_anonymous_promoter_is_not_a_lead(staff, sent_invitation, answer_survey):
    _, message = sent_invitation
    answer_survey(message, consent="anonymous", nps=10)
    assert leads_for(staff["owner"]) == []


def test_position_brief_gathers_what_matters_doubts_and_process_issues(client, staff, make_interview):
    first = make_interview(stage="Hiring manager")
    save_debrief(
        first,
        {"what_matters": "Owning <b>incidents</b>", "doubts": "Is it remote?", "doubts_cleared": False},
        staff["owner"],
    )
    second = make_interview(stage="Onsite")
    save_debrief(second, {"process_issues": "Panel started late"}, staff["owner"])
    other_position = make_interview(position={"title": "Sales Lead"})
    save_debrief(other_position, {"what_matters": "Quota history"}, staff["owner"])

    sign_in(client, staff["other"].email)  # any recruiter prepares candidates for a position
    page = client.get(f"/positions/{first.position_id}/brief").get_data(as_text=True)
    assert "Owning &lt;b&gt;incidents&lt;/b&gt;" in page
    assert "Is it remote?" in page and "not cleared" in page
    assert "Panel started late" in page
    assert "Quota history" not in page
    assert first.candidate.name not in page
    assert client.get("/positions/9999/brief").status_code == 404


def test_position_brief_summarises_recurring_points_with_counts_and_the_latest_example(
    app, staff, make_interview
):
    from survey.services.leads import position_brief

    position = {"title": "Platform Engineer", "department": "Engineering"}
    notes = [
        (
            "Ownership: asked twice how I handle a project with no clear owner.",
            "Is the role fully remote?",
            True,
        ),
        ("Ownership of projects with no clear owner, again.", "Whether the role is fully remote.", False),
        ("Depth in SQL and data modelling.", "Whether the role is fully remote?", True),
        ("Ownership: asked twice how I handle a project with no clear owner.", "", None),
    ]
    for day, (matters, doubts, cleared) in enumerate(notes, start=1):
        interview = make_interview(
            position=position,
            starts_at=f"2026-10-{day:02d}T09:00:00Z",
            ends_at=f"2026-10-{day:02d}T10:00:00Z",
        )
        save_debrief(
            interview, {"what_matters": matters, "doubts": doubts, "doubts_cleared": cleared}, staff["owner"]
        )
    brief = position_brief(interview.position_id)
    [ownership] = brief.topics["what_matters"]
    assert ownership.count == 3 and "clear owner" in ownership.label
    assert ownership.latest.ends_at.day == 4  # the newest example
    [remote] = brief.topics["doubts"]
    assert (remote.count, remote.cleared) == (3, 2) and "fully remote" in remote.label
    assert [note.what_matters for note in brief.one_offs["what_matters"]] == [
        "Depth in SQL and data modelling."
    ]


def test_interview_page_links_to_its_position_brief(client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["owner"].email)
    page = client.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert f'href="/positions/{interview.position_id}/brief"' in page
    assert db.session.get(Interview, interview.id) is not None
