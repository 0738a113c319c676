"""The combined view compares like with like (DESIGN's mirror table), in words, and keeps history."""

from datetime import timedelta

import pytest
from test_recruiter_workspace import record_debrief

from helpers import sign_in, survey_link, table_rows
from survey.extensions import db
from survey.models import Debrief
from survey.questions import MIRROR, SCALE_PAIRS, compare
from survey.services.invitations import resend_invitation, send_due
from survey.services.question_sets import shipped_default


def combined_rows(client, interview_id: int) -> dict[str, tuple[str, list[str]]]:
    page = client.get(f"/interviews/{interview_id}").get_data(as_text=True)
    return {cells[0]: (cls, cells) for cls, cells in table_rows(page, "mirror")[1:]}


def test_every_gap_row_puts_a_1_to_5_scale_beside_a_1_to_5_scale():
    default_set = shipped_default()
    for pair in SCALE_PAIRS:
        question = default_set.get(pair.survey_key)
        assert (question.low, question.high) == (1, 5), pair
    # nps (0–10) is never set beside a 1–5 field with a numeric gap.
    assert "nps" not in {pair.survey_key for pair in SCALE_PAIRS}
    # Each survey item and each debrief field appears in one row at most.
    assert len({pair.survey_key for pair in MIRROR}) == len(MIRROR)
    assert len({pair.debrief_field for pair in MIRROR}) == len(MIRROR)


@pytest.mark.parametrize(
    ("survey_key", "candidate", "field", "recruiter", "flagged"),
    [
        ("next_steps", 5, "next_step_signal", "no", True),
        ("next_steps", 1, "next_step_signal", "yes", True),
        ("next_steps", 3, "next_step_signal", "yes", False),
        ("next_steps", 1, "next_step_signal", "unclear", False),
        ("role_clarity", 2, "doubts_cleared", True, True),
        ("role_clarity", 3, "doubts_cleared", True, False),
        ("role_clarity", 1, "doubts_cleared", False, False),
        ("nps", 6, "referral_potential", 4, True),
        ("nps", 9, "referral_potential", 2, True),
        ("nps", 7, "referral_potential", 4, False),
        ("nps", 10, "referral_potential", 5, False),
    ],
)
def test_rule_pairs_are_flagged_by_their_rule_only(survey_key, candidate, field, recruiter, flagged):
    pair = next(p for p in MIRROR if p.survey_key == survey_key)
    assert pair.kind == "rule" and pair.debrief_field == field
    gap = compare(pair, {survey_key: candidate}, Debrief(**{field: recruiter}))
    assert gap.flagged is flagged
    assert gap.difference is None  # different scales: never a numeric gap


def test_combined_view_shows_values_in_words_and_flags_only_comparable_pairs(
    client, staff, sent_invitation, answer_survey
):
    invitation, message = sent_invitation
    answer_survey(
        message,
        nps=7,
        interest=4,
        next_steps=5,
        role_clarity=2,
        on_time=1,
        prepared=5,
        improve="Started late",
        open_doubts="Who do I report to?",
    )
    sign_in(client, staff["owner"].email)
    record_debrief(
        client,
        invitation.interview_id,
        interest="4",
        next_step_signal="no",
        doubts_cleared="yes",
        referral_potential="4",
        process_issues="Room was double-booked",
        doubts="Reporting line",
    )
    rows = combined_rows(client, invitation.interview_id)
    assert rows["Interest in the role"] == ("", ["Interest in the role", "Very (4)", "Very (4)", "0"])
    next_step = rows["Next step"]
    assert next_step[0] == "flagged" and next_step[1][1:3] == ["Strongly agree (5)", "No"]
    assert next_step[1][3].startswith("⚑ Rule")
    clarity = rows["Doubts cleared / role clarity"]
    assert clarity[0] == "flagged" and clarity[1][1:3] == ["Disagree (2)", "Yes"]
    # 7 of 10 is a passive: referral potential "High" is not a mismatch, and no 0–10 vs 1–5 number.
    referral = rows["Referral potential / would recommend"]
    assert referral[0] == "" and referral[1][1:3] == ["7 of 10 (passive)", "High (4)"]
    assert referral[1][3].startswith("Consistent")
    # The process-issues note is not set beside "organised" or "prepared" any more.
    assert not any(label.startswith(("Organised", "Interviewers prepared")) for label in rows)
    page = client.get(f"/interviews/{invitation.interview_id}").get_data(as_text=True)
    assert "The candidate&#39;s alone" in page or "The candidate's alone" in page
    assert page.count("Room was double-booked") == 1
    assert "Started late" in page and "Who do I report to?" in page
    assert "2 items where the candidate and the debrief disagree" in page


def test_pairs_without_a_debrief_value_show_no_gap(client, staff, sent_invitation, answer_survey):
    invitation, message = sent_invitation
    answer_survey(message, interest=1, culture_picture=5)
    sign_in(client, staff["owner"].email)
    record_debrief(client, invitation.interview_id, interest="", culture_score="")
    rows = combined_rows(client, invitation.interview_id)
    assert rows["Interest in the role"] == ("", ["Interest in the role", "Not at all (1)", "—", "—"])
    assert rows["Picture of the team and its culture"][0] == ""


def test_resending_keeps_earlier_timeline_entries_as_history(client, staff, make_interview, smtp_server):
    interview = make_interview()
    send_due(now=interview.ends_at + timedelta(hours=3))
    message = smtp_server.handler.to(interview.candidate.email)[-1]
    client.get(survey_link(message))  # opened
    invitation = interview.invitation
    db.session.refresh(invitation)
    first_sent, first_opened = invitation.sent_at, invitation.opened_at
    resend_invitation(invitation)
    sign_in(client, staff["owner"].email)
    page = client.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Sent</strong>" in page and "Opened</strong>" in page
    assert page.count("(earlier link 1)") >= 2
    history = {event.moment: event.at for event in invitation.history}
    assert history["sent_at"] == first_sent and history["opened_at"] == first_opened
