"""The leads page: paged and sortable, a contacted mark (audited), a CSV of one's own leads."""

import csv
import io

from sqlalchemy import select

from helpers import session_csrf, sign_in, table_rows
from survey.extensions import db
from survey.models import AuditEvent, Interview
from survey.services.debriefs import save_debrief


def make_leads(make_interview, staff, count: int, owner: str = "owner") -> list[Interview]:
    interviews = []
    for number in range(count):
        interview = make_interview(
            candidate={"name": f"Lead {number:02d}", "email": f"lead{number}@example.org"},
            recruiter_email=staff[owner].email,
            ends_at=f"2026-10-{number % 28 + 1:02d}T12:00:00Z",
            starts_at=None,
        )
        save_debrief(interview, {"referral_potential": 4 + number % 2}, staff[owner])
        interviews.append(interview)
    return interviews


def lead_names(html: str) -> list[str]:
    return [
        cells[0].split(" ")[0] + " " + cells[0].split(" ")[1] for _, cells in table_rows(html, "table")[1:]
    ]


def test_leads_are_paged_and_sortable(client, staff, make_interview):
    make_leads(make_interview, staff, 30)
    sign_in(client, staff["owner"].email)
    first = client.get("/leads").get_data(as_text=True)
    assert "30 leads" in first and len(lead_names(first)) == 25
    assert "Page 1 of 2" in first
    assert len(lead_names(client.get("/leads?page=2").get_data(as_text=True))) == 5
    by_name = lead_names(client.get("/leads?sort=candidate&direction=asc&per_page=50").get_data(as_text=True))
    assert by_name == sorted(by_name) and len(by_name) == 30
    by_referral = client.get("/leads?sort=referral&direction=desc").get_data(as_text=True)
    assert "Very high (5)" in table_rows(by_referral, "table")[1][1][5]


def test_a_recruiter_marks_a_lead_contacted_and_the_audit_log_records_it(client, staff, make_interview):
    [lead] = make_leads(make_interview, staff, 1)
    sign_in(client, staff["owner"].email)
    token = session_csrf(client)
    response = client.post(f"/leads/{lead.id}/contacted", data={"csrf_token": token, "contacted": "yes"})
    assert response.status_code == 302
    db.session.refresh(lead)
    assert lead.lead_contacted_at is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "lead.contacted"))
    assert event.details == {"interview_id": lead.id} and event.actor_id == staff["owner"].id
    assert "Undo" in client.get("/leads").get_data(as_text=True)
    client.post(f"/leads/{lead.id}/contacted", data={"csrf_token": token, "contacted": "no"})
    db.session.refresh(lead)
    assert lead.lead_contacted_at is None


def test_nobody_marks_another_recruiters_lead(client, staff, make_interview):
    [lead] = make_leads(make_interview, staff, 1)
    sign_in(client, staff["other"].email)
    data = {"csrf_token": session_csrf(client), "contacted": "yes"}
    assert client.post(f"/leads/{lead.id}/contacted", data=data).status_code == 404
    db.session.refresh(lead)
    assert lead.lead_contacted_at is None


def test_the_contacted_mark_needs_a_csrf_token(client, staff, make_interview):
    [lead] = make_leads(make_interview, staff, 1)
    sign_in(client, staff["owner"].email)
    assert client.post(f"/leads/{lead.id}/contacted", data={"contacted": "yes"}).status_code == 400
    db.session.refresh(lead)
    assert lead.lead_contacted_at is None


def test_csv_holds_the_recruiters_own_leads_with_formulas_neutralised(client, staff, make_interview):
    mine = make_leads(make_interview, staff, 2)
    mine[0].candidate.name = '=HYPERLINK("http://evil")'
    db.session.commit()
    make_leads(make_interview, staff, 1, owner="other")  # someone else's: not in my file
    sign_in(client, staff["owner"].email)
    response = client.get("/leads.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:2] == ["candidate", "email"]
    assert len(rows) == 3
    assert {row[0] for row in rows[1:]} == {"Lead 01", '\'=HYPERLINK("http://evil")'}
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "leads.export")) is not None
