"""Staff pages in a real browser: axe-core finds no serious faults, and the working pages fit a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from survey.services.accounts import create_api_key
from survey.services.debriefs import DEBRIEF_FIELDS, save_debrief
from survey.services.responses import submit_response

from .harness import NARROW_PHONE, PHONE, assert_accessible, horizontal_overflow

ANSWERS = {
    "nps": 10,
    "interest": 5,
    "self_assessment": 2,
    "next_steps": 1,
    "went_well": "A long comment without spaces: " + "supercalifragilistic" * 8,
    "open_doubts": "Who I would report to.",
}
NOTES = {
    "interest": 2,
    "self_assessment": 4,
    "next_step_signal": "yes",
    "doubts": "Asked about on-call twice.",
    "doubts_cleared": False,
    "culture_score": 4,
    "red_flags": "Competing offer expiring Friday.",
    "red_flag_severity": "medium",
    "expected_outcome": "likely",
    "referral_potential": 5,
    "open_to_other_roles": True,
    "free_notes": "Wants feedback by next week.",
}


@pytest.fixture
def debriefed(sent_invitation, recruiter):
    """An interview the candidate answered by name (a promoter, so also a lead) with a debrief that
    disagrees on three items; returns its id."""
    invitation = sent_invitation[0]
    assert submit_response(invitation, ANSWERS, "named")
    save_debrief(invitation.interview, {field: NOTES.get(field) for field in DEBRIEF_FIELDS}, recruiter)
    return invitation.interview_id


def visit(page, url: str) -> None:
    """Open a page and insist it answered 200."""
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {response and response.status}"


def test_recruiter_pages_are_accessible(signed_in_page, recruiter, debriefed, live_server):
    """Interview list, combined view, debrief form, leads, position brief, new interview (and its errors)."""
    page = signed_in_page(recruiter)
    interview = f"{live_server}/interviews/{debriefed}"
    for url in (f"{live_server}/interviews", interview, f"{interview}/debrief", f"{live_server}/leads"):
        visit(page, url)
        assert_accessible(page)
    expect(page.locator("tbody tr")).to_have_count(1)  # the lead is listed, so the table was checked
    visit(page, interview)
    expect(page.locator(".gap-flag")).to_have_count(3)
    page.get_by_role("link", name="Position brief").click()
    assert_accessible(page)

    visit(page, f"{live_server}/interviews/new")
    page.get_by_role("button", name="Add interview").click()
    expect(page.locator(".field-error").first).to_be_visible()
    assert_accessible(page)


def test_admin_pages_are_accessible(signed_in_page, staff_user, recruiter, live_server):
    """Users, API keys (also just after a key is shown once) and the audit log."""
    create_api_key("ATS")
    page = signed_in_page(staff_user("admin"))
    for path in ("/admin/users", "/admin/audit", "/admin/api-keys"):
        visit(page, live_server + path)
        assert_accessible(page)
    page.get_by_label("Name").fill("Second ATS")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("code.secret")).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("viewport", [PHONE, NARROW_PHONE], ids=["390px", "320px"])
def test_list_combined_view_and_debrief_form_fit_a_phone(
    signed_in_page, recruiter, debriefed, live_server, viewport
):
    """No sideways scrolling of the page, and no table scrolling inside its box: rows become cards."""
    page = signed_in_page(recruiter, viewport=viewport)
    for path in ("/interviews", f"/interviews/{debriefed}", f"/interviews/{debriefed}/debrief", "/leads"):
        visit(page, live_server + path)
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at {viewport['width']} px"
        boxes = page.locator(".table-wrap").evaluate_all("els => els.map(e => e.scrollWidth - e.clientWidth)")
        assert all(extra <= 0 for extra in boxes), f"a table on {path} scrolls inside its box"
    expect(page.locator("tbody td[data-label=Candidate]").first).to_be_visible()
    visit(page, f"{live_server}/interviews/{debriefed}")
    expect(page.locator(".gap-flag").first).to_be_visible()
    assert_accessible(page)
