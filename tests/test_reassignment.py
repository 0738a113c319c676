"""Handing interviews over: a leaving recruiter's open ones on deactivation, any one by hr/admin; audited."""

import re

from sqlalchemy import select

from helpers import session_csrf, sign_in
from survey.extensions import db
from survey.models import AuditEvent, Interview


def test_deactivating_a_recruiter_hands_their_open_interviews_to_another(client, staff, make_interview):
    open_one = make_interview()
    decided = make_interview()
    decided.outcome = "rejected"
    db.session.commit()
    sign_in(client, staff["admin"].email)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "1 open interview go to" in page
    response = client.post(
        f"/admin/users/{staff['owner'].id}/deactivate",
        data={"csrf_token": session_csrf(client), "reassign_to": str(staff["other"].id)},
    )
    assert response.status_code == 302
    assert "1 open interview reassigned" in client.get("/admin/users").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Interview, open_one.id).recruiter_id == staff["other"].id
    assert db.session.get(Interview, decided.id).recruiter_id == staff["owner"].id  # decided: history
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "interview.reassigned"))
    assert event.details == {"from": staff["owner"].email, "to": staff["other"].email, "open_interviews": 1}
    assert not db.session.get(type(staff["owner"]), staff["owner"].id).active


def test_reassigning_to_someone_who_cannot_take_interviews_changes_nothing(client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["admin"].email)
    client.post(
        f"/admin/users/{staff['owner'].id}/deactivate",
        data={"csrf_token": session_csrf(client), "reassign_to": str(staff["hr"].id)},
    )
    db.session.expire_all()
    assert db.session.get(Interview, interview.id).recruiter_id == staff["owner"].id
    assert db.session.get(type(staff["owner"]), staff["owner"].id).active  # nothing happened at all


def test_hr_reassigns_one_interview_and_the_new_owner_can_act_on_it(app, client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["hr"].email)
    page = client.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Reassign to" in page
    response = client.post(
        f"/interviews/{interview.id}/reassign",
        data={"csrf_token": session_csrf(client), "recruiter_id": str(staff["other"].id)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Interview, interview.id).recruiter_id == staff["other"].id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "interview.reassigned"))
    assert event.details["interview_id"] == interview.id and event.actor_id == staff["hr"].id


def test_recruiters_cannot_reassign(client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["owner"].email)
    assert "Reassign to" not in client.get(f"/interviews/{interview.id}").get_data(as_text=True)
    response = client.post(
        f"/interviews/{interview.id}/reassign",
        data={"csrf_token": session_csrf(client), "recruiter_id": str(staff["other"].id)},
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Interview, interview.id).recruiter_id == staff["owner"].id


def test_admin_users_page_has_no_duplicate_ids(client, staff, make_interview):
    make_interview()
    sign_in(client, staff["admin"].email)
    html = client.get("/admin/users").get_data(as_text=True)
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
