"""The holes an attacker found, each written as the attack: deep JSON, survey tokens in the access
log under other spellings, private pages kept by caches, Retry-After on normal answers, and API keys
past their expiry date."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from processes import Gunicorn, seed_invitations, survey_paths

from helpers import session_csrf, sign_in
from survey.extensions import db
from survey.log_redaction import is_survey_path, redact
from survey.models import utcnow
from survey.security import MAX_JSON_DEPTH, json_depth_exceeds
from survey.services.accounts import create_api_key
from survey.tokens import make_survey_token

DEEP_JSON = "[" * 3000 + "]" * 3000


@pytest.mark.parametrize("path", ["/s/anything", "/api/v1/interviews", "/healthz"])
def test_deeply_nested_json_gets_a_400_in_the_usual_shape_and_no_traceback(client, path, caplog):
    with caplog.at_level(logging.DEBUG):
        response = client.post(path, data=DEEP_JSON, content_type="application/json")
    assert response.status_code == 400
    if path == "/s/anything":
        text = response.get_data(as_text=True)
        assert "nested more than 32 levels deep" in text and "<h1>" in text  # the error page
    else:
        assert "nested more than 32 levels deep" in response.get_json()["errors"]["_body"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


def test_deep_json_in_a_signed_api_call_is_refused_before_the_view(client, api_key):
    response = client.post(
        "/api/v1/interviews",
        data='{"candidate": ' + "[" * 40 + "]" * 40 + "}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 400
    assert "errors" in response.get_json()


def test_json_depth_is_counted_outside_strings_only():
    assert not json_depth_exceeds('{"note": "' + "[" * 500 + '"}')
    assert not json_depth_exceeds("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds("[" * (MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds(b'{"a": "x\\"", "b": ' + b"{" * 40)


@pytest.mark.slow
def test_deep_json_to_a_real_server_logs_no_traceback(app):
    with Gunicorn(app, workers=1) as server:
        for path in ("/s/anything", "/api/v1/interviews", "/healthz"):
            status, _, _ = server.request("POST", path, DEEP_JSON, {"Content-Type": "application/json"})
            assert status == 400
    log = server.output()
    assert "Traceback" not in log and "RecursionError" not in log


# --- Survey tokens in the access log ---------------------------------------------------------------

SPELLINGS = [
    "/s/{t}",
    "/s%2F{t}",
    "/s%2f{t}",
    "/%73/{t}",
    "/s/./{t}",
    "//s/{t}",
    "/x/../s/{t}",
    "/s/%2E/{t}",
    "/%2573/{t}",
    "/s/{t}/opt-out",
    "/s/{t}%2Fopt-out",
    "/s/%{hex}{rest}",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_survey_path_is_redacted(spelling):
    token = "WzEsMV0.abcdefghijklmnopqrstuvwxyz"
    line = (
        f'127.0.0.1 "GET {spelling.format(t=token, hex=f"{ord(token[0]):02X}", rest=token[1:])} HTTP/1.1" 200'
    )
    assert token[1:] not in redact(line)
    assert "[redacted]" in redact(line)


def test_redaction_leaves_other_paths_and_catches_tokens_in_queries_and_referrers():
    assert redact('"GET /interviews/12?page=2 HTTP/1.1"') == '"GET /interviews/12?page=2 HTTP/1.1"'
    assert "secret-token" not in redact('"GET /login?next=%2Fs%2Fsecret-token HTTP/1.1"')
    assert (
        redact('"https://debrief.example.com/s%2Fsecret-token"')
        == '"https://debrief.example.com/s/[redacted]"'
    )
    assert not is_survey_path("/static/css/app.css")
    assert is_survey_path("/s/../s/x")


@pytest.mark.slow
def test_no_spelling_of_a_survey_path_puts_its_token_in_a_real_servers_log(app, recruiter):
    [invitation_id] = seed_invitations(1, recruiter, status="sent")
    [path] = survey_paths([invitation_id])
    token = path.removeprefix("/s/")
    spellings = [s for s in SPELLINGS if "opt-out" not in s]
    with Gunicorn(app, workers=1) as server:
        opened = []
        for spelling in spellings:
            target = spelling.format(t=token, hex=f"{ord(token[0]):02X}", rest=token[1:])
            status, _, body = server.get(target, headers={"Referer": f"http://localhost{target}"})
            opened.append((target, status, "csrf_token" in body))
    # The attacker's spellings do reach the survey (so they must be redacted) ...
    assert sum(1 for _, status, survey in opened if status == 200 and survey) >= 4, opened
    log = server.output()
    # ... and the token appears nowhere in the log, in the request line or the referrer.
    assert token[1:] not in log
    assert log.count("/s/[redacted]") >= 2 * len(spellings) - 2


# --- Caching and Retry-After -----------------------------------------------------------------------


def test_pages_and_exports_with_personal_data_are_not_stored_by_caches(client, staff, make_interview):
    interview = make_interview()
    survey = client.get(f"/s/{make_survey_token(interview.invitation.id, 1)}")
    assert survey.headers["Cache-Control"] == "no-store"
    sign_in(client, staff["owner"].email)
    for path in ("/interviews", f"/interviews/{interview.id}", "/leads", "/account"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    client.post("/logout", data={"csrf_token": session_csrf(client)})
    sign_in(client, staff["hr"].email)
    for path in ("/reports", "/reports/export.csv", "/reports/export.json"):
        response = client.get(path)
        response.get_data()  # read the streamed export to its end
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_static_files_may_still_be_cached(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


@pytest.fixture
def throttled_client(database_url):
    from config import TestingConfig
    from survey import create_app

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        RATELIMIT_ENABLED = True
        RATELIMIT_SURVEY = "3 per minute"

    throttled = create_app(Config)
    with throttled.app_context():
        db.create_all()
        yield throttled.test_client()
        db.session.remove()


def test_retry_after_is_sent_only_with_a_429(throttled_client):
    answers = [throttled_client.get("/s/guess") for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert all("Retry-After" not in a.headers for a in answers[:3])
    assert int(answers[3].headers["Retry-After"]) > 0
    assert "Retry-After" not in throttled_client.get("/login").headers


# --- API keys: expiry and last use -----------------------------------------------------------------


def test_an_api_key_past_its_expiry_date_is_refused(client, recruiter):
    api_key, plain = create_api_key("Short-lived ATS", expires_at=utcnow() + timedelta(days=1))
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/interviews/999", headers=headers).status_code == 404
    api_key.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/interviews/999", headers=headers).status_code == 401


def key_row(html: str, name: str) -> str:
    """The table row of one key on the API keys page."""
    return html.split(f'data-label="Name">{name}<', 1)[1].split("</tr>", 1)[0]


def test_admin_creates_a_key_with_an_expiry_date_and_sees_its_last_use(client, staff):
    sign_in(client, staff["admin"].email)
    expires_on = (utcnow() + timedelta(days=30)).date()
    page = client.post(
        "/admin/api-keys",
        data={"csrf_token": session_csrf(client), "name": "Greenhouse", "expires_on": expires_on.isoformat()},
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    plain = html.split('<code class="secret">', 1)[1].split("<", 1)[0]
    row = key_row(html, "Greenhouse")
    assert 'data-label="Last used">never<' in row and 'data-label="Expires">never<' not in row
    assert client.get("/api/v1/interviews/1", headers={"Authorization": f"Bearer {plain}"}).status_code == 404
    row = key_row(client.get("/admin/api-keys").get_data(as_text=True), "Greenhouse")
    assert 'data-label="Last used">never<' not in row and "Active" in row


def test_an_expiry_date_in_the_past_is_refused_with_a_message(client, staff):
    sign_in(client, staff["admin"].email)
    page = client.post(
        "/admin/api-keys",
        data={"csrf_token": session_csrf(client), "name": "Old", "expires_on": "2020-01-01"},
    )
    assert page.status_code == 400
    assert "The expiry date must be in the future." in page.get_data(as_text=True)


def test_cli_creates_a_key_with_an_expiry_date(runner):
    result = runner.invoke(args=["api-keys", "create", "Lever sync", "--expires", "2099-01-31"])
    assert result.exit_code == 0, result.output
    assert "valid until 2099-01-31" in result.output
    refused = runner.invoke(args=["api-keys", "create", "Old", "--expires", "2001-01-01"])
    assert refused.exit_code != 0 and "must be in the future" in refused.output
