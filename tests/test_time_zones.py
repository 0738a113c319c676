"""Staff time zones: chosen on the account page or at creation, used on every page, typed in forms."""

from sqlalchemy import select

from helpers import csrf_token, interview_payload, sign_in
from survey.extensions import db
from survey.models import Interview, User
from survey.services.accounts import set_timezone


def test_users_create_takes_a_time_zone_and_refuses_an_unknown_one(runner):
    env = {"SURVEY_PASSWORD": "long-enough"}
    made = runner.invoke(
        args=[
            "users",
            "create",
            "b@example.com",
            "--role",
            "hr",
            "--name",
            "B",
            "--timezone",
            "Europe/Berlin",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert db.session.scalar(select(User.timezone).where(User.email == "b@example.com")) == "Europe/Berlin"
    bad = runner.invoke(
        args=[
            "users",
            "create",
            "c@example.com",
            "--role",
            "hr",
            "--name",
            "C",
            "--timezone",
            "Mars/Olympus",
        ],
        env=env,
    )
    assert bad.exit_code != 0 and "Unknown time zone" in bad.output
    assert db.session.scalar(select(User).where(User.email == "c@example.com")) is None


def test_a_user_sets_their_time_zone_on_the_account_page(client, staff):
    sign_in(client, staff["owner"].email)
    page = client.get("/account").get_data(as_text=True)
    assert "Now: <strong>UTC</strong>" in page
    saved = client.post(
        "/account/timezone", data={"csrf_token": csrf_token(page), "timezone": "Europe/Berlin"}
    )
    assert saved.status_code == 302
    assert "times in Europe/Berlin" in client.get("/interviews").get_data(as_text=True)
    refused = client.post(
        "/account/timezone", data={"csrf_token": csrf_token(page), "timezone": "Nowhere/Land"}
    )
    assert refused.status_code == 400
    assert db.session.get(User, staff["owner"].id).timezone == "Europe/Berlin"


def test_default_timezone_applies_to_users_who_chose_none(app, client, staff, make_interview):
    app.config["DEFAULT_TIMEZONE"] = "America/New_York"
    interview = make_interview(starts_at=None, ends_at="2026-07-01T14:00:00Z")
    sign_in(client, staff["owner"].email)
    html = client.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "1 Jul 2026, 10:00 EDT" in html


def test_a_berlin_recruiter_sees_berlin_times_and_types_berlin_times(client, staff, make_interview):
    set_timezone(db.session.get(User, staff["owner"].id), "Europe/Berlin")
    winter = make_interview(starts_at=None, ends_at="2026-01-15T09:00:00Z")
    sign_in(client, staff["owner"].email)
    html = client.get(f"/interviews/{winter.id}").get_data(as_text=True)
    assert "15 Jan 2026, 10:00 CET" in html
    assert 'datetime="2026-01-15T09:00:00+00:00"' in html

    page = client.get("/interviews/new").get_data(as_text=True)
    assert "Your time (Europe/Berlin)" in page
    data = {
        "csrf_token": csrf_token(page),
        "candidate_name": "Summer Person",
        "candidate_email": "summer@example.org",
        "position_title": "Designer",
        "stage": "Onsite",
        "ends_at": "2026-07-01T15:30",
    }
    assert client.post("/interviews/new", data=data).status_code == 302
    created = db.session.scalar(select(Interview).order_by(Interview.id.desc()))
    assert created.ends_at.isoformat() == "2026-07-01T13:30:00+00:00"  # CEST is UTC+2


def test_api_refuses_a_time_without_an_offset(client, api_key, recruiter):
    payload = interview_payload(ends_at="2026-11-20T10:00:00")
    response = client.post("/api/v1/interviews", json=payload, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 400
    assert "Must include a UTC offset" in response.get_json()["errors"]["ends_at"]
    ok = client.post(
        "/api/v1/interviews",
        json=interview_payload(ends_at="2026-11-20T10:00:00+01:00"),
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert ok.status_code == 201


def test_csv_import_refuses_a_time_without_an_offset(runner, recruiter, tmp_path):
    csv_file = tmp_path / "interviews.csv"
    csv_file.write_text(
        "candidate_name,candidate_email,position_title,stage,recruiter_email,ends_at\n"
        "Ann Able,ann@example.org,Designer,Onsite,rita.recruiter@example.com,2026-11-20T10:00\n"
    )
    result = runner.invoke(args=["interviews", "import", str(csv_file)])
    assert result.exit_code == 1
    assert "line 2: ends_at: Must include a UTC offset" in result.output
