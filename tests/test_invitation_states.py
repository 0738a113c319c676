"""The invitation's states and transitions, kept on the model (survey.models.Invitation)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import CheckConstraint

from helpers import sign_in, utc
from survey.api.openapi import SURVEY_STATUSES
from survey.extensions import db
from survey.models import (
    OPEN_STATUSES,
    OUTBOX_DUE_STATUSES,
    OUTBOX_STATUSES,
    Invitation,
    InvitationStatus,
    OutboxStatus,
)
from survey.services.responses import load_link_target, mark_opened, submit_response


def test_the_status_enum_holds_exactly_the_stored_strings_the_check_and_the_api_allow():
    check = next(
        c
        for c in Invitation.__table__.constraints
        if isinstance(c, CheckConstraint) and "status" in str(c.sqltext)
    )
    allowed = {value.strip(" '") for value in str(check.sqltext).split("(", 1)[1].rstrip(")").split(",")}
    assert allowed == {status.value for status in InvitationStatus}
    assert [status.value for status in InvitationStatus] == SURVEY_STATUSES
    assert set(OPEN_STATUSES) == {"scheduled", "sent", "opened"}


def test_failed_is_final_for_an_invitation_and_named_so_unlike_the_outboxs_retrying_failed(
    app, make_interview
):
    assert InvitationStatus.UNDELIVERABLE == "failed" and "failed" in OUTBOX_STATUSES
    assert InvitationStatus.UNDELIVERABLE not in OPEN_STATUSES
    given_up, delivered = make_interview().invitation, make_interview().invitation
    delivered.status = InvitationStatus.SENT
    db.session.commit()
    for invitation in (given_up, delivered):
        db.session.execute(Invitation.giving_up(invitation.id, invitation.version))
    db.session.commit()
    assert given_up.status == "failed" and not given_up.is_open
    # An email that could not be delivered leaves an already delivered link alone.
    assert delivered.status == "sent"


def test_outbox_rows_say_retrying_for_the_stored_failed_which_is_not_the_invitations_final_failed():
    assert OutboxStatus.RETRYING == "failed" and OutboxStatus.RETRYING in OUTBOX_DUE_STATUSES
    assert OutboxStatus.DEAD not in OUTBOX_DUE_STATUSES and OutboxStatus.SENT not in OUTBOX_DUE_STATUSES


def test_only_a_survey_that_something_would_still_stop_offers_to_be_cancelled(
    app, client, make_interview, recruiter
):
    interview = make_interview()
    page = f"/interviews/{interview.id}"
    sign_in(client, recruiter.email)
    closed = (
        InvitationStatus.CANCELLED,
        InvitationStatus.OPTED_OUT,
        InvitationStatus.EXPIRED,
        InvitationStatus.COMPLETED,
    )
    for status in InvitationStatus:
        interview.invitation.status = status
        db.session.commit()
        assert interview.invitation.cancellable == (status not in closed), status
        offered = "Cancel survey" in client.get(page).get_data(as_text=True)
        assert offered == interview.invitation.cancellable, status


def test_a_given_up_invitations_link_is_invalid(app, make_interview):
    invitation = make_interview().invitation
    db.session.execute(Invitation.giving_up(invitation.id, invitation.version))
    db.session.commit()
    assert invitation.link_state(utc(2026, 11, 21)) == "invalid"


def test_delivery_starts_the_links_life_and_opening_never_reopens_an_answered_survey(app, make_interview):
    invitation = make_interview().invitation
    sent = utc(2026, 11, 20, 12)
    invitation.issue(sent)
    invitation.deliver(sent, timedelta(days=14))
    db.session.commit()
    assert (invitation.status, invitation.expires_at) == ("sent", sent + timedelta(days=14))
    assert invitation.link_state(sent + timedelta(days=14)) == "expired"
    assert submit_response(
        load_link_target(invitation.id), {"nps": 9}, "named", now=sent + timedelta(hours=1)
    )
    mark_opened(load_link_target(invitation.id), now=sent + timedelta(hours=2))
    db.session.refresh(invitation)
    assert invitation.status == "completed" and invitation.opened_at is not None
    assert invitation.link_state(sent + timedelta(hours=3)) == "completed"


def test_a_reissue_keeps_the_old_links_moments_and_starts_over(app, make_interview):
    invitation = make_interview().invitation
    sent = utc(2026, 11, 20, 12)
    invitation.issue(sent)
    invitation.deliver(sent, timedelta(days=14))
    invitation.reissue(sent + timedelta(days=1))
    db.session.commit()
    assert (invitation.version, invitation.status, invitation.sent_at) == (2, "scheduled", None)
    assert invitation.awaiting_issue
    kept = {(event.version, event.moment) for event in invitation.history}
    assert {(1, "issued_at"), (1, "sent_at"), (1, "expires_at")} <= kept
