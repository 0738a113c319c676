"""The ATS integration's pages in a real browser: the API docs and /admin/webhooks pass axe-core
and fit a phone; an admin registers a webhook and sees its secret once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .harness import NARROW_PHONE, PHONE, assert_accessible, horizontal_overflow


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {response and response.status}"


@pytest.mark.parametrize("viewport", [PHONE, NARROW_PHONE], ids=["390px", "320px"])
def test_api_docs_are_accessible_and_fit_a_phone(new_page, live_server, viewport):
    page = new_page(viewport=viewport)
    visit(page, f"{live_server}/api/v1/docs")
    expect(page.get_by_role("heading", name="POST /api/v1/interviews")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    assert_accessible(page)


def test_admin_registers_a_webhook_and_sees_its_secret_once(signed_in_page, staff_user, live_server):
    page = signed_in_page(staff_user("admin"))
    visit(page, f"{live_server}/admin/webhooks")
    assert_accessible(page)
    page.get_by_label("URL").fill("http://127.0.0.1:9/hooks/debrief")
    page.get_by_label("survey.completed").check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("code.secret")
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    expect(page.get_by_role("cell", name="http://127.0.0.1:9/hooks/debrief")).to_be_visible()
    assert_accessible(page)
    visit(page, f"{live_server}/admin/webhooks")  # shown once: not on the next visit
    expect(page.locator("code.secret")).to_have_count(0)
