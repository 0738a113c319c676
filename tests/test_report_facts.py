"""Report facts (outcomes, calibration, perception gaps, invitations sent) kept at every write
equal a recount from the source rows, and the report reads the same figures as from the rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from survey.extensions import db
from survey.models import (
    SCOPE_KEYS,
    Interview,
    report_cells,
    report_group_tallies,
    report_month_tallies,
    report_scopes,
    report_tallies,
    report_text_facts,
)
from survey.reports.fact_sums import scope_keys
from survey.reports.filters import ReportFilters
from survey.reports.outcomes import build_outcomes
from survey.reports.queries import gaps_by_group, invitations_sent
from survey.services.accounts import create_api_key, create_user
from survey.services.api_interviews import InterviewChanges, apply_changes
from survey.services.debriefs import save_debrief
from survey.services.invitations import send_due
from survey.services.reassignment import deactivate_and_reassign, reassign_interview
from survey.services.responses import submit_response
from survey.services.retention import erase_candidate
from survey.services.tallies import rebuild_cells

ANSWERS = {
    "nps": 9,
    "on_time": 4,
    "prepared": 3,
    "role_clarity": 2,
    "interest": 4,
    "self_assessment": 2,
    "improve": "Shorter take-home task",
}
READ = {
    "interest": 2,
    "self_assessment": 4,
    "culture_score": 3,
    "next_step_signal": "yes",
    "doubts_cleared": True,
    "referral_potential": 5,
    "expected_outcome": "likely",
}


def text_facts() -> list[tuple]:
    """The themes' text facts by scope attributes (level and keys), kind, label and text."""
    keys = [report_scopes.c.level, *(report_scopes.c[name] for name in SCOPE_KEYS)]
    columns = report_text_facts.c
    statement = select(
        *keys, columns.kind, columns.label, columns.text, columns.text_hash, columns["count"]
    ).join(report_scopes, report_scopes.c.id == columns.scope_id)
    return sorted(tuple(row) for row in db.session.execute(statement))


def every_count() -> dict:
    """The facts by scope attributes, and the cells and every tally table without their ids."""
    counts = {"facts": scope_keys(db.session.connection()), "texts": text_facts()}
    for table in (report_cells, report_tallies, report_group_tallies, report_month_tallies):
        counts[table.name] = sorted(tuple(row)[1:] for row in db.session.execute(select(table)))
    return counts


def test_facts_kept_through_submits_debriefs_outcomes_moves_and_an_erasure_equal_a_recount(
    app, make_interview, recruiter, smtp_server
):
    admin = create_user("ada.admin@example.com", "Ada Admin", "admin", "password-123")
    other = create_user("oscar.other@example.com", "Oscar Other", "recruiter", "password-123")
    api_key, _ = create_api_key("ats")
    interviews = [
        make_interview(stage=("Technical", "Onsite")[i % 2], hiring_manager=f"Manager {i % 3}")
        for i in range(8)
    ]
    # Invitations emailed: the response rate's denominator, by interview.
    send_due(now=interviews[0].ends_at + timedelta(hours=3))
    # A debrief before the answers (the usual order) and one after them.
    save_debrief(interviews[0], READ, recruiter)
    # An outcome decided before the candidate answers: the submit adds the outcome facts itself.
    interviews[6].outcome = "advanced"
    db.session.commit()
    assert submit_response(interviews[6].invitation, ANSWERS, "named")
    for number, interview in enumerate(interviews[:6]):
        answers = {**ANSWERS, "nps": 3 + number, "interest": 1 + number % 5}
        assert submit_response(interview.invitation, answers, "named" if number < 5 else "anonymous")
    save_debrief(interviews[1], {**READ, "expected_outcome": "unlikely"}, recruiter)
    save_debrief(interviews[2], READ, recruiter)
    # A debrief edited: every figure it fed moves.
    save_debrief(interviews[0], {**READ, "interest": 5, "doubts_cleared": False}, recruiter)
    # Outcomes: set by hand, through the API (twice), and a pending one left.
    interviews[0].outcome = "hired"
    db.session.commit()
    apply_changes(interviews[1], InterviewChanges(outcome="rejected"), api_key)
    apply_changes(interviews[2], InterviewChanges(outcome="advanced"), api_key)
    apply_changes(interviews[2], InterviewChanges(outcome="withdrawn"), api_key)
    # Moved to another recruiter: one by hand, the rest of the leaver's open ones at once.
    reassign_interview(interviews[3], other.id, admin)
    deactivate_and_reassign(recruiter, other.id, admin)
    # Debrief process issues: written, reworded with spaces around, and taken back.
    save_debrief(interviews[3], {**READ, "process_issues": "Panel started late"}, recruiter)
    save_debrief(interviews[4], {**READ, "process_issues": "  Panel started late "}, recruiter)
    save_debrief(interviews[5], {**READ, "process_issues": "No parking"}, recruiter)
    save_debrief(interviews[5], {**READ, "process_issues": ""}, recruiter)
    # An erasure unlinks a named response: it leaves the outcome and gap facts, and the
    # candidate's name leaves the text facts with their answer (scrubbed there as in the row).
    name = interviews[1].candidate.name
    assert submit_response(interviews[7].invitation, {**ANSWERS, "improve": f"Ask {name} less"}, "named")
    erase_candidate(interviews[7].candidate.email)
    erase_candidate(interviews[1].candidate.email)
    kept = every_count()
    kinds = {"sent", "calibration", "outcome_n", "outcome", "gap_pairs", "gap", "gap_rule"}
    assert {key[7] for key in kept["facts"]} == kinds, "the mix produced facts of every kind"
    texts = {(row[7], row[8], row[9]): row[11] for row in kept["texts"] if row[0] == 2}
    assert texts[("improve", "named", "Shorter take-home task")] == 5
    # The erased candidate's answer is no longer named; an anonymous answer is held, not counted.
    assert texts[("improve", "anonymous", "Shorter take-home task")] == 1
    assert texts[("issues", "", "Panel started late")] == 2
    assert ("issues", "", "No parking") not in texts
    assert not any(name in text or interviews[7].candidate.name in text for _, _, text in texts)
    rebuild_cells()
    assert every_count() == kept


def test_report_reads_the_same_outcome_and_gap_figures_as_the_rows_give(app, make_interview, recruiter):
    interviews = [make_interview(stage="Technical") for _ in range(6)]
    for number, interview in enumerate(interviews):
        save_debrief(interview, {**READ, "interest": 1 + number % 5}, recruiter)
        assert submit_response(interview.invitation, {**ANSWERS, "interest": 5 - number % 3}, "named")
        interview.outcome = ("hired", "rejected", "advanced")[number % 3]
    db.session.commit()
    gaps = gaps_by_group(ReportFilters())["stage"][0]
    differences = [(5 - n % 3) - (1 + n % 5) for n in range(6)]
    assert gaps.pairs == 6
    assert gaps.gaps["interest"].n == 6 and gaps.gaps["interest"].total == sum(differences)
    assert gaps.lower["interest"] == sum(d < 0 for d in differences)
    assert gaps.flagged["interest"] == sum(abs(d) >= 2 for d in differences)
    assert gaps.referral_checked == 6 and gaps.referral_mismatches == 0  # referral 5, nps 9
    outcomes = build_outcomes(ReportFilters())
    assert {g.outcome: g.responses for g in outcomes.groups} == {"hired": 2, "rejected": 2, "advanced": 2}
    assert outcomes.overall.decided == 6
    assert invitations_sent(ReportFilters(stage="Technical")) == 0
    assert db.session.scalar(select(Interview.id).where(Interview.stage == "Onsite")) is None


def test_fact_rows_are_written_in_one_fixed_order_whatever_order_the_changes_came_in(app):
    """Two transactions moving the same facts lock their rows in the same order, so on PostgreSQL
    they wait for each other instead of deadlocking (e.g. one debrief's text going "" → "X" while
    another's goes "X" → "")."""
    from collections import Counter

    from helpers import recorded_statements
    from survey.models import ISSUES_TEXT
    from survey.services.report_facts import apply_changes

    onsite, technical = ("2026-01", 1, "", "Onsite", "", 1), ("2026-01", 1, "", "Technical", "", 1)
    keys = [
        (*onsite, ISSUES_TEXT, "", "", "X"),
        (*onsite, ISSUES_TEXT, "", "", ""),
        (*technical, ISSUES_TEXT, "", "", "X"),
        (*technical, "sent", "", "", ""),
    ]
    for sign, order in ((1, keys), (-1, keys[::-1])):  # the same rows, in opposite orders
        with recorded_statements(parameters=True) as statements:
            apply_changes(db.session.connection(), Counter({key: sign for key in order}))
        batches = [
            params for statement, params in statements if statement.lstrip().upper().startswith("INSERT")
        ]
        assert len(batches) >= 2, "the facts and the text facts (and the first time, their scopes)"
        for batch in batches:
            # Each table's rows in order of their leading key columns (scope, kind, item/label, …).
            rows = [tuple(row.values() if isinstance(row, dict) else row)[:4] for row in batch]
            assert rows == sorted(rows)


def test_each_delivered_email_adds_one_sent_fact_in_its_scope_without_recounting_its_interview(
    app, make_interview, smtp_server
):
    """A delivered invitation's flush moves one known fact (one more `sent` in its interview's
    scope); its facts equal a recount, across scopes and months, and a second delivery of the same
    link (resent) counts once, as a recount does."""
    from helpers import recorded_statements
    from survey.services.invitations import resend_invitation

    interviews = [
        make_interview(stage=("Technical", "Onsite")[i % 2], hiring_manager=f"Manager {i % 2}")
        for i in range(4)
    ]
    interviews[3].ends_at -= timedelta(days=40)  # another month
    db.session.commit()
    with recorded_statements() as statements:
        summary = send_due(now=interviews[0].ends_at + timedelta(hours=3))
    assert summary.delivery.sent == 4
    # The facts' reads: each email's scope and scope ids, but no count of what its interview had.
    assert not [statement for statement in statements if "count(*)" in statement.lower()]
    resend_invitation(interviews[0].invitation)
    again = send_due()  # the resent link, and the others' reminders, which move no fact
    assert (again.issued, again.reminders, again.delivery.sent) == (1, 3, 4)
    kept = scope_keys(db.session.connection())
    sent = {key[:7]: n for key, n in kept.items() if key[7] == "sent"}
    assert sent[(2, "", 0, "", "", "", 0)] == 4  # over everything: every interview's one invitation
    rebuild_cells()
    assert scope_keys(db.session.connection()) == kept
