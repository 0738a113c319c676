"""Staff sign-in (generic message, throttling, safe redirects) and the admin pages."""

import pytest
from sqlalchemy import select

from config import TestingConfig
from helpers import csrf_token, interview_payload, make_app, session_csrf, sign_in
from survey.extensions import db
from survey.models import AuditEvent, User
from survey.services.accounts import create_user


def test_wrong_email_and_wrong_password_get_the_same_message(client, staff):
    wrong_password = sign_in(client, staff["owner"].email, "not-the-password").get_data(as_text=True)
    wrong_email = sign_in(client, "nobody@example.com").get_data(as_text=True)
    assert "Wrong email or password." in wrong_password and "Wrong email or password." in wrong_email


def test_next_only_redirects_inside_the_site(client, staff):
    page = client.get("/login?next=https://evil.example/steal")
    response = client.post(
        "/login?next=https://evil.example/steal",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": staff["owner"].email,
            "password": "password-123",
        },
    )
    assert response.location == "/interviews"


@pytest.fixture
def throttled_app(tmp_path):
    """The app with sign-in throttling switched on, as in production."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'throttle.sqlite'}"
        RATELIMIT_ENABLED = True

    app = make_app(Config)
    with app.app_context():
        db.create_all()
        create_user("tess@example.com", "Tess", "recruiter", "password-123")
        yield app
        db.session.remove()


def test_repeated_failed_sign_ins_lock_out_with_the_form_and_the_minutes_left(throttled_app):
    client = throttled_app.test_client()
    for _ in range(5):
        assert sign_in(client, "tess@example.com", "wrong-guess").status_code == 400
    blocked = sign_in(client, "tess@example.com", "password-123")
    assert blocked.status_code == 429
    text = blocked.get_data(as_text=True)
    assert "Too many failed sign-ins for this email from your address" in text
    assert "Please try again in 15 minutes" in text
    assert "even the right password is refused" in text
    assert 'name="password"' in text and 'name="csrf_token"' in text  # the form, not a bare error
    assert 840 < int(blocked.headers["Retry-After"]) <= 900
    assert "Traceback" not in text
    # Another account from the same address is not locked out by someone guessing at Tess's.
    assert sign_in(client, "other@example.com", "whatever").status_code == 400


def test_successful_sign_ins_do_not_count_towards_the_limit(throttled_app):
    client = throttled_app.test_client()
    for _ in range(7):
        assert sign_in(client, "tess@example.com", "password-123").status_code == 302
        sign_out(client)


def sign_out(client):
    client.post("/logout", data={"csrf_token": session_csrf(client)})


def admin_post(client, path: str, **data):
    return client.post(path, data={"csrf_token": session_csrf(client), **data})


def test_admin_creates_user_who_can_sign_in_and_it_is_audited(client, staff):
    sign_in(client, staff["admin"].email)
    response = admin_post(
        client,
        "/admin/users",
        email="New.Person@Example.com",
        name="New Person",
        role="hr",
        password="long-secret",
    )
    assert response.status_code == 302
    assert "new.person@example.com can now sign in as hr" in client.get("/admin/users").get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert event.action == "user.created" and event.details["email"] == "new.person@example.com"
    assert event.actor_id == staff["admin"].id
    sign_out(client)
    assert sign_in(client, "new.person@example.com", "long-secret").status_code == 302


def test_admin_create_user_with_taken_email_says_so_and_keeps_input(client, staff):
    sign_in(client, staff["admin"].email)
    response = admin_post(
        client, "/admin/users", email=staff["hr"].email, name="Kept Name", role="hr", password="long-secret"
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "already exists" in text and 'value="Kept Name"' in text


def test_admin_changes_role_and_the_change_is_audited(client, staff):
    sign_in(client, staff["admin"].email)
    admin_post(client, f"/admin/users/{staff['other'].id}/role", role="hr")
    db.session.refresh(staff["other"])
    assert staff["other"].role == "hr"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.role_changed"))
    assert event.details == {"email": staff["other"].email, "from": "recruiter", "to": "hr"}
    assert event.actor_id == staff["admin"].id


def test_admin_cannot_demote_or_deactivate_themselves(client, staff):
    sign_in(client, staff["admin"].email)
    admin_post(client, f"/admin/users/{staff['admin'].id}/role", role="recruiter")
    page = admin_post(client, f"/admin/users/{staff['admin'].id}/deactivate")
    assert "cannot deactivate your own account" in client.get(page.location).get_data(as_text=True)
    db.session.refresh(staff["admin"])
    assert staff["admin"].role == "admin" and staff["admin"].active


def test_deactivated_user_cannot_sign_in_until_reactivated(client, staff):
    sign_in(client, staff["admin"].email)
    admin_post(client, f"/admin/users/{staff['other'].id}/deactivate")
    assert db.session.get(User, staff["other"].id).active is False
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.deactivated")) is not None
    sign_out(client)
    assert "Wrong email or password" in sign_in(client, staff["other"].email).get_data(as_text=True)
    sign_in(client, staff["admin"].email)
    admin_post(client, f"/admin/users/{staff['other'].id}/reactivate")
    sign_out(client)
    assert sign_in(client, staff["other"].email).status_code == 302


def test_deactivated_users_session_ends(app, staff):
    client = app.test_client()
    sign_in(client, staff["other"].email)
    assert client.get("/interviews").status_code == 200
    staff["other"].active = False
    db.session.commit()
    assert client.get("/interviews").status_code == 302


def test_admin_api_key_is_shown_once_works_and_stops_working_when_revoked(client, staff):
    sign_in(client, staff["admin"].email)
    created = admin_post(client, "/admin/api-keys", name="Greenhouse <sync>")
    assert created.headers["Cache-Control"] == "no-store"
    text = created.get_data(as_text=True)
    plain = text.split('<code class="secret">', 1)[1].split("<", 1)[0]
    assert plain.startswith("dbk_") and "Greenhouse &lt;sync&gt;" in text
    assert plain not in client.get("/admin/api-keys").get_data(as_text=True)

    headers = {"Authorization": f"Bearer {plain}"}
    payload = interview_payload(recruiter_email=staff["owner"].email)
    assert client.post("/api/v1/interviews", json=payload, headers=headers).status_code == 201

    from survey.models import ApiKey

    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == plain[:12]))
    admin_post(client, f"/admin/api-keys/{key.id}/revoke")
    assert client.post("/api/v1/interviews", json=payload, headers=headers).status_code == 401
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "api_key.revoked")) is not None


def test_staff_pages_are_built_for_phones(client, staff, make_interview):
    make_interview()
    sign_in(client, staff["owner"].email)
    for path in ("/interviews", "/leads", "/interviews/1", "/interviews/1/debrief", "/interviews/new"):
        page = client.get(path).get_data(as_text=True)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    listing = client.get("/interviews").get_data(as_text=True)
    assert '<table class="table responsive">' in listing and 'data-label="Survey"' in listing
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert ".table.responsive td[data-label]::before" in css
