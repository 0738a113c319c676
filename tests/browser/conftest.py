"""Browser fixtures: one Chromium per session, the test's app served over HTTP, a fresh page per test.

A browser test asks for `live_server` (base URL) and `page` (or `new_page(...)` for other viewports or
JavaScript switched off). Staff pages: `signed_in_page(user)` returns a page already signed in, e.g.

    def test_recruiter_sees_combined_view(signed_in_page, recruiter, live_server):
        page = signed_in_page(recruiter)
        page.goto(f"{live_server}/interviews")
        assert_accessible(page)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from survey.extensions import db
from survey.services.accounts import create_user

from .harness import CHROMIUM_PATH, PHONE, LiveServer, chromium_available, launch_chromium, sign_in

# The same password as the root `recruiter` fixture, so signed_in_page(recruiter) just works.
STAFF_PASSWORD = "password-123"


@pytest.hookimpl(tryfirst=True)  # before `-m` selection reads the markers
def pytest_collection_modifyitems(config, items):
    """Everything under tests/browser is a browser test."""
    for item in items:
        if "/tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    """Headless system Chromium, shared by the whole session (starting it is the slow part)."""
    if not chromium_available():
        message = f"Chromium is not installed at {CHROMIUM_PATH} (apt-get install chromium)"
        if os.environ.get("BROWSER_TESTS_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def app(app):
    """The test's app served over real HTTP; links in its emails point at that server."""
    server = LiveServer(app)
    app.config["PUBLIC_BASE_URL"] = server.url
    server.start()
    yield app
    server.stop()


@pytest.fixture
def live_server(app) -> str:
    """The base URL the app is served at, e.g. http://127.0.0.1:54321."""
    return app.config["PUBLIC_BASE_URL"]


@pytest.fixture
def new_page(browser) -> Iterator[Callable]:
    """Open pages in fresh browser contexts (no shared cookies or cache); closed after the test."""
    contexts = []

    def open_page(viewport: dict | None = None, javascript: bool = True):
        context = browser.new_context(viewport=viewport or PHONE, java_script_enabled=javascript)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A page on a 390×844 phone viewport."""
    return new_page()


@pytest.fixture
def staff_user(app):
    """Create a staff account the browser can sign in with: staff_user(role) -> User."""

    def create(role: str, email: str | None = None):
        return create_user(
            email or f"{role}.browser@example.com", f"Browser {role.title()}", role, STAFF_PASSWORD
        )

    return create


@pytest.fixture
def signed_in_page(new_page, live_server) -> Callable:
    """A desktop-sized page signed in as the given user (created with STAFF_PASSWORD)."""

    def open_as(user, password: str = STAFF_PASSWORD, viewport: dict | None = None):
        db.session.commit()  # the server thread must see the user
        page = new_page(viewport or {"width": 1280, "height": 900})
        sign_in(page, live_server, user.email, password)
        return page

    return open_as
