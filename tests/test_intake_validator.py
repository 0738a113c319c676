"""One interview validator for the form, the CSV import and the API, fed native values."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from helpers import interview_payload, new_interview_form, sign_in
from survey.recruiter.forms import NewInterviewForm
from survey.services.imports import import_interviews
from survey.services.intake import OFFSET_MESSAGE, validate_api_interview, validate_interview


def native(**overrides) -> dict:
    values = {
        "candidate_name": "Cara Candidate",
        "candidate_email": "cara@example.org",
        "position_title": "Backend Engineer",
        "stage": "Technical",
        "recruiter_email": "rita.recruiter@example.com",
        "ends_at": datetime(2026, 11, 20, 11, 0, tzinfo=ZoneInfo("Europe/Berlin")),
    }
    values.update(overrides)
    return values


def test_the_validator_takes_aware_datetimes_and_stores_them_in_utc(app, recruiter):
    data, errors = validate_interview(native(interviewers=["Ines", " "]))
    assert errors == {}
    assert data.ends_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert data.interviewers == ["Ines"] and data.recruiter == recruiter


def test_the_validator_refuses_a_time_without_its_zone_and_keys_errors_by_field(app, recruiter):
    _, errors = validate_interview(native(ends_at=datetime(2026, 11, 20, 10, 0), candidate_name=" "))
    assert errors == {"ends_at": OFFSET_MESSAGE, "candidate_name": "This field is required."}


def test_the_csv_import_and_the_api_say_the_same_about_the_same_value(app, recruiter):
    long_name = "x" * 201
    _, api_errors = validate_api_interview(
        interview_payload(candidate={"name": long_name, "email": "a@b.org"})
    )
    assert api_errors == {"candidate.name": "Must be at most 200 characters."}
    report = import_interviews(
        [
            "candidate_name,candidate_email,position_title,stage,recruiter_email,ends_at\n",
            f"{long_name},a@b.org,Designer,Onsite,rita.recruiter@example.com,2026-11-20 10:00+00:00\n",
        ]
    )
    assert report.errors == [(2, "candidate_name: Must be at most 200 characters.")]


def _field_block(html: str, name: str) -> str:
    match = re.search(rf'<p class="field">(?:(?!</p>).)*name="{name}"(?:(?!</p>).)*</p>', html, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def test_the_forms_errors_show_beside_the_field_they_are_about(client, recruiter):
    sign_in(client, recruiter.email)
    page = client.get("/interviews/new").get_data(as_text=True)
    form = new_interview_form(
        page, starts_at="2026-11-20T11:00", ends_at="2026-11-20T10:00", timezone="Nowhere"
    )
    html = client.post("/interviews/new", data=form).get_data(as_text=True)
    assert "Must not be before starts_at." in _field_block(html, "ends_at")
    assert "IANA time zone" in _field_block(html, "timezone")
    assert "field-error" not in _field_block(html, "candidate_name")


def test_a_message_about_no_field_of_the_form_shows_above_it_not_on_the_name(app):
    with app.test_request_context():
        form = NewInterviewForm(meta={"csrf": False})
        form.add_intake_errors({"recruiter_email": "No active staff user has this email."})
        assert form.form_errors == ["No active staff user has this email."]
        assert not form.candidate_name.errors
