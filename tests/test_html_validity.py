"""Every HTML page is valid by the Nu HTML Checker (`vnu.jar`, the W3C's checker).

Browsers forgive invalid HTML each in their own way, and screen readers and phone browsers are
the least forgiving: a duplicate id breaks a label, a stray end tag moves a field out of its form.
The pages are rendered from demo data after a real answer (through the survey form) and a real
debrief, as the candidate and as each staff role sees them, with forms refused for errors too.
Staff pages are found by following every link from each role's first pages, so a page reachable
from the app is checked without being listed here; a GET route that is not an HTML page is named
in NOT_PAGES with what it is, and a route neither visited nor named fails the test.

The checker is npm's `vnu-jar` (`make test` installs it under .cache/ when npm is there) run with
Java; `VNU_JAR` names another copy. Without them the test is skipped with the reason; in CI
(`HTML_CHECK_REQUIRED=1`) it fails instead.
"""

from __future__ import annotations

import html
import json
import mailbox
import os
import re
import shutil
import subprocess
from collections import Counter, deque
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from config import TestingConfig
from helpers import app_on_fresh_database, csrf_token, free_port, opt_out_link, sign_in, survey_link
from survey.dev.mailcatcher import ensure_maildir
from survey.extensions import db
from survey.models import Interview, Invitation, utcnow
from survey.services.demo import DEMO_PASSWORD, demo_logins, seed_demo
from survey.services.invitations import send_due
from survey.tokens import load_survey_token, make_survey_token

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JAR = ROOT / ".cache" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# GET routes that are not HTML pages, by endpoint: what each is instead.
NOT_PAGES = {
    "static": "stylesheets, scripts and images",
    "site.favicon": "an icon",
    "site.robots_txt": "plain text for crawlers",
    "health.healthz": "JSON for load balancers",
    "api.list_interviews_endpoint": "the JSON API",
    "api.get_interview": "the JSON API",
    "api.openapi": "the API's description in JSON",
    "recruiter.leads_csv": "a CSV download",
    "reports.export": "CSV, XLSX and JSON downloads",
    "recruiter.sso_login": "a redirect to the identity provider (checked in test_sso.py)",
    "recruiter.sso_callback": "the identity provider's redirect back (checked in test_sso.py)",
    "recruiter.home": "a redirect to each role's first page",
}
# Enough of each page to meet its variants (filters, sorting, an interview with and without
# answers) without checking all of the demo's hundreds of interviews.
VISITS_PER_ENDPOINT = 4


@pytest.fixture
def app(database_url, tmp_path):
    """The app with the development mail catcher's pages (the mail it caught is a page too)."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        MAIL_PORT = free_port()
        DEV_MAIL_DIR = str(tmp_path / "mail")

    with app_on_fresh_database(Config) as app:
        yield app


def vnu_command() -> list[str]:
    """The checker's command line, or a skip (a failure in CI) saying what is missing."""
    jar = Path(os.environ.get("VNU_JAR") or DEFAULT_JAR)
    java = shutil.which("java")
    missing = None
    if not jar.is_file():
        missing = f"the Nu HTML Checker is not at {jar} (npm's vnu-jar, which `make test` installs)"
    elif java is None:
        missing = "Java is not installed (apt-get install default-jre-headless)"
    if missing:
        if os.environ.get("HTML_CHECK_REQUIRED") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    return [java, "-jar", str(jar), "--errors-only", "--also-check-svg", "--format", "json"]


def test_every_page_is_valid_html(app, smtp_server, tmp_path):
    command = vnu_command()
    seed_demo(interviews=120)
    send_due()
    assert len(smtp_server.messages) >= 2
    pages = candidate_pages(app, smtp_server.messages[0], smtp_server.messages[1])
    answered = answered_interview(smtp_server.messages[0])
    keep_caught_mail(app, smtp_server.messages)
    pages |= email_pages(smtp_server.messages[0])

    owner = staff_client(app, answered.recruiter.email)
    pages |= staff_forms_refused(owner, answered.id)
    admin = next(email for email, _, role in demo_logins() if role == "admin")
    pages |= question_set_draft(staff_client(app, admin))
    visited: set[str] = set()
    others = [email for email, _, role in demo_logins() if role != "recruiter"]
    for email in [answered.recruiter.email, *others]:
        start = ["/interviews", f"/interviews/{answered.id}", "/dev/mail"]
        found, endpoints = crawl(app, staff_client(app, email), start)
        pages |= {f"{email} {url}": text for url, text in found.items()}
        visited |= endpoints
    visited |= {endpoint_of(app, url.split(" ", 1)[0]) for url in pages if url.startswith("/")}

    every_get = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    assert every_get - visited - set(NOT_PAGES) == set(), "pages neither checked nor named in NOT_PAGES"

    assert_valid(command, pages, tmp_path / "pages")


def candidate_pages(app, answered, opted_out) -> dict[str, str]:
    """The survey (blank, refused, thanked, already answered), opting out, bad and expired links."""
    client = app.test_client()
    path = survey_link(answered)
    pages = {}
    blank = pages[path] = page(client.get(path))
    token = csrf_token(blank)
    pages[f"{path} refused"] = page(client.post(path, data={"csrf_token": token, "nps": "3"}), status=400)
    answers = {"consent": "named", "nps": "3", "fair": "2", "improve": "Start on time <please>"}
    thanks = client.post(path, data={"csrf_token": token, **answers})
    assert thanks.status_code == 303, "the survey did not take a complete answer"
    pages[thanks.headers["Location"]] = page(client.get(thanks.headers["Location"]))
    pages[f"{path} answered"] = page(client.get(path))

    other = app.test_client()
    opt_out = opt_out_link(opted_out)
    pages[opt_out] = page(other.get(opt_out))
    pages[f"{opt_out} done"] = page(other.post(opt_out))
    pages[f"{opt_out} again"] = page(other.get(opt_out))
    pages["/s/not-a-link"] = page(other.get("/s/not-a-link"), status=404)
    pages["/s/expired"] = page(other.get(expired_link()), status=410)
    return pages


def expired_link() -> str:
    invitation = db.session.scalars(select(Invitation).where(Invitation.status == "sent")).first()
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    return f"/s/{make_survey_token(invitation.id, invitation.version)}"


def answered_interview(message) -> Interview:
    token = survey_link(message).split("/s/", 1)[1]
    invitation = db.session.get(Invitation, load_survey_token(token).invitation_id)
    return invitation.interview


def keep_caught_mail(app, messages) -> None:
    """Put the delivered mail where the development mail catcher's pages read it."""
    ensure_maildir(app.config["DEV_MAIL_DIR"])
    box = mailbox.Maildir(app.config["DEV_MAIL_DIR"])
    for message in messages[:3]:
        box.add(message)


def email_pages(message) -> dict[str, str]:
    """The invitation email's HTML part: a page too, in the candidate's mail client."""
    parts = [part for part in message.walk() if part.get_content_type() == "text/html"]
    assert parts, "the invitation has no HTML part"
    return {"invitation email": parts[0].get_payload(decode=True).decode()}


def staff_client(app, email: str):
    client = app.test_client()
    assert sign_in(client, email, DEMO_PASSWORD).status_code == 302, f"cannot sign in as {email}"
    return client


def staff_forms_refused(client, interview_id: int) -> dict[str, str]:
    """Forms sent back with their errors shown: sign-in, a debrief, a new interview."""
    pages = {}
    anonymous = client.application.test_client()
    login = anonymous.get("/login").get_data(as_text=True)
    refused = {"csrf_token": csrf_token(login), "email": "nobody@example.com", "password": "wrong"}
    pages["/login refused"] = page(anonymous.post("/login", data=refused), status=400)

    debrief = f"/interviews/{interview_id}/debrief"
    form = client.get(debrief).get_data(as_text=True)
    saved = client.post(debrief, data={"csrf_token": csrf_token(form), "interest": "9"})
    pages[f"{debrief} refused"] = page(saved, status=400)
    form = client.get("/interviews/new").get_data(as_text=True)
    created = client.post("/interviews/new", data={"csrf_token": csrf_token(form), "candidate_email": "x"})
    pages["/interviews/new refused"] = page(created, status=400)
    return pages


def question_set_draft(client) -> dict[str, str]:
    """The draft editor, on a copy of the default question set that the admin starts."""
    sets = client.get("/admin/question-sets").get_data(as_text=True)
    form = {"csrf_token": csrf_token(sets), "name": "Onsite"}
    copied = client.post("/admin/question-sets/1/copy", data=form)
    assert copied.status_code == 302, "the admin could not start a draft"
    return {copied.headers["Location"]: page(client.get(copied.headers["Location"]))}


def crawl(app, client, start: list[str]) -> tuple[dict[str, str], set[str]]:
    """The HTML pages reachable by links from `start` (up to VISITS_PER_ENDPOINT per endpoint),
    and the endpoints whose pages they are (after any redirect). A link to no route, or a page
    that does not answer 200, fails."""
    queue, seen = deque(start), set()
    visits: Counter[str] = Counter()
    pages: dict[str, str] = {}
    met: set[str] = set()
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        endpoint = endpoint_of(app, url)
        if endpoint in NOT_PAGES or visits[endpoint] >= VISITS_PER_ENDPOINT:
            continue
        visits[endpoint] += 1
        response = client.get(url, follow_redirects=True)
        pages[url] = found = page(response)
        met.add(endpoint_of(app, response.request.path))  # where a redirect led: that page was checked
        queue.extend(html.unescape(href) for href in re.findall(r'href="(/[^"#]*)', found))
    return pages, met


def endpoint_of(app, url: str) -> str:
    try:
        endpoint, _ = app.url_map.bind("localhost").match(urlsplit(url).path, method="GET")
    except HTTPException as exc:
        pytest.fail(f"a link to no page: {url} ({exc.code})")
    return endpoint


def page(response, status: int | tuple[int, ...] = 200) -> str:
    expected = status if isinstance(status, tuple) else (status,)
    where = response.request.path
    assert response.status_code in expected, f"{where} answered {response.status_code}"
    assert response.mimetype == "text/html", f"{where} is {response.mimetype}, not a page"
    return response.get_data(as_text=True)


def assert_valid(command: list[str], pages: dict[str, str], folder: Path) -> None:
    """Run the checker once on every page; fail with each error, its page and its place."""
    folder.mkdir()
    names = {}
    for number, (name, text) in enumerate(sorted(pages.items())):
        path = folder / f"{number:03}.html"
        path.write_text(text)
        names[path.name] = name
    files = [str(folder / file) for file in names]
    checked = subprocess.run([*command, *files], capture_output=True, text=True, timeout=300)
    errors = [
        f"{names.get(Path(m.get('url', '')).name, m.get('url'))}, line {m.get('lastLine')}: "
        f"{m['message']}\n    {m.get('extract', '')!r}"
        for m in json.loads(checked.stderr)["messages"]
        if m["type"] in ("error", "non-document-error")
    ]
    assert not errors, f"{len(errors)} HTML error(s) in {len(pages)} pages:\n" + "\n".join(errors)
    assert checked.returncode == 0, checked.stderr
