"""The candidate's survey page: opening, answering once, every state of a link."""

import threading
from datetime import timedelta

from babel.dates import format_date
from sqlalchemy import func, select

from helpers import csrf_token, survey_link
from survey.extensions import db
from survey.models import HeldAnswer, Invitation, Response
from survey.sealing import unseal
from survey.services.invitations import cancel_invitation, resend_invitation, send_due
from survey.tokens import make_survey_token


def count_responses() -> int:
    return db.session.scalar(select(func.count()).select_from(Response))


def open_form(client, path):
    page = client.get(path)
    assert page.status_code == 200
    return csrf_token(page.get_data(as_text=True))


def test_opening_the_link_never_spends_it(client, sent_invitation):
    invitation, message = sent_invitation
    path = survey_link(message)
    for _ in range(3):
        assert "How was your interview?" in client.get(path).get_data(as_text=True)
    db.session.refresh(invitation)
    assert invitation.status == "opened"
    assert invitation.opened_at is not None
    assert count_responses() == 0


def test_form_lists_every_question_with_a_fieldset_per_scale(client, sent_invitation):
    html = client.get(survey_link(sent_invitation[1])).get_data(as_text=True)
    assert html.count("<fieldset") == 11  # ten scales and the consent choice
    assert html.count("<legend>") == 11
    assert "How likely are you to recommend applying to Acme Test Co to a friend?" in html
    assert '<label for="improve">' in html
    assert "<script" not in html


def test_named_answers_are_stored_with_the_invitation(client, sent_invitation):
    invitation, message = sent_invitation
    path = survey_link(message)
    data = {
        "csrf_token": open_form(client, path),
        "nps": "10",
        "fair": "2",
        "consent": "named",
        "improve": "  Start on time.  ",
    }
    page = client.post(path, data=data)
    assert page.status_code == 303  # POST/redirect/GET: a refresh does not resubmit
    thanks = client.get(page.headers["Location"])
    assert "Thank you" in thanks.get_data(as_text=True)
    assert "<title>Thank you for your answers</title>" in thanks.get_data(as_text=True)
    response = db.session.scalar(select(Response))
    assert response.invitation_id == invitation.id
    assert response.answers == {"nps": 10, "fair": 2, "improve": "Start on time."}
    assert (response.stage, response.department, response.month) == ("Technical", "Engineering", "2026-11")
    assert response.submitted_at is not None
    db.session.refresh(invitation)
    assert invitation.status == "completed"


def test_anonymous_answers_keep_no_link_to_invitation_or_candidate(client, sent_invitation):
    invitation, message = sent_invitation
    path = survey_link(message)
    data = {
        "csrf_token": open_form(client, path),
        "nps": "3",
        "improve": "Secret words",
        "consent": "anonymous",
    }
    assert "kept anonymous" in client.post(path, data=data, follow_redirects=True).get_data(as_text=True)
    assert count_responses() == 0
    [held] = db.session.scalars(select(HeldAnswer)).all()
    # Only a random id and a sealed box: neither the answers nor the cohort in clear.
    assert b"Secret words" not in held.sealed and b"Engineering" not in held.sealed
    assert unseal(held.sealed)["answers"] == {"nps": 3, "improve": "Secret words"}
    db.session.refresh(invitation)
    assert invitation.status == "completed"  # still counted as answered: no reminder goes out
    assert (invitation.completed_at.hour, invitation.completed_at.minute) == (0, 0)  # the day only


def test_consent_is_required_and_other_answers_are_kept(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    page = client.post(
        path, data={"csrf_token": open_form(client, path), "nps": "7", "went_well": "Kind people"}
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Please choose whether your recruiter may see your name." in html
    assert 'value="7" checked' in html
    assert "Kind people</textarea>" in html
    assert count_responses() == 0


def test_too_long_text_gets_a_message_and_keeps_the_rest(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    data = {
        "csrf_token": open_form(client, path),
        "nps": "9",
        "fair": "5",
        "consent": "named",
        "improve": "x" * 5001,
        "went_well": "The coffee",
    }
    page = client.post(path, data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Please keep this under 5,000 characters" in html
    assert 'value="9" checked' in html and 'value="5" checked' in html
    assert "The coffee</textarea>" in html
    assert count_responses() == 0


def test_out_of_range_answer_is_refused(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    page = client.post(path, data={"csrf_token": open_form(client, path), "fair": "9", "consent": "named"})
    assert page.status_code == 400
    assert count_responses() == 0


def test_a_stale_csrf_token_keeps_the_answers(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    client.get(path)
    page = client.post(path, data={"csrf_token": "stale", "nps": "6", "consent": "named"})
    assert page.status_code == 400
    assert "Your answers are still here" in page.get_data(as_text=True)
    assert 'value="6" checked' in page.get_data(as_text=True)
    assert count_responses() == 0


def test_double_submit_makes_one_response(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    data = {"csrf_token": open_form(client, path), "nps": "8", "consent": "named"}
    assert "Thank you" in client.post(path, data=data, follow_redirects=True).get_data(as_text=True)
    again = client.post(path, data=data)
    assert again.status_code == 200
    assert "we already have your answers" in again.get_data(as_text=True)
    assert count_responses() == 1


def test_racing_submits_make_exactly_one_response(app, sent_invitation):
    path = survey_link(sent_invitation[1])
    clients = [app.test_client() for _ in range(6)]
    forms = []
    for c in clients:
        forms.append({"csrf_token": open_form(c, path), "nps": "5", "consent": "named"})
    barrier = threading.Barrier(len(clients))
    statuses = []

    def submit(c, data):
        barrier.wait()
        statuses.append(c.post(path, data=data).status_code)

    threads = [threading.Thread(target=submit, args=pair) for pair in zip(clients, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * (len(clients) - 1) + [303]
    assert count_responses() == 1


def test_random_and_tampered_tokens_get_404(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    for bad in ("/s/garbage", "/s/" + "A" * 300, path[:-2] + "xx", path + "x"):
        page = client.get(bad)
        assert page.status_code == 404
        assert "This link is not valid" in page.get_data(as_text=True)
        assert client.post(bad, data={"consent": "named"}).status_code == 404


def test_expired_link_gets_410_with_the_date(client, sent_invitation):
    invitation, message = sent_invitation
    send_due(now=invitation.expires_at + timedelta(minutes=1))
    page = client.get(survey_link(message))
    assert page.status_code == 410
    day = invitation.expires_at
    assert "This link expired on" in page.get_data(as_text=True)
    # Formatted for the candidate's language (English here) in their time zone (UTC by default).
    assert format_date(day, "long", locale="en") in page.get_data(as_text=True)


def test_link_past_expiry_is_410_even_before_the_job_runs(app, client, sent_invitation):
    invitation, message = sent_invitation
    invitation.expires_at = invitation.sent_at - timedelta(seconds=1)
    db.session.commit()
    assert client.get(survey_link(message)).status_code == 410


def test_resend_revokes_the_old_link(client, sent_invitation):
    invitation, message = sent_invitation
    old_path = survey_link(message)
    resend_invitation(invitation)
    assert client.get(old_path).status_code == 404
    new_path = "/s/" + make_survey_token(invitation.id, invitation.version)
    assert client.get(new_path).status_code == 200


def test_cancelled_invitation_link_is_not_valid(client, sent_invitation):
    invitation, message = sent_invitation
    cancel_invitation(invitation)
    assert client.get(survey_link(message)).status_code == 404


def test_opt_out_asks_on_get_and_acts_on_post(client, sent_invitation):
    invitation, message = sent_invitation
    path = survey_link(message) + "/opt-out"
    path = path.replace(survey_link(message).split("/s/")[1], _opt_out_token(invitation))
    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "Yes, stop survey emails" in confirm.get_data(as_text=True)
    db.session.refresh(invitation)
    assert invitation.status != "opted_out"

    done = client.post(path)  # no CSRF token: one-click unsubscribe posts carry none
    assert done.status_code == 200
    db.session.refresh(invitation)
    assert invitation.status == "opted_out"
    assert invitation.interview.candidate.opted_out_at is not None
    assert "You have opted out" in client.get(survey_link(message)).get_data(as_text=True)


def test_survey_token_does_not_work_as_opt_out_token(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    assert client.post(path + "/opt-out").status_code == 404


def _opt_out_token(invitation: Invitation) -> str:
    from survey.tokens import make_opt_out_token

    return make_opt_out_token(invitation.id, invitation.version)
