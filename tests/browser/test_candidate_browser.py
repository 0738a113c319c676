"""The candidate's survey in a real browser: from the email to the thank-you page, on a phone."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from helpers import URL_PATTERN, text_part
from survey.extensions import db
from survey.models import HeldAnswer, Response
from survey.sealing import unseal

from .harness import NARROW_PHONE, PHONE, horizontal_overflow

PAGE_BUDGET_BYTES = 30 * 1024


def emailed_survey_url(message) -> str:
    """The full survey link exactly as the candidate's email shows it."""
    links = [u for u in URL_PATTERN.findall(text_part(message)) if "/s/" in u and not u.endswith("/opt-out")]
    assert links
    return links[0]


def stored_response() -> Response | None:
    """The one response the server thread wrote, read afresh."""
    db.session.expire_all()
    return db.session.scalar(select(Response))


def focused(page) -> dict:
    """Name, value and tag of the element that has keyboard focus."""
    return page.evaluate(
        "({name: document.activeElement.name || '', value: document.activeElement.value || '',"
        " tag: document.activeElement.tagName.toLowerCase()})"
    )


def tab_to(page, name: str) -> None:
    """Press Tab once and check focus landed on the named field (the focus order the candidate meets)."""
    page.keyboard.press("Tab")
    assert focused(page)["name"] == name


def choose_with_arrows(page, name: str, steps: int) -> None:
    """Tab into a radio group, select its first option with Space, then move with the right arrow."""
    tab_to(page, name)
    page.keyboard.press("Space")
    for _ in range(steps):
        page.keyboard.press("ArrowRight")


def test_candidate_answers_from_the_email_with_the_keyboard_alone(page, live_server, sent_invitation):
    """Email link → phone viewport → Tab, Space, arrows and typing only → thank you, answers stored."""
    invitation, message = sent_invitation
    url = emailed_survey_url(message)
    assert url.startswith(live_server)
    page.goto(url)
    expect(page.get_by_role("heading", name="How was your interview?")).to_be_visible()

    tab_to(page, "")  # the skip link comes first
    choose_with_arrows(page, "consent", 0)  # named: the candidate decides first who will see the answers
    choose_with_arrows(page, "nps", 9)  # 0 → 9
    outline = page.evaluate("getComputedStyle(document.activeElement.nextElementSibling).outlineStyle")
    assert outline != "none", "the focused scale option shows no focus ring"
    choose_with_arrows(page, "on_time", 3)  # 1 → 4
    for key in ("prepared", "role_clarity", "fair", "next_steps", "culture_picture", "impression"):
        choose_with_arrows(page, key, 4)  # 5
    choose_with_arrows(page, "interest", 2)  # 3
    choose_with_arrows(page, "self_assessment", 1)  # 2
    tab_to(page, "went_well")
    page.keyboard.type("Friendly & punctual <team>.")
    tab_to(page, "improve")
    tab_to(page, "open_doubts")
    page.keyboard.type("Who I would report to.")
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "button"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Your recruiter will read them")
    response = stored_response()
    assert response is not None
    assert response.consent == "named"
    assert response.invitation_id == invitation.id
    assert response.answers == {
        "nps": 9,
        "on_time": 4,
        "prepared": 5,
        "role_clarity": 5,
        "fair": 5,
        "next_steps": 5,
        "culture_picture": 5,
        "impression": 5,
        "interest": 3,
        "self_assessment": 2,
        "went_well": "Friendly & punctual <team>.",
        "open_doubts": "Who I would report to.",
    }
    db.session.refresh(invitation)
    assert invitation.status == "completed"


def test_survey_submits_with_javascript_switched_off(new_page, sent_invitation):
    """No script is needed: a plain HTML form post stores the answers."""
    page = new_page(javascript=False)
    page.goto(emailed_survey_url(sent_invitation[1]))
    page.get_by_text("Keep them anonymous").click()
    page.locator("input[name=fair][value='4']").check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.locator("body")).to_contain_text("kept anonymous")
    # Held back sealed until its cohort is released: no response row, one held answer.
    assert stored_response() is None
    [held] = db.session.scalars(select(HeldAnswer)).all()
    assert unseal(held.sealed)["answers"] == {"fair": 4}


def test_missing_consent_keeps_answers_and_says_what_is_missing(page, sent_invitation):
    """Without the required choice the page comes back with the answer kept and the error announced."""
    page.goto(emailed_survey_url(sent_invitation[1]))
    page.get_by_label("What should we do differently?").fill("Shorter loop.")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("What should we do differently?")).to_have_value("Shorter loop.")
    expect(page.get_by_text("Please choose whether your recruiter may see your name.")).to_be_visible()
    assert stored_response() is None
    page.get_by_role("alert").get_by_role("link", name="May your recruiter see these answers").click()
    expect(page).to_have_url(re.compile(r"#consent-group$"))
    expect(page.locator("#consent-group")).to_be_visible()
    top = page.evaluate("document.getElementById('consent-group').getBoundingClientRect().top")
    assert 0 <= top < PHONE["height"]  # scrolled into view from the foot of a long page


def test_survey_page_with_its_css_weighs_under_30_kb(page, sent_invitation):
    """HTML plus CSS as transferred, on a cold cache; no scripts, images or fonts are fetched."""
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(emailed_survey_url(sent_invitation[1]))
    page.wait_for_load_state("load")
    kinds = sorted(r.request.resource_type for r in responses)
    assert kinds == ["document", "stylesheet"]
    transferred = sum(
        r.request.sizes()["responseBodySize"] + r.request.sizes()["responseHeadersSize"] for r in responses
    )
    assert transferred < PAGE_BUDGET_BYTES, f"{transferred} bytes"


def test_pages_fit_a_320_px_screen_without_sideways_scrolling(new_page, sent_invitation, live_server):
    """The survey (also with errors shown), thank-you and error pages all fit the narrowest phones."""
    page = new_page(NARROW_PHONE)
    url = emailed_survey_url(sent_invitation[1])
    page.goto(url)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    page.get_by_role("button", name="Send my answers").click()  # no consent: the error state
    expect(page.get_by_role("alert")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    page.get_by_text("Keep them anonymous").click()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    page.goto(f"{live_server}/s/not-a-real-token")
    assert horizontal_overflow(page) <= 0
