"""The invitation's states and transitions, kept on the model (survey.models.Invitation)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import CheckConstraint

from helpers import utc
from survey.api.openapi import SURVEY_STATUSES
from survey.extensions import db
from survey.models import OPEN_STATUSES, OUTBOX_STATUSES, Invitation, InvitationStatus
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


def test_failed_is_final_for_an_invitation_and_named_so_unlike_the_outboxs_retrying_failed():
    assert InvitationStatus.UNDELIVERABLE == "failed" and "failed" in OUTBOX_STATUSES
    assert InvitationStatus.UNDELIVERABLE not in OPEN_STATUSES
    given_up = Invitation(status=InvitationStatus.SCHEDULED)
    given_up.give_up()
    assert given_up.status == "failed" and not given_up.is_open
    delivered = Invitation(status=InvitationStatus.SENT)
    delivered.give_up()  # a reminder that could not be delivered leaves the delivered link alone
    assert delivered.status == "sent"


def test_a_given_up_invitations_link_is_invalid(app, make_interview):
    invitation = make_interview().invitation
    invitation.give_up()
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
