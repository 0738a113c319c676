"""HR reports in a real browser: filter, read the figures, download the CSVs; axe-core on the page."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import expect

from survey.services.demo import seed_demo

from .harness import NARROW_PHONE, assert_accessible, horizontal_overflow

DEPARTMENT = "Engineering"


@pytest.fixture
def demo_data(app):
    """A few hundred demo interviews: enough responses per department to show figures, not suppress them."""
    seed_demo(interviews=300)


def headline(page, name: str) -> str:
    """One of the headline figures, as shown."""
    figure = page.locator("dl.figures div").filter(has=page.locator("dt", has_text=name))
    return figure.locator("dd").inner_text()


def csv_table(path) -> list[list[str]]:
    """A downloaded CSV part: the header row, then the rows."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        return [row for row in csv.reader(file) if row]


def test_hr_filters_the_reports_and_downloads_the_csv(signed_in_page, staff_user, demo_data, live_server):
    """Change a filter → the URL keeps it, the figures change; the CSV carries the same filter."""
    page = signed_in_page(staff_user("hr"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page).to_have_url(f"{live_server}/reports")
    expect(page.get_by_role("alert"), "the unfiltered page reports errors in its filters").to_have_count(0)
    everyone = int(headline(page, "Responses"))

    page.get_by_label("Department", exact=True).select_option(DEPARTMENT)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(re.escape(f"department={DEPARTMENT}")))
    expect(page.get_by_label("Department", exact=True)).to_have_value(DEPARTMENT)
    engineering = int(headline(page, "Responses"))
    assert 0 < engineering < everyone
    page.reload()  # the filtered view is a URL: it survives a reload or a shared link
    assert int(headline(page, "Responses")) == engineering

    with page.expect_download() as download_info:
        page.get_by_role("link", name="figures (tidy, one row per group × item × statistic)").click()
    download = download_info.value
    assert (
        download.suggested_filename.endswith(".csv")
        and f"department-{DEPARTMENT}" in download.suggested_filename
    )
    aggregates = csv_table(download.path())
    assert aggregates[0][:5] == ["dimension", "group", "item", "statistic", "value"]
    assert ["All", "All responses", "", "responses", str(engineering)] in [row[:5] for row in aggregates[1:]]
    with page.expect_download() as download_info:
        page.get_by_role("link", name="responses", exact=True).click()
    responses = csv_table(download_info.value.path())
    department = responses[0].index("department")
    assert len(responses) - 1 == engineering
    assert {row[department] for row in responses[1:]} == {DEPARTMENT}


def test_reports_page_is_accessible_and_fits_a_phone(signed_in_page, staff_user, demo_data, live_server):
    """axe-core on the full report; no sideways scrolling at 320 px (wide tables scroll in their own box)."""
    page = signed_in_page(staff_user("hr"))
    page.goto(f"{live_server}/reports")
    expect(page.locator("dl.figures")).to_be_visible()
    assert_accessible(page)

    phone = signed_in_page(staff_user("hr", email="hr.phone@example.com"), viewport=NARROW_PHONE)
    phone.goto(f"{live_server}/reports")
    assert horizontal_overflow(phone) <= 0
