"""The daily workspace in Chromium as a new user meets it: search, local time, combined view, 0–10 scale."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from survey.extensions import db
from survey.services.accounts import set_timezone
from survey.services.debriefs import save_debrief
from survey.services.invitations import survey_url

from .harness import NARROW_PHONE, assert_accessible


def test_a_recruiter_finds_an_interview_by_typing_part_of_a_name(
    signed_in_page, recruiter, make_interview, live_server
):
    for name in ("Wendy Ashford", "Bob Builder", "Carla Diaz"):
        make_interview(candidate={"name": name, "email": f"{name.split()[0].lower()}@example.org"})
    page = signed_in_page(recruiter)
    page.get_by_role("searchbox", name="Search").fill("ashf")
    page.get_by_role("searchbox", name="Search").press("Enter")
    page.wait_for_load_state()
    expect(page).to_have_url(re.compile(re.escape("q=ashf")))
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name="Wendy Ashford")).to_be_visible()
    page.get_by_role("link", name="Date", exact=True).click()  # sort by date, keeping the search
    expect(page).to_have_url(re.compile(r"q=ashf.*sort=date|sort=date.*q=ashf"))
    assert_accessible(page)


def test_a_user_in_berlin_sees_berlin_times_with_the_zone_named(signed_in_page, recruiter, make_interview):
    set_timezone(recruiter, "Europe/Berlin")
    interview = make_interview(starts_at=None, ends_at="2026-01-15T09:00:00Z")
    page = signed_in_page(recruiter)
    page.goto(page.url.replace("/interviews", f"/interviews/{interview.id}"))
    when = page.locator("dt:text('When') + dd time")
    expect(when).to_have_text("15 Jan 2026, 10:00 CET")
    expect(when).to_have_attribute("datetime", "2026-01-15T09:00:00+00:00")
    expect(page.get_by_text("times in Europe/Berlin")).to_be_visible()


def test_the_combined_view_flags_only_comparable_pairs(
    page, signed_in_page, recruiter, sent_invitation, live_server
):
    invitation = sent_invitation[0]
    page.goto(survey_url(invitation))
    page.get_by_text("Share my answers with my recruiter by name").click()
    for key, value in {"nps": 7, "next_steps": 5, "role_clarity": 2, "on_time": 1, "interest": 4}.items():
        page.locator(f"input[name={key}][value='{value}']").check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    save_debrief(
        invitation.interview,
        {"interest": 4, "next_step_signal": "no", "doubts_cleared": True, "referral_potential": 4},
        recruiter,
    )
    db.session.commit()
    desk = signed_in_page(recruiter)
    desk.goto(f"{live_server}/interviews/{invitation.interview_id}")
    flagged = desk.locator("table.mirror tbody tr.flagged th")
    expect(flagged).to_have_count(2)
    assert sorted(flagged.all_inner_texts()) == ["Doubts cleared / role clarity", "Next step"]
    referral = desk.locator("table.mirror tbody tr").filter(has_text="Referral potential")
    expect(referral).to_contain_text("7 of 10 (passive)")
    expect(referral).to_contain_text("High (4)")
    expect(desk.get_by_text("Organised and on time")).to_have_count(0)
    assert_accessible(desk)


def test_the_0_to_10_scale_reads_in_two_aligned_rows_at_320_px(new_page, sent_invitation):
    page = new_page(NARROW_PHONE)
    page.goto(survey_url(sent_invitation[0]))
    consent = page.locator("#consent-group").bounding_box()
    group = page.locator("#nps-group")
    assert consent["y"] < group.bounding_box()["y"], "consent comes first"
    faces = [group.locator(f"input[value='{n}'] + .face").bounding_box() for n in range(11)]
    assert len({round(box["y"]) for box in faces[:6]}) == 1, "0–5 on one row"
    assert len({round(box["y"]) for box in faces[6:]}) == 1, "6–10 on one row"
    assert faces[6]["y"] > faces[0]["y"]
    low, high = (
        group.locator(".ends span").first.bounding_box(),
        group.locator(".ends span").last.bounding_box(),
    )
    assert abs(low["x"] - faces[0]["x"]) < 2, "'Not at all likely' starts under 0"
    assert abs((high["x"] + high["width"]) - (faces[10]["x"] + faces[10]["width"])) < 2, (
        "'Extremely likely' ends under 10"
    )
    assert abs((faces[10]["x"] + faces[10]["width"]) - (faces[5]["x"] + faces[5]["width"])) < 2
    assert min(box["width"] for box in faces) >= 24, "tap targets stay at least 24 px wide"
