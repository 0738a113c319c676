"""Webhooks out: signed (Standard Webhooks), durable, retried with backoff, never doubled, never
for anonymous answers, never aimed at the internal network in production."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from webhook_receiver import Receiver

from config import ProductionConfig
from helpers import app_on_fresh_database, sign_in
from survey.extensions import db
from survey.models import Interview, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from survey.services.accounts import create_api_key
from survey.services.debriefs import save_debrief
from survey.services.invitations import send_due
from survey.services.webhooks import WebhookError, check_url, create_endpoint, deliver_webhooks, emit

OUTCOME_DATA = {"interview_id": 1, "external_id": None, "outcome": "hired", "previous_outcome": "pending"}


def queue_an_outcome_for(*urls: str) -> None:
    """An interview.outcome event, committed, queued for an endpoint at each URL."""
    for url in urls:
        create_endpoint(url, "interview.outcome")
    emit("interview.outcome", OUTCOME_DATA)
    db.session.commit()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def events_in_db() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookEvent))


def test_survey_completed_reaches_a_real_receiver_and_verifies_with_standardwebhooks(
    app, sent_invitation, answer_survey, receiver
):
    endpoint, secret = create_endpoint(receiver.url, "survey.completed")
    assert secret.startswith("whsec_")
    invitation, message = sent_invitation
    answer_survey(message, consent="named", nps=9, fair=5, went_well="Friendly panel")
    summary = send_due()
    assert summary.webhooks.delivered == 1
    assert "webhooks: 1 delivered" in summary.line()
    [request] = receiver.requests
    assert request.path == "/hooks/debrief"
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "survey.completed"
    data = payload["data"]
    assert data["interview_id"] == invitation.interview_id
    assert data["external_id"] == invitation.interview.external_id
    assert data["question_set_version"] == 1
    answers = {answer["key"]: answer for answer in data["answers"]}
    assert answers["nps"]["value"] == 9
    assert answers["nps"]["question"].startswith("How likely are you to recommend")
    assert answers["went_well"]["value"] == "Friendly panel"
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"9", b"8"), request.headers)
    delivery = db.session.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)


def test_an_anonymous_response_produces_no_event(app, make_interview, smtp_server, answer_survey, receiver):
    create_endpoint(receiver.url, "survey.completed,alert.raised")
    first, second = make_interview(), make_interview()
    send_due(now=second.ends_at + timedelta(hours=3))
    anonymous_mail = smtp_server.handler.to(first.candidate.email)[-1]
    named_mail = smtp_server.handler.to(second.candidate.email)[-1]
    answer_survey(anonymous_mail, consent="anonymous", nps=2, fair=1)
    assert events_in_db() == 0  # not even an alert.raised for the detractor
    send_due()
    assert receiver.requests == []
    answer_survey(named_mail, consent="named", nps=2)
    assert events_in_db() == 2  # the same answers by name: completed and alert
    send_due()
    types = sorted(json.loads(r.body)["type"] for r in receiver.requests)
    assert types == ["alert.raised", "survey.completed"]


def test_a_receiver_failing_twice_gets_the_event_accepted_once_after_backoff(app, receiver):
    receiver.script = [500, 503]
    queue_an_outcome_for(receiver.url)
    start = utcnow()
    assert deliver_webhooks(start).retrying == 1
    assert deliver_webhooks(start + timedelta(seconds=29)).retrying == 0  # backing off: not due yet
    assert len(receiver.requests) == 1
    assert deliver_webhooks(start + timedelta(seconds=31)).retrying == 1
    assert deliver_webhooks(start + timedelta(seconds=31 + 59)).delivered == 0  # the second wait doubled
    assert deliver_webhooks(start + timedelta(seconds=31 + 61)).delivered == 1
    assert deliver_webhooks(start + timedelta(days=1)).delivered == 0
    assert [r.answered for r in receiver.requests] == [500, 503, 204]
    assert len(receiver.accepted) == 1
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # the receiver can dedupe
    delivery = db.session.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_a_delivery_is_given_up_after_the_bounded_number_of_tries(app, receiver):
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 3
    receiver.default = 500
    queue_an_outcome_for(receiver.url)
    later = utcnow()
    for _ in range(5):
        deliver_webhooks(later)
        later += timedelta(hours=7)
    delivery = db.session.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts) == ("dead", 3)
    assert "HTTP 500" in delivery.last_error
    assert len(receiver.requests) == 3


def test_a_receiver_that_never_answers_does_not_stop_the_others(app):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 1
    silent, healthy = Receiver(default="hang").start(), Receiver().start()
    try:
        queue_an_outcome_for(silent.url, healthy.url)
        report = deliver_webhooks()
    finally:
        silent.stop()
        healthy.stop()
    assert (report.delivered, report.retrying) == (1, 1)
    assert len(healthy.accepted) == 1
    hung = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.status == "failed"))
    assert "timed out" in hung.last_error


def test_two_workers_never_deliver_one_event_at_the_same_time(app, receiver):
    receiver.script = ["hold"]
    queue_an_outcome_for(receiver.url)
    reports = {}

    def first_worker():
        with app.app_context():
            reports["first"] = deliver_webhooks()

    worker = threading.Thread(target=first_worker)
    worker.start()
    assert receiver.arrived.wait(10)  # the first worker is mid-request, holding its claim
    reports["second"] = deliver_webhooks()
    receiver.release.set()
    worker.join(30)
    assert reports["second"].delivered == 0 and not reports["second"].did_something
    assert reports["first"].delivered == 1
    assert len(receiver.requests) == 1


def test_alert_debrief_and_outcome_events_are_written_with_their_cause(
    app, client, make_interview, staff, receiver
):
    create_endpoint(receiver.url, "alert.raised,debrief.recorded,interview.outcome")
    interview = make_interview()
    save_debrief(
        interview,
        {"red_flag_severity": "high", "red_flags": "Private note", "expected_outcome": "likely"},
        staff["owner"],
    )
    _, key = create_api_key("ATS", "interviews:write,interviews:read,interviews:read-all")
    client.patch(
        f"/api/v1/interviews/{interview.id}",
        json={"outcome": "hired"},
        headers={"Authorization": f"Bearer {key}"},
    )
    send_due(now=utcnow())
    bodies = {json.loads(r.body)["type"]: json.loads(r.body)["data"] for r in receiver.requests}
    assert set(bodies) == {"alert.raised", "debrief.recorded", "interview.outcome"}
    assert bodies["alert.raised"]["reasons"] == ["red_flag"]
    assert bodies["debrief.recorded"]["expected_outcome"] == "likely"
    assert "Private note" not in json.dumps(bodies)  # free-text notes stay in Debrief
    assert bodies["interview.outcome"] == {
        "interview_id": interview.id,
        "external_id": interview.external_id,
        "outcome": "hired",
        "previous_outcome": "pending",
    }


def test_no_subscriber_no_event(app, make_interview, staff):
    interview = make_interview()
    save_debrief(interview, {"expected_outcome": "likely"}, staff["owner"])
    assert events_in_db() == 0


def test_signatures_survive_a_secret_key_rotation(app, receiver):
    _, old_secret = create_endpoint(receiver.url, "interview.outcome")
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-new-testing-secret-key"
    emit("interview.outcome", OUTCOME_DATA)
    db.session.commit()
    deliver_webhooks()
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split()) == 2
    Webhook(old_secret).verify(request.body, request.headers)


def test_a_copy_of_the_database_holds_no_signing_secret(app, receiver):
    _, secret = create_endpoint(receiver.url, "interview.outcome")
    row = db.session.execute(select(WebhookEndpoint.__table__)).one()
    assert secret.removeprefix("whsec_") not in " ".join(str(value) for value in row)


# --- Commands and the admin page ------------------------------------------------------------


def test_webhooks_cli_creates_lists_and_deletes(runner, receiver):
    created = runner.invoke(
        args=["webhooks", "create", receiver.url, "--events", "survey.completed,interview.outcome"]
    )
    assert created.exit_code == 0, created.output
    assert "whsec_" in created.output
    listed = runner.invoke(args=["webhooks", "list"])
    assert receiver.url in listed.output and "survey.completed,interview.outcome" in listed.output
    assert "whsec_" not in listed.output
    bad = runner.invoke(args=["webhooks", "create", receiver.url, "--events", "everything"])
    assert bad.exit_code != 0 and "Unknown event" in bad.output
    endpoint_id = db.session.scalar(select(WebhookEndpoint.id))
    assert runner.invoke(args=["webhooks", "delete", str(endpoint_id)]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0
    assert runner.invoke(args=["webhooks", "delete", "999"]).exit_code != 0


def test_admin_page_creates_shows_deliveries_and_sends_again(client, staff, receiver):
    from helpers import ANY_CSRF_PATTERN

    sign_in(client, staff["admin"].email)
    page = client.get("/admin/webhooks")
    token = ANY_CSRF_PATTERN.search(page.get_data(as_text=True)).group(1)
    created = client.post(
        "/admin/webhooks", data={"csrf_token": token, "url": receiver.url, "events": ["interview.outcome"]}
    )
    html = created.get_data(as_text=True)
    assert created.status_code == 200 and "whsec_" in html
    emit("interview.outcome", OUTCOME_DATA)
    db.session.commit()
    deliver_webhooks()
    html = client.get("/admin/webhooks").get_data(as_text=True)
    assert "interview.outcome" in html and "delivered" in html
    delivery = db.session.scalar(select(WebhookDelivery))
    again = client.post(f"/admin/webhooks/deliveries/{delivery.id}/send-again", data={"csrf_token": token})
    assert again.status_code == 302
    deliver_webhooks()
    assert len(receiver.accepted) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


@pytest.mark.parametrize("who", ["owner", "hr"])
def test_admin_webhook_pages_are_missing_for_other_roles(client, staff, who):
    sign_in(client, staff[who].email)
    assert client.get("/admin/webhooks").status_code == 404
    assert client.post("/admin/webhooks/deliveries/1/send-again").status_code in (400, 404)


def test_admin_form_without_csrf_is_refused(client, staff, receiver):
    sign_in(client, staff["admin"].email)
    response = client.post("/admin/webhooks", data={"url": receiver.url, "events": ["interview.outcome"]})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


# --- SSRF -----------------------------------------------------------------------------------


@pytest.fixture
def production_app(database_url, monkeypatch):
    """The app with the production settings (a real secret key) on a fresh database."""
    key = secrets.token_urlsafe(48)  # production refuses guessable keys
    monkeypatch.setenv("SECRET_KEY", key)

    class Config(ProductionConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        SECRET_KEY = key

    with app_on_fresh_database(Config) as app:
        yield app


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "http://example.com/hook",
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
    ],
)
def test_production_refuses_loopback_private_and_plain_http_urls(production_app, url):
    with pytest.raises(WebhookError):
        create_endpoint(url, "survey.completed")
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_production_allows_private_addresses_only_when_told(production_app):
    production_app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    assert check_url("https://10.1.2.3/hook") == "https://10.1.2.3/hook"


def test_production_refuses_to_deliver_to_an_address_that_became_private(production_app, receiver):
    https_url = receiver.url.replace("http://", "https://")
    db.session.add(WebhookEndpoint(url=https_url, events=["interview.outcome"], secret_salt="00"))
    emit("interview.outcome", OUTCOME_DATA)
    db.session.commit()
    report = deliver_webhooks()
    assert report.retrying == 1 and receiver.requests == []
    assert "loopback or private" in db.session.scalar(select(WebhookDelivery.last_error))


def test_development_accepts_http_on_loopback(app, receiver):
    assert check_url(receiver.url) == receiver.url
    with pytest.raises(WebhookError):
        check_url("gopher://127.0.0.1/")
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 0


def test_finished_deliveries_and_their_bodies_are_forgotten_after_the_history_window(app, receiver):
    queue_an_outcome_for(receiver.url)
    assert deliver_webhooks().delivered == 1
    assert deliver_webhooks(utcnow() + timedelta(days=29)).pruned == 0
    assert events_in_db() == 1
    assert deliver_webhooks(utcnow() + timedelta(days=31)).pruned == 1
    assert events_in_db() == 0


def test_an_ats_developer_journey_from_the_docs_to_a_verified_survey_completed(
    client, recruiter, smtp_server, answer_survey, receiver
):
    """Read the docs, create an interview, PATCH its outcome, register a webhook, answer by name."""
    assert "PATCH /api/v1/interviews/{interview_id}" in client.get("/api/v1/docs").get_data(as_text=True)
    _, key = create_api_key("ATS")
    headers = {"Authorization": f"Bearer {key}"}
    from helpers import interview_payload

    created = client.post("/api/v1/interviews", json=interview_payload(), headers=headers).get_json()
    changed = client.patch(
        f"/api/v1/interviews/{created['id']}", json={"outcome": "advanced"}, headers=headers
    )
    assert changed.get_json()["outcome"] == "advanced"
    _, secret = create_endpoint(receiver.url, "survey.completed")
    interview = db.session.get(Interview, created["id"])
    send_due(now=interview.ends_at + timedelta(hours=3))
    answer_survey(smtp_server.handler.to("cara@example.org")[-1], consent="named", nps=10)
    send_due()
    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "survey.completed"
    assert payload["data"]["external_id"] == "ats-1"


@pytest.mark.slow
def test_three_worker_processes_deliver_each_of_200_events_exactly_once(app, receiver):
    from collections import Counter

    from processes import start_flask

    create_endpoint(receiver.url, "interview.outcome")
    for number in range(200):
        emit("interview.outcome", {**OUTCOME_DATA, "interview_id": number})
    db.session.commit()
    processes = [start_flask(app, "surveys", "send-due", WEBHOOK_BATCH_SIZE="5") for _ in range(3)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    received = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(received) == 200 and set(received.values()) == {1}
    statuses = set(db.session.scalars(select(WebhookDelivery.status)))
    assert statuses == {"delivered"}


def test_a_receiver_trickling_bytes_is_cut_at_the_deadline(app):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 1  # each byte comes within it; the whole answer never does
    trickler = Receiver(default="trickle").start()
    try:
        queue_an_outcome_for(trickler.url)
        report = deliver_webhooks()
    finally:
        trickler.stop()
    assert report.retrying == 1 and report.delivered == 0
    assert "timed out" in db.session.scalar(select(WebhookDelivery.last_error))
