"""The candidate's side: what the survey is about, consent first, after sending, opting out."""

from datetime import timedelta

from helpers import csrf_token, opt_out_link, sign_in, survey_link
from survey.extensions import db
from survey.models import utcnow
from survey.services.invitations import send_due


def test_survey_names_the_interview_and_asks_consent_first(client, make_interview, smtp_server):
    ends = (utcnow() - timedelta(hours=5)).replace(microsecond=0)
    interview = make_interview(
        position={"title": "Customer Success Manager", "department": "Support", "location": ""},
        stage="Technical",
        starts_at=None,
        ends_at=ends.isoformat(),
    )
    send_due(now=interview.ends_at + timedelta(hours=3))
    html = client.get(survey_link(smtp_server.handler.to(interview.candidate.email)[-1])).get_data(
        as_text=True
    )
    assert "Your Technical interview for Customer Success Manager" in html
    assert f'<time datetime="{ends.isoformat()}">{ends.day} {ends:%B}</time>' in html
    assert html.index('name="consent"') < html.index('name="nps"')
    assert "except the first one" in html


def test_after_sending_a_refresh_shows_thanks_again_and_never_resubmits(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    page = client.get(path).get_data(as_text=True)
    sent = client.post(path, data={"csrf_token": csrf_token(page), "nps": "9", "consent": "anonymous"})
    assert sent.status_code == 303 and sent.location.endswith(path + "/thanks")
    for _ in range(2):  # a refresh is a GET of the thank-you page
        thanks = client.get(sent.location)
        assert thanks.status_code == 200
        assert "They are kept anonymous" in thanks.get_data(as_text=True)
    # Someone else holding the link is told it is already answered, under its own title.
    other = client.application.test_client().get(sent.location).get_data(as_text=True)
    assert "<title>Already answered</title>" in other


def test_thanks_page_of_an_open_link_sends_back_to_the_survey(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    response = client.get(path + "/thanks")
    assert response.status_code == 302 and response.location.endswith(path)


def test_opt_out_says_the_link_stops_working_and_a_second_visit_says_already(client, sent_invitation):
    invitation, message = sent_invitation
    path = opt_out_link(message)
    confirm = client.get(path).get_data(as_text=True)
    assert "the survey link in your email will no longer work" in confirm
    done = client.post(path).get_data(as_text=True)
    assert "You are unsubscribed" in done and "the survey link no longer works" in done
    again = client.get(path).get_data(as_text=True)
    assert "You have already opted out" in again
    assert "Yes, stop survey emails" not in again
    assert client.post(path).status_code == 200


def test_the_recruiter_is_not_offered_resend_for_an_opted_out_candidate(client, staff, sent_invitation):
    invitation, message = sent_invitation
    client.post(opt_out_link(message))
    sign_in(client, staff["owner"].email)
    page = client.get(f"/interviews/{invitation.interview_id}").get_data(as_text=True)
    assert "Resend with a new link" not in page
    assert "opted out or their address bounced" in page
    db.session.refresh(invitation)
    assert invitation.status == "opted_out"


def test_pages_have_a_favicon(client, sent_invitation):
    html = client.get(survey_link(sent_invitation[1])).get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg?v=' in html
