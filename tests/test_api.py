"""JSON API: bearer keys, validation by field, idempotency."""

from sqlalchemy import func, select

from helpers import interview_payload
from survey.extensions import db
from survey.models import ApiKey, Interview, Invitation
from survey.services.accounts import create_api_key


def post(client, key, payload):
    return client.post("/api/v1/interviews", json=payload, headers={"Authorization": f"Bearer {key}"})


def test_missing_wrong_or_revoked_key_gets_401(client, api_key, recruiter):
    assert client.post("/api/v1/interviews", json=interview_payload()).status_code == 401
    assert post(client, "dbk_wrong", interview_payload()).status_code == 401
    basic = client.post(
        "/api/v1/interviews", json=interview_payload(), headers={"Authorization": f"Basic {api_key}"}
    )
    assert basic.status_code == 401
    key = db.session.scalar(select(ApiKey))
    key.revoked_at = key.created_at
    db.session.commit()
    response = post(client, api_key, interview_payload())
    assert response.status_code == 401
    assert "API key" in response.get_json()["error"]


def test_keys_are_stored_hashed(app):
    row, plain = create_api_key("ATS")
    assert plain not in (row.key_hash, row.prefix)
    assert len(row.key_hash) == 64


def test_create_schedules_the_survey_after_the_configured_delay(client, api_key, recruiter):
    response = post(client, api_key, interview_payload())
    assert response.status_code == 201
    body = response.get_json()
    assert body["survey"] == {
        "status": "scheduled",
        "send_after": "2026-11-20T12:00:00Z",
        "sent_at": None,
        "completed_at": None,
        "expires_at": None,
    }
    assert response.headers["Location"].endswith(f"/api/v1/interviews/{body['id']}")
    assert body["candidate"]["email"] == "cara@example.org"


def test_same_external_id_twice_is_idempotent(client, api_key, recruiter):
    first = post(client, api_key, interview_payload())
    second = post(client, api_key, interview_payload(stage="Onsite"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 1
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


def test_invalid_input_names_each_bad_field(client, api_key, recruiter):
    payload = interview_payload(
        candidate={"name": "", "email": "not-an-email"},
        stage="x" * 101,
        ends_at="yesterday",
        recruiter_email="nobody@example.com",
        interviewers="Bob",
    )
    del payload["position"]
    response = post(client, api_key, payload)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert set(errors) == {
        "candidate.name",
        "candidate.email",
        "position.title",
        "stage",
        "ends_at",
        "recruiter_email",
        "interviewers",
    }
    assert "ISO 8601" in errors["ends_at"]
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 0


def test_non_json_body_and_non_object_get_400(client, api_key, recruiter):
    headers = {"Authorization": f"Bearer {api_key}"}
    raw = client.post(
        "/api/v1/interviews", data="{not json", headers=headers, content_type="application/json"
    )
    assert raw.status_code == 400
    assert "_body" in raw.get_json()["errors"]
    assert post(client, api_key, [1, 2]).status_code == 400
    assert post(client, api_key, interview_payload(candidate="Cara")).get_json()["errors"]["candidate"]


def test_ends_before_start_is_refused(client, api_key, recruiter):
    response = post(client, api_key, interview_payload(starts_at="2026-11-20T11:00:00Z"))
    assert response.get_json()["errors"] == {"ends_at": "Must not be before starts_at."}


def test_get_reports_the_survey_status(client, api_key, recruiter):
    created = post(client, api_key, interview_payload()).get_json()
    headers = {"Authorization": f"Bearer {api_key}"}
    fetched = client.get(f"/api/v1/interviews/{created['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.get_json()["survey"]["status"] == "scheduled"
    assert client.get("/api/v1/interviews/999", headers=headers).status_code == 404
    assert client.get(f"/api/v1/interviews/{created['id']}").status_code == 401


def test_api_errors_are_json(client, api_key):
    response = client.get("/api/v1/nothing-here", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 404
    assert response.is_json


def test_every_error_a_machine_gets_is_json_with_a_message(client, api_key):
    """The API and the health check answer errors in JSON, whichever part of the app refused the request:
    routing (404, 405 with its Allow header), the size limit (413) and the input check (400)."""
    auth = {"Authorization": f"Bearer {api_key}"}
    answers = {
        404: client.get("/api/v1/no-such-thing", headers=auth),
        405: client.delete("/api/v1/interviews", headers=auth),
        413: client.post(
            "/api/v1/interviews", data="x" * (2 * 1024 * 1024), content_type="application/json", headers=auth
        ),
        400: client.post("/api/v1/interviews", data="hello", content_type="text/plain", headers=auth),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert response.is_json and (response.get_json().get("error") or response.get_json().get("errors"))
    assert "POST" in answers[405].headers["Allow"]
    health = client.post("/healthz")
    assert health.status_code == 405 and health.is_json and "GET" in health.headers["Allow"]
