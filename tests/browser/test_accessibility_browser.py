"""axe-core in the page: no serious or critical accessibility violations on any page people reach."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from survey.extensions import db
from survey.models import utcnow
from survey.services.invitations import opt_out_url, survey_url

from .harness import assert_accessible, blocking_violations


def test_survey_page_and_its_error_state_are_accessible(page, sent_invitation):
    """The survey as opened, then as returned with a missing required answer."""
    page.goto(survey_url(sent_invitation[0]))
    assert_accessible(page)
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)


def test_thank_you_and_already_answered_pages_are_accessible(page, sent_invitation):
    """After submitting, and when the spent link is opened again."""
    url = survey_url(sent_invitation[0])
    page.goto(url)
    page.get_by_text("Share my answers with my recruiter by name").click()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert_accessible(page)
    page.goto(url)
    expect(page.get_by_role("heading", name="Thank you, we already have your answers")).to_be_visible()
    assert_accessible(page)


def test_invalid_link_page_is_accessible(page, live_server):
    """A mangled link: 404 with a plain explanation."""
    response = page.goto(f"{live_server}/s/WzEsMV0.tampered")
    assert response.status == 404
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    assert_accessible(page)


def test_expired_link_page_is_accessible(page, sent_invitation):
    """A link past its expiry: 410 saying when it expired."""
    invitation = sent_invitation[0]
    invitation.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    response = page.goto(survey_url(invitation))
    assert response.status == 410
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    assert_accessible(page)


def test_opt_out_pages_are_accessible(page, sent_invitation):
    """The confirmation button and the page after opting out."""
    page.goto(opt_out_url(sent_invitation[0]))
    assert_accessible(page)
    page.get_by_role("button", name="Yes, stop survey emails").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    assert_accessible(page)


def test_unknown_page_is_accessible(page, live_server):
    """The general error page."""
    response = page.goto(f"{live_server}/no-such-page")
    assert response.status == 404
    assert_accessible(page)


def test_sign_in_page_is_accessible_empty_and_after_a_wrong_password(page, live_server, recruiter):
    """The sign-in form, and the same form showing its error."""
    db.session.commit()
    page.goto(f"{live_server}/login")
    assert_accessible(page)
    page.get_by_label("Email").fill(recruiter.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    assert_accessible(page)


def test_signed_in_staff_home_is_accessible(signed_in_page, staff_user, live_server):
    """A staff member signs in through the form and lands on the interview list with the sign-out control."""
    page = signed_in_page(staff_user("hr"))
    expect(page).to_have_url(f"{live_server}/interviews")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert_accessible(page)


def test_the_check_catches_real_faults(page):
    """A page with an unlabelled field, low contrast and no language fails, so a pass means something."""
    page.set_content("<title>t</title><p style='color:#bbb;background:#fff'>faint</p><input type=text>")
    rules = {violation.rule for violation in blocking_violations(page)}
    assert {"label", "color-contrast", "html-has-lang"} <= rules
