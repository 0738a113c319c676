"""One family of refusals: every error a service raises for a person to read is a DomainError."""

import pytest

from survey.services.accounts import AccountError
from survey.services.errors import DomainError
from survey.services.imports import ImportFileError
from survey.services.invitations import InvitationError, cancel_invitation
from survey.services.leads import LeadError
from survey.services.question_sets import QuestionSetError
from survey.services.reassignment import ReassignError
from survey.services.responses import AnswerError
from survey.services.retention import RetentionError
from survey.services.webhooks import WebhookError


@pytest.mark.parametrize(
    "error",
    [
        AccountError,
        AnswerError,
        ImportFileError,
        InvitationError,
        LeadError,
        QuestionSetError,
        ReassignError,
        RetentionError,
        WebhookError,
    ],
)
def test_each_kind_of_refusal_belongs_to_the_family_views_catch(error):
    assert issubclass(error, DomainError)


def test_cancelling_an_answered_survey_is_refused_as_a_domain_error(sent_invitation, answer_survey):
    invitation, message = sent_invitation
    answer_survey(message, nps=9)
    with pytest.raises(DomainError, match="already been answered"):
        cancel_invitation(invitation)
