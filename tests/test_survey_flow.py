"""End to end: an interview arrives, its email reaches a real SMTP server, the link is answered."""

from sqlalchemy import func, select

from helpers import csrf_token, survey_link
from survey.extensions import db
from survey.models import Response


def test_api_to_email_to_answer_to_completed(client, api_key, recruiter, smtp_server, runner):
    headers = {"Authorization": f"Bearer {api_key}"}
    from helpers import interview_payload

    created = client.post("/api/v1/interviews", json=interview_payload(), headers=headers)
    assert created.status_code == 201
    interview_id = created.get_json()["id"]
    assert created.get_json()["survey"]["status"] == "scheduled"

    # The interview ended in the past, so the invitation is due now.
    result = runner.invoke(args=["surveys", "send-due"])
    assert result.exit_code == 0, result.output
    assert "delivered 1 email(s)" in result.output
    [message] = smtp_server.handler.to("cara@example.org")

    path = survey_link(message)
    page = client.get(path)
    assert page.status_code == 200
    answers = {"csrf_token": csrf_token(page.get_data(as_text=True)), "nps": "8", "consent": "named"}
    assert client.post(path, data=answers).status_code == 303

    status = client.get(f"/api/v1/interviews/{interview_id}", headers=headers).get_json()
    assert status["survey"]["status"] == "completed"

    again = client.post(path, data=answers)
    assert "we already have your answers" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1
