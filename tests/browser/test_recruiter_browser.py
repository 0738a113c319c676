"""The recruiter's loop in a real browser: the candidate answers, the recruiter records the debrief call and
reads both side by side, with the disagreements flagged."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from survey.services.invitations import survey_url

from .harness import assert_accessible

CANDIDATE_PHRASE = "Marmalade harbour: the whiteboard round felt like a real design review."
NOTES_PHRASE = "Copper lantern: says the loop was fine but wants the platform team."


def answer_by_name(page, invitation, text: str, **scores: int) -> None:
    """The candidate opens the survey on a phone, picks scores, writes one comment and shares by name."""
    page.goto(survey_url(invitation))
    for key, value in scores.items():
        page.locator(f"input[name={key}][value='{value}']").check()
    page.get_by_label("What went well?").fill(text)
    page.get_by_text("Share my answers with my recruiter by name").click()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()


def row(page, item: str):
    """The combined view's row for one mirrored item."""
    header = page.get_by_role("rowheader", name=item, exact=True)
    return page.locator("table.mirror tbody tr").filter(has=header)


def test_recruiter_records_the_debrief_and_reads_both_sides_with_the_gap_flagged(
    page, signed_in_page, recruiter, make_interview, sent_invitation, live_server
):
    """Sign in → find the interview → fill the debrief form → combined view shows both voices and the gap."""
    invitation = sent_invitation[0]
    candidate = invitation.interview.candidate.name
    make_interview(candidate={"name": "Other Candidate", "email": "other@example.org"})
    answer_by_name(page, invitation, CANDIDATE_PHRASE, interest=5, self_assessment=4, fair=5)

    desk = signed_in_page(recruiter)
    expect(desk).to_have_url(f"{live_server}/interviews")
    desk.get_by_label("Needs a debrief").check()
    desk.get_by_role("button", name="Search").click()
    expect(desk).to_have_url(re.compile(re.escape("needs_debrief=y")))
    expect(desk.get_by_role("link", name="Other Candidate")).to_be_visible()
    desk.get_by_role("link", name=candidate).click()
    expect(desk.get_by_role("heading", name=candidate, level=1)).to_be_visible()

    desk.get_by_role("link", name="Record debrief").click()
    desk.get_by_label("Candidate's interest, as you sensed it").select_option(label="1 · Not at all")
    desk.get_by_label("Candidate's own view of how it went, as told").select_option("4")
    desk.get_by_label("Did the hiring manager signal a next step?").select_option(label="Yes")
    desk.get_by_label("Free notes").fill(NOTES_PHRASE)
    desk.get_by_role("button", name="Save debrief").click()

    expect(desk.get_by_role("status").filter(has_text="Debrief saved.")).to_be_visible()
    expect(desk).to_have_url(f"{live_server}/interviews/{invitation.interview_id}")
    said = desk.locator(".panel", has_text="In the candidate's words").get_by_text(CANDIDATE_PHRASE)
    noted = desk.locator(".panel", has_text="From the debrief call").get_by_text(NOTES_PHRASE)
    expect(said).to_be_visible()
    expect(noted).to_be_visible()
    left, right = said.bounding_box(), noted.bounding_box()
    assert left["x"] + left["width"] <= right["x"], "the two voices are not side by side"
    assert abs(left["y"] - right["y"]) < 60, "the two voices do not start level"

    interest, went = row(desk, "Interest in the role"), row(desk, "How well the interview went")
    expect(interest.locator(".gap-flag")).to_have_text("⚑ +4")  # candidate 5, recruiter 1
    expect(interest.locator(".gap-flag")).to_be_visible()
    expect(went.locator(".gap-flag")).to_have_count(0)  # 4 and 4 agree
    background = "el => getComputedStyle(el).backgroundColor"
    assert interest.evaluate(background) != went.evaluate(background), "the flagged row does not stand out"
    expect(desk.get_by_text("1 item where the candidate and the debrief disagree (⚑).")).to_be_visible()
    assert_accessible(desk)
