"""The admins' audit log page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpers import csrf_token
from survey.extensions import db
from survey.models import AuditEvent, utcnow
from survey.services.accounts import create_user


def sign_in_as(client, email: str, password: str = "password-123"):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


@pytest.fixture
def admin(app):
    return create_user("ada.admin@example.com", "Ada Admin", "admin", "password-123")


def test_admin_sees_sign_ins_failed_sign_ins_and_erasures(app, client, admin):
    sign_in_as(client, "ada.admin@example.com", "wrong-password")
    db.session.add(AuditEvent(action="data.erase", actor_label="cli", details={"candidate_id": 7}))
    db.session.commit()
    sign_in_as(client, "ada.admin@example.com")

    html = client.get("/admin/audit").get_data(as_text=True)
    assert "Failed sign-in" in html and "email: ada.admin@example.com" in html
    assert "Signed in" in html
    assert "Candidate erased on request" in html and "candidate_id: 7" in html


@pytest.mark.parametrize("role", ["recruiter", "hr"])
def test_other_roles_get_404(app, client, role):
    create_user(f"{role}@example.com", role.title(), role, "password-123")
    sign_in_as(client, f"{role}@example.com")
    assert client.get("/admin/audit").status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in(client, app):
    response = client.get("/admin/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_log_is_paginated_newest_first_and_filtered_by_action(app, client, admin):
    start = utcnow() - timedelta(days=1)
    db.session.add_all(
        AuditEvent(
            at=start + timedelta(minutes=n), action="report.export", details={"n": n}, actor_label="hr@x"
        )
        for n in range(60)
    )
    db.session.commit()
    sign_in_as(client, "ada.admin@example.com")

    first = client.get("/admin/audit?action=report.export").get_data(as_text=True)
    assert "n: 59" in first and "n: 10" in first and "n: 9<" not in first
    assert "Page 1 of 2 (60 events)" in first and "Signed in" not in first.split("<tbody>")[1]
    second = client.get("/admin/audit?action=report.export&page=2").get_data(as_text=True)
    assert "n: 9<" in second and "n: 0<" in second and "n: 59" not in second

    unknown = client.get("/admin/audit?action=nonsense&page=abc")
    assert unknown.status_code == 200
    assert "showing all" in unknown.get_data(as_text=True)


def test_details_are_escaped(app, client, admin):
    db.session.add(AuditEvent(action="sign_in.failed", details={"email": "<script>alert(1)</script>"}))
    db.session.commit()
    sign_in_as(client, "ada.admin@example.com")
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_an_event_recorded_during_a_request_carries_the_clients_address(app, client, admin):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post(
        "/login",
        data={"csrf_token": token, "email": "ada.admin@example.com", "password": "password-123"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sign_in"))
    assert event.ip_address == "203.0.113.9" and event.actor_id == admin.id


def test_an_event_recorded_outside_a_request_has_no_address_and_is_the_commands(app, admin):
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created"))
    assert event.ip_address is None
    assert event.actor_id is None and event.actor_label == "cli"
