"""The API as an ATS developer uses it: every response fits the OpenAPI document; find, page,
change interviews; scoped keys."""

from datetime import timedelta

import pytest
from api_contract import assert_matches
from sqlalchemy import select

from helpers import interview_payload
from survey.api.openapi import openapi_document
from survey.extensions import db
from survey.models import ApiKey, Interview, Invitation, OutboxMessage
from survey.services.accounts import create_api_key
from survey.services.invitations import send_due

ONE = "/api/v1/interviews/{interview_id}"
MANY = "/api/v1/interviews"


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def create(client, key, **overrides):
    response = client.post(MANY, json=interview_payload(**overrides), headers=auth(key))
    return assert_matches(response, "post", MANY), response


def patch(client, key, interview_id, body):
    response = client.patch(f"/api/v1/interviews/{interview_id}", json=body, headers=auth(key))
    return assert_matches(response, "patch", ONE), response


def test_every_api_route_and_method_is_in_the_document(app):
    documented = {
        (path, method.upper()) for path, item in openapi_document()["paths"].items() for method in item
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = rule.rule.replace("<int:interview_id>", "{interview_id}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_the_document_is_public_and_valid_openapi_31(client):
    from jsonschema import Draft202012Validator

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert set(document["webhooks"]) == {
        "survey.completed",
        "alert.raised",
        "debrief.recorded",
        "interview.outcome",
    }


def test_docs_page_is_rendered_from_the_document_without_scripts(client):
    response = client.get("/api/v1/docs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    for operation in ("POST /api/v1/interviews", "PATCH /api/v1/interviews/{interview_id}"):
        assert operation in html
    assert "recruiter_email" in html and "webhook-signature" in html
    assert "<script" not in html and "cdn" not in html.lower()


def test_create_read_and_error_responses_fit_the_document(client, api_key, recruiter):
    body, response = create(client, api_key)
    assert response.status_code == 201
    again, response = create(client, api_key)
    assert response.status_code == 200 and again["id"] == body["id"]
    bad, response = create(client, api_key, ends_at="soon")
    assert response.status_code == 400 and "ends_at" in bad["errors"]
    assert_matches(client.post(MANY, json=interview_payload()), "post", MANY)
    fetched = client.get(f"/api/v1/interviews/{body['id']}", headers=auth(api_key))
    assert assert_matches(fetched, "get", ONE)["candidate"]["email"] == "cara@example.org"
    missing = client.get("/api/v1/interviews/9999", headers=auth(api_key))
    assert missing.status_code == 404
    assert_matches(missing, "get", ONE)


def test_external_id_finds_the_interview(client, api_key, recruiter):
    body, _ = create(client, api_key, external_id="gh-42")
    create(client, api_key, external_id="gh-43", candidate={"name": "Other", "email": "o@example.org"})
    found = client.get(f"{MANY}?external_id=gh-42", headers=auth(api_key))
    page = assert_matches(found, "get", MANY)
    assert [i["id"] for i in page["data"]] == [body["id"]]
    none = assert_matches(client.get(f"{MANY}?external_id=nope", headers=auth(api_key)), "get", MANY)
    assert none == {"data": [], "next_cursor": None}


def test_cursor_pages_cover_every_interview_once_in_change_order(client, api_key, recruiter):
    ids = [
        create(
            client, api_key, external_id=f"x-{n}", candidate={"name": f"C {n}", "email": f"c{n}@example.org"}
        )[0]["id"]
        for n in range(5)
    ]
    seen, cursor = [], None
    for _ in range(5):
        url = f"{MANY}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = assert_matches(client.get(url, headers=auth(api_key)), "get", MANY)
        seen += [i["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    # A change moves the interview to the end of the order, past an updated_since taken before it.
    mark = db.session.get(Interview, ids[1]).updated_at + timedelta(microseconds=1)
    patch(client, api_key, ids[1], {"outcome": "advanced"})
    since = mark.isoformat().replace("+00:00", "Z")
    changed = client.get(f"{MANY}?updated_since={since}", headers=auth(api_key))
    assert [i["id"] for i in assert_matches(changed, "get", MANY)["data"]][-1] == ids[1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=garbage", "cursor"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("updated_since=today", "updated_since"),
    ],
)
def test_bad_list_arguments_get_400_by_argument(client, api_key, query, field):
    response = client.get(f"{MANY}?{query}", headers=auth(api_key))
    assert response.status_code == 400
    assert field in assert_matches(response, "get", MANY)["errors"]


def test_outcome_can_be_set_at_any_time(client, api_key, recruiter, smtp_server):
    body, _ = create(client, api_key)
    interview = db.session.get(Interview, body["id"])
    send_due(now=interview.ends_at + timedelta(hours=3))
    changed, response = patch(client, api_key, body["id"], {"outcome": "rejected"})
    assert response.status_code == 200 and changed["outcome"] == "rejected"
    assert changed["survey"]["status"] == "sent"
    bad, response = patch(client, api_key, body["id"], {"outcome": "promoted"})
    assert response.status_code == 400 and "outcome" in bad["errors"]
    unknown, response = patch(client, api_key, body["id"], {"colour": "blue"})
    assert response.status_code == 400 and "colour" in unknown["errors"]
    empty, response = patch(client, api_key, body["id"], {})
    assert response.status_code == 400 and "_body" in empty["errors"]


def test_end_time_moves_the_survey_only_before_it_is_sent(client, api_key, recruiter, smtp_server):
    body, _ = create(client, api_key)
    moved, response = patch(client, api_key, body["id"], {"ends_at": "2026-11-21T15:00:00Z"})
    assert response.status_code == 200
    assert moved["ends_at"] == "2026-11-21T15:00:00Z"
    assert moved["survey"]["send_after"] == "2026-11-21T17:00:00Z"
    interview = db.session.get(Interview, body["id"])
    send_due(now=interview.ends_at + timedelta(hours=3))
    late, response = patch(client, api_key, body["id"], {"ends_at": "2026-11-22T15:00:00Z"})
    assert response.status_code == 409 and "ends_at" in late["errors"]
    assert db.session.get(Interview, body["id"]).ends_at.day == 21
    backwards, response = patch(client, api_key, body["id"], {"starts_at": "2026-11-23T15:00:00Z"})
    assert response.status_code in (400, 409) and backwards["errors"]


def test_cancel_stops_the_email(client, api_key, recruiter, smtp_server):
    body, _ = create(client, api_key)
    cancelled, response = patch(client, api_key, body["id"], {"cancel": True})
    assert response.status_code == 200 and cancelled["survey"]["status"] == "cancelled"
    interview = db.session.get(Interview, body["id"])
    send_due(now=interview.ends_at + timedelta(hours=3))
    assert smtp_server.handler.to("cara@example.org") == []
    assert db.session.scalar(select(OutboxMessage)) is None
    refused, response = patch(client, api_key, body["id"], {"cancel": False})
    assert response.status_code == 400 and "cancel" in refused["errors"]


def test_cancel_after_issuing_drops_the_queued_email(client, api_key, recruiter, smtp_server):
    from survey.services.invitations import issue_due_invitations

    body, _ = create(client, api_key)
    interview = db.session.get(Interview, body["id"])
    issue_due_invitations(interview.ends_at + timedelta(hours=3))  # written to the outbox, not yet sent
    patch(client, api_key, body["id"], {"cancel": True})
    send_due(now=interview.ends_at + timedelta(hours=3))
    assert smtp_server.handler.to("cara@example.org") == []
    assert db.session.scalar(select(OutboxMessage)).status == "dead"


def test_an_answered_survey_cannot_be_cancelled(client, api_key, recruiter):
    body, _ = create(client, api_key)
    invitation = db.session.scalar(select(Invitation).where(Invitation.interview_id == body["id"]))
    invitation.status = "completed"
    db.session.commit()
    refused, response = patch(client, api_key, body["id"], {"cancel": True})
    assert response.status_code == 409 and "answered" in refused["errors"]["cancel"]


# --- Scopes ---------------------------------------------------------------------------------


def key_with(scopes):
    return create_api_key(f"key {scopes}", scopes)[1]


def test_keys_get_write_and_read_by_default(app):
    create_api_key("default")
    assert db.session.scalar(select(ApiKey)).scopes == "interviews:write interviews:read"


def test_a_write_only_key_cannot_read_names_and_emails_back(client, recruiter):
    writer = key_with("interviews:write")
    body, response = create(client, writer)
    assert response.status_code == 201
    assert "name" not in body["candidate"] and "email" not in body["candidate"]
    denied = client.get(f"/api/v1/interviews/{body['id']}", headers=auth(writer))
    assert denied.status_code == 403
    assert "interviews:read scope" in assert_matches(denied, "get", ONE)["error"]
    listing = client.get(MANY, headers=auth(writer))
    assert listing.status_code == 403
    assert_matches(listing, "get", MANY)


def test_a_read_only_key_cannot_create_or_change(client, api_key, recruiter):
    reader = key_with("interviews:read,interviews:read-all")
    body, response = create(client, reader)
    assert response.status_code == 403 and "interviews:write" in body["error"]
    created, _ = create(client, api_key)
    denied, response = patch(client, reader, created["id"], {"outcome": "hired"})
    assert response.status_code == 403 and "interviews:write" in denied["error"]


def test_a_key_reads_only_its_own_interviews_unless_read_all(client, api_key, recruiter):
    mine, _ = create(client, api_key)
    other = key_with("interviews:write,interviews:read")
    denied = client.get(f"/api/v1/interviews/{mine['id']}", headers=auth(other))
    assert denied.status_code == 403
    assert "read-all" in assert_matches(denied, "get", ONE)["error"]
    assert assert_matches(client.get(MANY, headers=auth(other)), "get", MANY)["data"] == []
    by_external = client.get(f"{MANY}?external_id=ats-1", headers=auth(other))
    assert by_external.get_json()["data"] == []
    change, response = patch(client, other, mine["id"], {"outcome": "hired"})
    assert response.status_code == 403
    assert db.session.get(Interview, mine["id"]).outcome == "pending"
    taken, response = create(client, other)
    assert response.status_code == 409 and "Another API key" in taken["error"]
    everything = key_with("interviews:read,interviews:read-all")
    seen = client.get(f"/api/v1/interviews/{mine['id']}", headers=auth(everything))
    assert assert_matches(seen, "get", ONE)["candidate"]["name"] == "Cara Candidate"


def test_unknown_scope_is_refused_by_the_cli(runner):
    result = runner.invoke(args=["api-keys", "create", "ATS", "--scopes", "interviews:delete"])
    assert result.exit_code != 0 and "Unknown scope" in result.output
    result = runner.invoke(args=["api-keys", "create", "ATS", "--scopes", "interviews:read"])
    assert result.exit_code == 0 and "interviews:read" in result.output
    assert db.session.scalar(select(ApiKey)).scopes == "interviews:read"


def test_admin_page_creates_a_key_with_the_ticked_scopes(client, staff):
    from helpers import ANY_CSRF_PATTERN, sign_in

    sign_in(client, staff["admin"].email)
    token = ANY_CSRF_PATTERN.search(client.get("/admin/api-keys").get_data(as_text=True)).group(1)
    data = {"csrf_token": token, "name": "Lever reader", "scopes": ["interviews:read", "interviews:read-all"]}
    page = client.post("/admin/api-keys", data=data)
    assert page.status_code == 200 and "interviews:read, interviews:read-all" in page.get_data(as_text=True)
    assert db.session.scalar(select(ApiKey)).scopes == "interviews:read interviews:read-all"
