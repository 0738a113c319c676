"""Security headers, trusted hosts, the production start check, input limits and throttling."""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import STRONG_KEY

from config import TestingConfig
from helpers import csrf_token, interview_payload, make_app
from survey.extensions import db
from survey.tokens import make_survey_token

ROOT = Path(__file__).resolve().parent.parent
# A key that passes the production checks (made once with `flask --app wsgi secrets generate`).


def survey_path(invitation) -> str:
    return f"/s/{make_survey_token(invitation.id, invitation.version)}"


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'none'" in csp
    assert "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no third-party source
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_survey_page_sign_in_page_and_errors_carry_the_security_headers(client, make_interview):
    invitation = make_interview().invitation
    for path in (survey_path(invitation), "/login", "/s/not-a-token", "/healthz", "/static/css/app.css"):
        response = client.get(path)
        assert_security_headers(response)
        assert "Strict-Transport-Security" not in response.headers


def test_served_templates_have_no_inline_style_or_script():
    for template in (ROOT / "templates").rglob("*.html"):
        if template.parent.name == "email":
            continue  # mail clients need inline styles; email is never served as a page
        html = template.read_text()
        assert "style=" not in html and "<style" not in html, template
        assert "<script" not in html and " on" + "click=" not in html, template


def production_app(tmp_path, monkeypatch, **settings):
    from config import ProductionConfig

    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    attributes = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.sqlite'}",
        "SECRET_KEY": STRONG_KEY,
        "RATELIMIT_STORAGE_URI": f"sqlite:///{tmp_path / 'limits.sqlite'}",
        **settings,
    }
    app = make_app(type("Prod", (ProductionConfig,), attributes))
    with app.app_context():
        db.create_all()
    return app


def test_production_sends_hsts(tmp_path, monkeypatch):
    app = production_app(tmp_path, monkeypatch)
    response = app.test_client().get("/login", base_url="https://debrief.example.com")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert_security_headers(response)


def test_production_answers_only_its_trusted_hosts(tmp_path, monkeypatch):
    app = production_app(tmp_path, monkeypatch, TRUSTED_HOSTS=["debrief.example.com"])
    client = app.test_client()
    assert client.get("/healthz", base_url="https://debrief.example.com").status_code == 200
    forged = client.get("/login", base_url="https://evil.example.net")
    assert forged.status_code == 400
    assert "Bad request" in forged.get_data(as_text=True)
    assert "Traceback" not in forged.get_data(as_text=True)


def test_oversized_request_is_refused_with_413(client, make_interview):
    invitation = make_interview().invitation
    response = client.post(survey_path(invitation), data={"went_well": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)


def test_too_long_survey_answer_is_refused_and_the_rest_kept(client, make_interview):
    invitation = make_interview().invitation
    path = survey_path(invitation)
    token = csrf_token(client.get(path).get_data(as_text=True))
    response = client.post(
        path, data={"csrf_token": token, "went_well": "y" * 5001, "improve": "kept", "consent": "named"}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "under 5,000 characters" in html and "kept</textarea>" in html
    assert invitation.status != "completed"


@pytest.mark.parametrize(
    "body",
    [b"went_well=%FF%FE&consent=named", b"went_well=a%00b&consent=named", b"consent=named&%C3%28=1"],
)
def test_survey_form_with_invalid_utf8_or_nul_is_refused_with_400(client, make_interview, body):
    invitation = make_interview().invitation
    response = client.post(
        survey_path(invitation), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "invalid UTF-8 or a NUL character" in response.get_data(as_text=True)
    db.session.refresh(invitation)
    assert invitation.status == "scheduled"


@pytest.mark.parametrize(
    "body",
    [
        b'{"stage": "\xff\xfe"}',
        b'{"stage": "a\\u0000b"}',
        '{"stage": "Technical"}'.encode("utf-16"),
    ],
)
def test_api_with_invalid_utf8_or_nul_is_refused_with_400_json(client, api_key, body):
    response = client.post(
        "/api/v1/interviews",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 400
    assert "invalid UTF-8" in response.get_json()["errors"]["_body"]


def test_nul_in_query_string_or_path_is_refused(client):
    assert client.get("/login?next=%00").status_code == 400
    assert client.get("/s/abc%00def").status_code == 400
    # A real server hands the raw path bytes on as latin-1, which the test client cannot send.
    assert client.get("/s/x", environ_overrides={"PATH_INFO": "/s/abc\xffdef"}).status_code == 400


def test_clean_unicode_input_is_accepted(client, api_key, recruiter):
    payload = interview_payload(candidate={"name": "Zoë Ångström 李", "email": "zoe@example.org"})
    response = client.post("/api/v1/interviews", json=payload, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 201
    assert response.get_json()["candidate"]["name"] == "Zoë Ångström 李"


@pytest.fixture
def throttled_app(tmp_path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'throttle.sqlite'}"
        RATELIMIT_ENABLED = True
        RATELIMIT_SURVEY = "5 per minute"
        RATELIMIT_API = "4 per minute"

    app = make_app(Config)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()


def test_survey_links_are_throttled_with_a_clear_429(throttled_app):
    client = throttled_app.test_client()
    answers = [client.get(f"/s/guess-{n}") for n in range(6)]
    assert [r.status_code for r in answers[:5]] == [404] * 5
    assert answers[5].status_code == 429
    assert "Please wait a minute, then reload the page" in answers[5].get_data(as_text=True)
    assert int(answers[5].headers["Retry-After"]) > 0
    assert_security_headers(answers[5])
    # Another client address is not held back by the first one's flood.
    other = client.get("/s/guess-x", environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 404


def test_api_is_throttled_with_a_json_429(throttled_app):
    client = throttled_app.test_client()
    statuses = [client.get("/api/v1/interviews/1").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    last = client.get("/api/v1/interviews/1")
    assert "Retry-After" in last.get_json()["error"]


def test_ratelimit_enabled_false_switches_throttling_off(client):
    assert not client.application.config["RATELIMIT_ENABLED"]
    assert {client.get(f"/s/guess-{n}").status_code for n in range(80)} == {404}


def test_ratelimit_storage_uri_setting_is_honoured(tmp_path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'storage.sqlite'}"
        RATELIMIT_ENABLED = True
        RATELIMIT_STORAGE_URI = "nosuchstore://127.0.0.1"

    # The setting is read (and here refused), not overridden by a hard-coded default.
    with pytest.raises(Exception, match="nosuchstore"):
        make_app(Config)
