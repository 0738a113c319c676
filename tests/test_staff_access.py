"""Every staff route, visited by every kind of visitor: who gets in, who gets a 404, who must sign in."""

import pytest
from sqlalchemy import select

from helpers import csrf_token, session_csrf, sign_in
from survey.extensions import db
from survey.models import ApiKey, AuditEvent, Invitation
from survey.services.accounts import create_api_key

VISITORS = ("owner", "other", "hr", "admin", "anonymous")
OK, REDIRECT, MISSING = 200, 302, 404

# (method, path, expected status for owner, other recruiter, hr, admin); anonymous is sent to /login.
ROUTES = [
    ("GET", "/interviews", (OK, OK, OK, OK)),
    ("GET", "/interviews/new", (OK, OK, MISSING, MISSING)),
    ("GET", "/interviews/{interview}", (OK, MISSING, OK, OK)),
    ("GET", "/interviews/{interview}/debrief", (OK, MISSING, MISSING, MISSING)),
    ("POST", "/interviews/{interview}/debrief", (REDIRECT, MISSING, MISSING, MISSING)),
    ("POST", "/interviews/{interview}/reschedule", (REDIRECT, MISSING, MISSING, MISSING)),
    ("POST", "/interviews/{interview}/resend", (REDIRECT, MISSING, MISSING, MISSING)),
    ("POST", "/interviews/{interview}/cancel", (REDIRECT, MISSING, MISSING, MISSING)),
    ("GET", "/leads", (OK, OK, OK, OK)),
    ("GET", "/positions/{position}/brief", (OK, OK, OK, OK)),
    ("GET", "/admin/users", (MISSING, MISSING, MISSING, OK)),
    ("POST", "/admin/users", (MISSING, MISSING, MISSING, REDIRECT)),
    ("POST", "/admin/users/{user}/role", (MISSING, MISSING, MISSING, REDIRECT)),
    ("POST", "/admin/users/{user}/deactivate", (MISSING, MISSING, MISSING, REDIRECT)),
    ("POST", "/admin/users/{user}/reactivate", (MISSING, MISSING, MISSING, REDIRECT)),
    ("GET", "/admin/api-keys", (MISSING, MISSING, MISSING, OK)),
    ("POST", "/admin/api-keys", (MISSING, MISSING, MISSING, OK)),  # shows the new key once
    ("POST", "/admin/api-keys/{key}/revoke", (MISSING, MISSING, MISSING, REDIRECT)),
    ("GET", "/admin/webhooks", (MISSING, MISSING, MISSING, OK)),
    ("POST", "/admin/webhooks", (MISSING, MISSING, MISSING, OK)),  # shows the new secret once
]
FORM_DATA = {
    "/interviews/{interview}/debrief": {"interest": "3", "red_flag_severity": "none"},
    "/interviews/{interview}/reschedule": {"send_after": "2030-01-01T09:00"},
    "/admin/users": {
        "email": "new.hire@example.com",
        "name": "New Hire",
        "role": "hr",
        "password": "long-enough",
    },
    "/admin/users/{user}/role": {"role": "hr"},
    "/admin/api-keys": {"name": "Second ATS"},
    "/admin/webhooks": {"url": "http://127.0.0.1:9/hook", "events": "interview.outcome"},
}


@pytest.fixture
def world(staff, make_interview):
    """An interview owned by the owner recruiter, a user to manage and a key to revoke."""
    interview = make_interview()
    api_key, _ = create_api_key("ATS")
    return {
        "interview": interview.id,
        "position": interview.position_id,
        "user": staff["other"].id,
        "key": api_key.id,
    }


@pytest.mark.parametrize(("method", "template", "expected"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("visitor", VISITORS)
def test_each_staff_route_answers_each_visitor_by_role(
    client, staff, world, method, template, expected, visitor
):
    path = template.format(**world)
    if visitor != "anonymous":
        assert sign_in(client, staff[visitor].email).status_code == 302
    data = {"csrf_token": session_csrf(client), **FORM_DATA.get(template, {})}
    response = client.get(path) if method == "GET" else client.post(path, data=data)
    if visitor == "anonymous":
        assert response.status_code == 302
        assert response.location.startswith("/login?next=")
        return
    assert response.status_code == expected[VISITORS.index(visitor)], response.get_data(as_text=True)[:500]


def test_another_recruiters_interview_is_missing_not_forbidden(client, staff, world):
    sign_in(client, staff["other"].email)
    page = client.get(f"/interviews/{world['interview']}")
    assert page.status_code == 404
    assert "There is nothing at this address" in page.get_data(as_text=True)
    listing = client.get("/interviews").get_data(as_text=True)
    assert f"/interviews/{world['interview']}" not in listing


def test_signed_out_visitor_is_sent_to_login_and_back(client, staff, world):
    path = f"/interviews/{world['interview']}"
    response = client.get(path)
    assert (
        response.status_code == 302
        and response.location == f"/login?next=%2Finterviews%2F{world['interview']}"
    )
    page = client.get(response.location)
    back = client.post(
        response.location,
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": staff["owner"].email,
            "password": "password-123",
        },
    )
    assert back.location == path


@pytest.mark.parametrize(
    "path",
    [
        "/interviews/{interview}/debrief",
        "/interviews/{interview}/cancel",
        "/interviews/{interview}/resend",
        "/admin/users/{user}/deactivate",
        "/admin/api-keys/{key}/revoke",
    ],
)
def test_forms_posted_without_csrf_token_are_refused_and_change_nothing(client, staff, world, path):
    sign_in(client, staff["admin" if path.startswith("/admin") else "owner"].email)
    response = client.post(path.format(**world), data={"interest": "2", "red_flag_severity": "none"})
    assert response.status_code == 400
    assert "not sent from this site" in response.get_data(as_text=True)
    invitation = db.session.scalar(select(Invitation).where(Invitation.interview_id == world["interview"]))
    db.session.refresh(invitation)
    assert invitation.status == "scheduled" and invitation.version == 1
    assert db.session.get(ApiKey, world["key"]).revoked_at is None
    assert staff["other"].active
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action.like("user.de%"))) is None


def test_absurd_ids_pages_and_filters_are_not_found_or_ignored_never_a_500(app, client, staff, api_key):
    from helpers import sign_in

    app.config["PROPAGATE_EXCEPTIONS"] = False
    huge = "99999999999999999999"
    sign_in(client, staff["owner"].email)
    for path in (
        f"/interviews/{huge}",
        f"/interviews/{huge}/debrief",
        f"/positions/{huge}/brief",
        "/interviews/0",
    ):
        assert client.get(path).status_code == 404, path
    for path in (f"/interviews?page={huge}", "/interviews?page=-3", "/interviews?position=%20"):
        assert client.get(path).status_code == 200, path
    api = client.get(f"/api/v1/interviews/{huge}", headers={"Authorization": f"Bearer {api_key}"})
    assert api.status_code == 404
