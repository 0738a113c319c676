"""What outcomes teach: recruiters' calibration, the candidate's read, and opinions by outcome,
checked against scipy and suppressed below the group size."""

from __future__ import annotations

import math
import re

import pytest
from scipy import stats

from helpers import sign_in
from survey.extensions import db
from survey.reports.filters import ReportFilters
from survey.reports.outcomes import build_outcomes, recruiter_calibration
from survey.services.debriefs import save_debrief
from survey.services.responses import submit_response

# (expected, outcome) per debrief of the owner: 6 calls true, 2 wrong, 2 unsure.
OWNER_READS = [
    ("likely", "hired"),
    ("likely", "advanced"),
    ("likely", "advanced"),
    ("likely", "rejected"),
    ("unlikely", "rejected"),
    ("unlikely", "rejected"),
    ("unlikely", "rejected"),
    ("unlikely", "advanced"),
    ("unsure", "advanced"),
    ("unsure", "rejected"),
]
PROBABILITY = {"likely": 0.75, "unsure": 0.5, "unlikely": 0.25}


@pytest.fixture
def decided(make_interview, staff):
    """Interviews of the owner with a debrief and a decided outcome, plus one withdrawn and one pending."""

    def add(reads, recruiter=None):
        recruiter = recruiter or staff["owner"]
        made = []
        for expected, outcome in reads:
            interview = make_interview(recruiter_email=recruiter.email)
            save_debrief(interview, {"expected_outcome": expected}, recruiter)
            interview.outcome = outcome
            made.append(interview)
        db.session.commit()
        return made

    add(OWNER_READS + [("likely", "withdrawn"), ("likely", "pending")])
    return add


def wilson(k: int, n: int, z: float = stats.norm.ppf(0.975)) -> tuple[float, float]:
    """The Wilson score interval, written out from its formula."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_hit_rate_interval_and_brier_score_match_an_independent_computation(app, decided, staff):
    report = build_outcomes(ReportFilters())
    [owner] = report.recruiters
    assert (owner.decided, owner.calls, owner.hits) == (10, 8, 6)  # withdrawn and pending left out
    assert owner.hit_rate == pytest.approx(0.75)
    assert owner.hit_interval == pytest.approx(wilson(6, 8))
    errors = [(PROBABILITY[e] - (o in ("advanced", "hired"))) ** 2 for e, o in OWNER_READS]
    assert owner.brier.mean == pytest.approx(sum(errors) / len(errors))
    low, high = stats.t.interval(0.95, len(errors) - 1, loc=stats.tmean(errors), scale=stats.sem(errors))
    assert owner.brier.mean - owner.brier.margin == pytest.approx(low)
    assert owner.brier.mean + owner.brier.margin == pytest.approx(high)
    assert owner.share_positive("likely") == (3, 4)


def test_a_recruiter_with_few_decided_debriefs_is_suppressed_with_a_complement(app, decided, staff):
    decided([("likely", "hired"), ("unlikely", "rejected")], recruiter=staff["other"])
    report = build_outcomes(ReportFilters())
    hidden = {c.label: c.hidden for c in report.recruiters}
    # Oscar has 2 (< 5); Rita must go too, or "everyone" minus Rita would give Oscar away.
    assert hidden == {"Oscar Other": True, "Rita Recruiter": True}
    assert not report.overall.hidden and report.overall.decided == 12


def answered(interview, consent="named", **answers):
    assert submit_response(interview.invitation, answers, consent)


def test_opinions_by_outcome_use_named_answers_only_with_cnps_interval_like_scipy(app, make_interview):
    scores = [10, 9, 9, 7, 3, 6, 8, 2]
    for index, nps in enumerate(scores):
        interview = make_interview()
        interview.outcome = "rejected"
        answered(interview, nps=nps, fair=2 + index % 3, self_assessment=1 + index % 5)
    # Anonymous answers cannot be tied to an outcome and must not count.
    for _ in range(6):
        interview = make_interview()
        interview.outcome = "rejected"
        answered(interview, consent="anonymous", nps=0, fair=1)
    db.session.commit()
    [group] = build_outcomes(ReportFilters()).groups
    assert (group.outcome, group.responses) == ("rejected", len(scores))
    coded = [100 if s >= 9 else -100 if s <= 6 else 0 for s in scores]
    assert group.nps.mean == pytest.approx(sum(coded) / len(coded))
    low, high = stats.t.interval(0.95, len(coded) - 1, loc=sum(coded) / len(coded), scale=stats.sem(coded))
    assert (group.nps.mean - group.nps.margin, group.nps.mean + group.nps.margin) == pytest.approx(
        (low, high)
    )
    assert group.items["fair"].mean == pytest.approx(sum(2 + i % 3 for i in range(8)) / 8)


def test_small_outcome_groups_are_suppressed(app, make_interview):
    for outcome, count in (("rejected", 6), ("hired", 2), ("advanced", 7)):
        for _ in range(count):
            interview = make_interview()
            interview.outcome = outcome
            answered(interview, nps=8)
    db.session.commit()
    hidden = {g.outcome: g.hidden for g in build_outcomes(ReportFilters()).groups}
    assert hidden == {"hired": True, "rejected": True, "advanced": False}


def test_self_read_compares_those_who_went_on_with_the_rejected_like_scipy(app, make_interview):
    went_on = [5, 4, 4, 5, 3, 4]
    rejected = [2, 3, 1, 2, 4, 3, 2]
    for outcome, values in (("advanced", went_on), ("rejected", rejected)):
        for value in values:
            interview = make_interview()
            interview.outcome = outcome
            answered(interview, self_assessment=value)
    db.session.commit()
    test = next(t for t in build_outcomes(ReportFilters()).self_read if t.key == "self_assessment")
    expected = stats.mannwhitneyu(went_on, rejected, alternative="two-sided").pvalue
    assert test.p_value == pytest.approx(expected)
    assert test.positive.mean == pytest.approx(sum(went_on) / len(went_on))
    assert not (test.positive_hidden or test.rejected_hidden)


def test_reports_page_shows_the_outcomes_section(client, decided, staff):
    sign_in(client, staff["hr"].email)
    html = client.get("/reports").get_data(as_text=True)
    assert "What outcomes teach" in html
    assert re.search(r"Rita Recruiter</th>\s*<td>10</td><td>8</td><td>75%", html)


def test_recruiter_sees_their_own_calibration_for_the_last_90_days(client, decided, staff):
    decided([("likely", "rejected")] * 3, recruiter=staff["other"])
    sign_in(client, staff["owner"].email)
    html = client.get("/interviews").get_data(as_text=True)
    assert "Your reads, last 90 days" in html
    assert "Of your 8 calls (likely or unlikely), 6 came true" in html
    other = recruiter_calibration(staff["other"])
    assert (other.calls, other.hits) == (3, 0)


def test_old_interviews_leave_the_recruiters_calibration(app, decided, staff):
    from datetime import timedelta

    latest = max(i.ends_at for i in [*decided([("likely", "hired")])])
    assert recruiter_calibration(staff["owner"], now=latest + timedelta(days=89)).decided == 11
    assert recruiter_calibration(staff["owner"], now=latest + timedelta(days=91)).decided == 0


def test_hr_sees_no_calibration_panel(client, decided, staff):
    sign_in(client, staff["hr"].email)
    assert "Your reads" not in client.get("/interviews").get_data(as_text=True)


def test_demo_seed_gives_the_outcomes_section_figures(client, runner, staff):
    assert runner.invoke(args=["demo", "seed", "--interviews", "300"]).exit_code == 0
    report = build_outcomes(ReportFilters())
    assert report.overall.calls > 50 and not report.overall.hidden
    assert {g.outcome for g in report.groups if not g.hidden} >= {"advanced", "rejected"}
