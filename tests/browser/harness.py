"""A real browser against the real app: Debian's Chromium driven by Playwright, axe-core for accessibility.

Shared by the browser tests and by `make screenshots`. Nothing is downloaded: Chromium comes from the
system package and axe-core is bundled in the axe-playwright-python wheel.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import expect
from werkzeug.serving import make_server

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Keep the browser quiet and offline apart from the app under test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
NARROW_PHONE = {"width": 320, "height": 640}
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_available() -> bool:
    """Whether the system Chromium is installed."""
    return Path(CHROMIUM_PATH).is_file()


def launch_chromium(playwright):
    """Start headless system Chromium (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)


class LiveServer:
    """The app served by a real WSGI server on 127.0.0.1, on a port the OS picks."""

    def __init__(self, app: Flask):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def start(self) -> LiveServer:
        """Serve requests in a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def sign_in(page, base_url: str, email: str, password: str) -> None:
    """Sign a staff member in through the real login form."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # Signed in once the page after the form offers to sign out (waits for the redirect to land).
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@dataclass(frozen=True)
class Violation:
    """One axe-core rule broken on a page."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"[{self.impact}] {self.rule}: {self.help} at {', '.join(self.targets)}"


_AXE = Axe()


def blocking_violations(page) -> list[Violation]:
    """The serious and critical axe-core (WCAG 2.x A/AA and best practice) violations on the page."""
    results = _AXE.run(page)
    return [
        Violation(
            rule=item["id"],
            impact=item["impact"],
            help=item["help"],
            targets=tuple(str(node["target"]) for node in item["nodes"]),
        )
        for item in results.response["violations"]
        if item["impact"] in BLOCKING_IMPACTS
    ]


def assert_accessible(page) -> None:
    """Fail with a readable list if axe-core finds serious or critical problems on the page."""
    violations = blocking_violations(page)
    assert not violations, f"{page.url}:\n" + "\n".join(str(v) for v in violations)


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0 when nothing scrolls sideways)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
