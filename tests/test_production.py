"""Running it for real: gunicorn with the repository's config, health checks, redacted logs."""

import pytest
from flask import request
from processes import Gunicorn, seed_invitations, survey_paths

from config import TestingConfig
from helpers import make_app
from survey.tokens import make_opt_out_token

pytestmark = pytest.mark.slow


def test_healthz_reports_the_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "unreachable",
    ["postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2", "sqlite:////nonexistent-dir/x.sqlite"],
)
def test_healthz_answers_503_when_the_database_is_unreachable(unreachable):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = unreachable

    response = make_app(Config).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_gunicorn_access_log_goes_to_stdout_without_survey_tokens(app, recruiter):
    [invitation_id] = seed_invitations(1, recruiter, status="sent")
    [path] = survey_paths([invitation_id])
    token, opt_out_token = path.removeprefix("/s/"), make_opt_out_token(invitation_id, 1)
    with Gunicorn(app, workers=1) as server:
        status, _, body = server.get(path, headers={"Referer": f"http://localhost{path}"})
        assert status == 200 and "csrf_token" in body
        assert server.get(f"/s/{opt_out_token}/opt-out")[0] == 200
    log = server.output()
    assert '"GET /s/[redacted] HTTP/1.1" 200' in log
    assert '"GET /s/[redacted]/opt-out HTTP/1.1" 200' in log
    assert '"http://localhost/s/[redacted]"' in log
    assert token not in log and opt_out_token not in log


@pytest.mark.parametrize(("proxies", "seen"), [(0, "10.0.0.2"), (1, "203.0.113.9")])
def test_client_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(database_url, proxies, seen):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        TRUSTED_PROXY_COUNT = proxies

    app = make_app(Config)
    app.add_url_rule("/_whoami", "whoami", lambda: f"{request.remote_addr} {request.scheme}")
    response = app.test_client().get(
        "/_whoami",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert response.get_data(as_text=True) == f"{seen} {'https' if proxies else 'http'}"
