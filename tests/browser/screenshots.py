"""Regenerate the README's screenshots from demo data: `make screenshots`.

Seeds a scratch database with the demo data, serves the app on loopback, and photographs each page in
SHOTS with the system Chromium into docs/screenshots/<name>.png. To add a page, append a Shot: its `path`
is computed inside the app context from the demo data, and `sign_in_as` names a demo account.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import select

from config import Config
from survey import create_app
from survey.extensions import db
from survey.models import Debrief, Interview, Invitation, Response, User, utcnow
from survey.questions import perception_gaps
from survey.services.demo import DEMO_PASSWORD, seed_demo
from survey.tokens import make_survey_token

from .harness import CHROMIUM_PATH, PHONE, LiveServer, chromium_available, launch_chromium, sign_in

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}


def open_survey_path() -> str:
    """The survey link of a demo invitation that can still be answered."""
    invitation = db.session.scalars(
        select(Invitation)
        .where(Invitation.status.in_(("sent", "opened")), Invitation.expires_at > utcnow())
        .order_by(Invitation.id)
    ).first()
    if invitation is None:
        raise SystemExit("the demo data has no open invitation to photograph")
    return f"/s/{make_survey_token(invitation.id, invitation.version)}"


def combined_view_path(recruiter_email: str = "alex.morgan@example.com") -> str:
    """The recruiter's most recent demo interview with named answers, written comments on both sides and a
    flagged gap of 2 or more points: the combined view at its most telling."""
    rows = db.session.execute(
        select(Interview.id, Response.answers, Debrief)
        .join(Invitation, Invitation.interview_id == Interview.id)
        .join(Response, Response.invitation_id == Invitation.id)
        .join(Debrief, Debrief.interview_id == Interview.id)
        .join(User, User.id == Interview.recruiter_id)
        .where(User.email == recruiter_email)
        .order_by(Interview.ends_at.desc())
    )
    for interview_id, answers, debrief in rows:
        commented = any(key in answers for key in ("went_well", "improve", "open_doubts"))
        flagged = any(gap.flagged and gap.difference for gap in perception_gaps(answers, debrief))
        if commented and flagged and debrief.free_notes:
            return f"/interviews/{interview_id}"
    raise SystemExit("the demo data has no debriefed interview with a flagged gap to photograph")


@dataclass(frozen=True)
class Shot:
    """One screenshot: where to go, on what screen, as whom."""

    name: str
    path: Callable[[], str]
    viewport: dict
    sign_in_as: str | None = None
    # A long page is photographed to the first screen only, which is what a reader sees first.
    full_page: bool = True


SHOTS: list[Shot] = [
    Shot("survey-phone", open_survey_path, PHONE),
    Shot("combined-view", combined_view_path, DESKTOP, sign_in_as="alex.morgan@example.com"),
    Shot("reports", lambda: "/reports", DESKTOP, sign_in_as="hana.kim@example.com", full_page=False),
]


def demo_app(database: Path):
    """The app on a scratch SQLite file filled with demo data."""

    class ScreenshotConfig(Config):
        SECRET_KEY = secrets.token_hex(16)
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{database}"
        RATELIMIT_ENABLED = False

    app = create_app(ScreenshotConfig)
    with app.app_context():
        db.create_all()
        seed_demo(interviews=400)
    return app


def take(browser, base_url: str, shot: Shot, path: str, out_dir: Path) -> Path:
    """Photograph one page, full length, in a fresh browser context."""
    context = browser.new_context(viewport=shot.viewport)
    try:
        page = context.new_page()
        if shot.sign_in_as:
            sign_in(page, base_url, shot.sign_in_as, DEMO_PASSWORD)
        response = page.goto(base_url + path)
        if response is None or response.status >= 400:
            raise SystemExit(f"{shot.name}: {path} answered {response.status if response else 'nothing'}")
        target = out_dir / f"{shot.name}.png"
        page.screenshot(path=str(target), full_page=shot.full_page)
        return target
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, photograph every shot (or those named with --only)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="names of the shots to take")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    shots = [s for s in SHOTS if not args.only or s.name in args.only]
    if not chromium_available():
        print(f"Chromium is not installed at {CHROMIUM_PATH} (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the output
    with tempfile.TemporaryDirectory() as scratch:
        app = demo_app(Path(scratch) / "demo.sqlite")
        server = LiveServer(app).start()
        try:
            with app.app_context():
                paths = {shot.name: shot.path() for shot in shots}
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for shot in shots:
                    print(f"wrote {take(browser, server.url, shot, paths[shot.name], args.out)}")
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
