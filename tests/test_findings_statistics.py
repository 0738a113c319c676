"""The statistics behind findings, checked against scipy and statsmodels, and the findings'
behaviour on planted effects, identical answers and null data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from test_reports import respond  # noqa: F401  (the fixture that answers surveys through the services)

from survey.reports.filters import ReportFilters
from survey.reports.findings import ItemResult, adjust, compare_within_strata
from survey.reports.findings import counts as counts_as_finding
from survey.reports.report import build_report
from survey.reports.stats import (
    nps_interval,
    q_values,
    rank_test,
    sign_test,
    stratified_difference,
    wilson_interval,
)
from survey.services.demo import seed_demo
from survey.themes import cluster_themes

LIKERT = np.arange(1, 6)
SKEWED = np.array([0.04, 0.08, 0.18, 0.40, 0.30])  # the usual shape of candidate answers


def counts(values, scale=LIKERT) -> np.ndarray:
    """Answers as a count per scale value."""
    return np.array([int(np.sum(np.asarray(values) == v)) for v in scale])


def expand(by_value, scale=LIKERT) -> np.ndarray:
    return np.repeat(scale, by_value)


# --- Each statistic against its reference -------------------------------------------------------

SHAPES = [(1, 30), (2, 30), (5, 5), (20, 400), (37, 90)]


@pytest.mark.parametrize(("n1", "n2"), SHAPES)
def test_rank_test_on_counts_matches_scipy_mannwhitneyu_with_ties(n1, n2):
    rng = np.random.default_rng(n1 * 1000 + n2)
    for _ in range(20):
        group = rng.choice(LIKERT, n1, p=SKEWED)
        rest = rng.choice(LIKERT, n2, p=rng.dirichlet(np.ones(5)))
        ours = rank_test([counts(group)], [counts(rest)])
        reference = scipy_stats.mannwhitneyu(group, rest, use_continuity=False, method="asymptotic")
        if np.isnan(reference.pvalue):  # scipy: every answer tied, nothing to test
            assert ours.p_value == 1.0
            continue
        assert ours.u == pytest.approx(reference.statistic, abs=1e-9)
        assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-15)
        assert ours.effect_size == pytest.approx(2 * reference.statistic / (n1 * n2) - 1)


def test_all_identical_answers_are_tested_not_given_a_zero_standard_error():
    # Five answers of 3 against a spread-out rest: the old t-test said p = 1e-113.
    rest = counts(np.random.default_rng(1).choice(LIKERT, 300, p=SKEWED))
    ours = rank_test([counts([3] * 5)], [rest])
    reference = scipy_stats.mannwhitneyu([3] * 5, expand(rest), use_continuity=False, method="asymptotic")
    assert ours.p_value == pytest.approx(reference.pvalue) and ours.p_value > 0.01
    # Everyone answered 3: no difference can be told, p = 1.
    assert rank_test([counts([3] * 5)], [counts([3] * 40)]).p_value == 1.0


def test_stratified_rank_test_equals_van_elteren_from_raw_ranks():
    rng = np.random.default_rng(5)
    strata = [
        (rng.choice(LIKERT, n1, p=SKEWED), rng.choice(LIKERT, n2, p=SKEWED))
        for n1, n2 in ((3, 40), (25, 60), (1, 2))
    ]
    shift = variance = 0.0
    for group, rest in strata:
        ranks = scipy_stats.rankdata(np.concatenate([group, rest]))
        n1, n2 = len(group), len(rest)
        rank_sum = ranks[:n1].sum()
        _, tie_counts = np.unique(ranks, return_counts=True)
        var = n1 * n2 / 12 * (n1 + n2 + 1 - (tie_counts**3 - tie_counts).sum() / ((n1 + n2) * (n1 + n2 - 1)))
        weight = 1 / (n1 + n2 + 1)
        shift += weight * (rank_sum - n1 * (n1 + n2 + 1) / 2)
        variance += weight**2 * var
    z = shift / np.sqrt(variance)
    ours = rank_test([counts(g) for g, _ in strata], [counts(r) for _, r in strata])
    assert ours.z == pytest.approx(z) and ours.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(z)))


@pytest.mark.parametrize(("n1", "n2"), [(1, 2), (2, 2), (5, 5), (20, 400)])
def test_difference_and_interval_match_the_equal_variance_t_interval(n1, n2):
    rng = np.random.default_rng(n1 + n2)
    group, rest = rng.choice(LIKERT, n1, p=SKEWED), rng.choice(LIKERT, n2, p=SKEWED)
    ours = stratified_difference(LIKERT, [counts(group)], [counts(rest)])
    assert ours.estimate == pytest.approx(group.mean() - rest.mean())
    if n1 + n2 <= 2:
        assert ours.low is None  # no degrees of freedom left: no interval rather than a false one
        return
    reference = scipy_stats.ttest_ind(group, rest, equal_var=True).confidence_interval(0.95)
    if np.isnan(reference.low):
        assert ours.low == ours.high == ours.estimate
        return
    assert (ours.low, ours.high) == pytest.approx((reference.low, reference.high))


def test_stratified_difference_equals_statsmodels_ols_with_stratum_dummies():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(11)
    rows, groups, rests = [], [], []
    for stratum, (n1, n2, shift) in enumerate(((8, 50, 0.0), (30, 70, 0.8), (2, 9, -0.5), (1, 1, 0.0))):
        group = np.clip(np.round(rng.normal(3.5 + shift - 0.4, 1, n1)), 1, 5).astype(int)
        rest = np.clip(np.round(rng.normal(3.5 + shift, 1, n2)), 1, 5).astype(int)
        groups.append(counts(group))
        rests.append(counts(rest))
        rows += [(stratum, 1, y) for y in group] + [(stratum, 0, y) for y in rest]
    strata = np.array([r[0] for r in rows])
    design = np.column_stack([(strata == s).astype(float) for s in range(4)] + [[r[1] for r in rows]])
    fit = sm.OLS(np.array([r[2] for r in rows], dtype=float), design).fit()
    low, high = fit.conf_int(0.05)[-1]
    ours = stratified_difference(LIKERT, groups, rests)
    assert ours.estimate == pytest.approx(fit.params[-1])
    assert (ours.low, ours.high) == pytest.approx((low, high))


def test_q_values_match_statsmodels_benjamini_hochberg():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p_values = list(np.random.default_rng(3).uniform(0, 0.2, 40)) + [1e-6, 0.5, 1.0]
    expected = multitest.multipletests(p_values, alpha=0.05, method="fdr_bh")[1]
    assert q_values(p_values) == pytest.approx(list(expected))
    assert q_values([]) == []


def test_sign_test_matches_scipy_binomtest_and_a_constant_gap_is_a_result():
    assert sign_test(12, 3).p_value == pytest.approx(scipy_stats.binomtest(3, 15, 0.5).pvalue)
    # Everyone two points below the debrief: zero spread, yet the clearest possible result.
    constant = sign_test(25, 0)
    assert constant.p_value == pytest.approx(2 * 0.5**25) and constant.p_value > 1e-10
    assert sign_test(0, 0) is None


@pytest.mark.parametrize("trials", [1, 2, 7, 8, 50, 1234, 98765])
def test_wilson_interval_is_scipys_to_the_last_bit_edges_included(trials):
    for successes in sorted({0, 1, trials // 3, trials // 2, trials - 1, trials}):
        interval = scipy_stats.binomtest(successes, trials).proportion_ci(0.95, method="wilson")
        assert wilson_interval(successes, trials) == (float(interval.low), float(interval.high))


def test_cnps_interval_is_the_multinomial_interval_with_one_answer_of_each_kind_added():
    promoters, detractors, n = 40, 25, 100
    # One promoter, passive and detractor added: the mean and standard error of the +1/0/−1 scores.
    scores = np.array(
        [1] * (promoters + 1) + [-1] * (detractors + 1) + [0] * (n - promoters - detractors + 1)
    )
    half = scipy_stats.norm.ppf(0.975) * scores.std(ddof=0) / np.sqrt(len(scores))
    low, high = nps_interval(promoters, detractors, n)
    assert (low, high) == pytest.approx((100 * (scores.mean() - half), 100 * (scores.mean() + half)))
    low, high = nps_interval(5, 0, 5)  # five promoters: +100, but not certainly so
    assert high == 100 and low < 60
    assert nps_interval(0, 0, 0) is None


def test_cnps_interval_covers_the_true_score_about_95_percent_of_the_time_on_small_groups():
    rng = np.random.default_rng(13)
    truth = (0.6, 0.3, 0.1)
    covered = 0
    for _ in range(4000):
        promoters, _, detractors = rng.multinomial(13, truth)
        low, high = nps_interval(promoters, detractors, 13)
        covered += low <= 50 <= high
    assert 0.93 <= covered / 4000 <= 0.99


# --- Findings: planted effects, identical answers, null data -------------------------------------


def _simulated_tables(rng, department_effect=0.0, responses=600):
    """Responses spread over 4 departments × 3 stages, 2 hiring managers nested in each department;
    department 0 shifted by `department_effect` scale points (its managers have none of their own)."""
    department = rng.integers(0, 4, responses)
    stage = rng.integers(0, 3, responses)
    manager = department * 2 + rng.integers(0, 2, responses)
    latent = rng.normal(3.8, 1.0, responses) + department_effect * (department == 0)
    answer = np.clip(np.round(latent), 1, 5).astype(int) - 1
    tables = {}
    for name, group, stratum in (
        ("department", department, stage),
        ("stage", stage, department),
        ("hiring_manager", manager, department * 3 + stage),
    ):
        table = np.zeros((group.max() + 1, stratum.max() + 1, 5), dtype=np.int64)
        np.add.at(table, (group, stratum, answer), 1)
        tables[name] = table
    return tables


FAMILY = {"department": "organisation", "stage": "organisation", "hiring_manager": "people"}


def _findings(tables, min_responses=20):
    """The (grouping, group) pairs named, with the report's families and adjustment."""
    results = []
    for name, table in tables.items():
        eligible = [True] * table.shape[0]
        for index, test, difference in compare_within_strata(table, LIKERT, eligible, min_responses):
            results.append((name, index, ItemResult("item", "item", test, difference)))
    families = {"organisation": [], "people": []}
    for name, _, result in results:
        families[FAMILY[name]].append(result)
    adjust(families)
    return {(name, index) for name, index, result in results if counts_as_finding(result)}


def test_a_department_effect_names_the_department_and_no_manager_inside_it():
    rng = np.random.default_rng(2026)
    named = _findings(_simulated_tables(rng, department_effect=-0.8))
    assert ("department", 0) in named
    assert not any(name == "hiring_manager" for name, _ in named), named


def test_a_zero_variance_group_of_five_yields_no_finding(app, respond):  # noqa: F811
    app.config["FINDINGS_MIN_RESPONSES"] = 5  # even with the floor lowered to the group's size
    for _ in range(5):
        respond(
            department="Legal", **{key: 3 for key in ("on_time", "prepared", "role_clarity", "fair")}, nps=6
        )
    spread = ("on_time", "prepared", "role_clarity", "fair")
    for index in range(60):
        respond(
            department="Engineering",
            **{key: 1 + (index + shift) % 5 for shift, key in enumerate(spread)},
            nps=index % 11,
        )
    report = build_report(ReportFilters())
    assert report.family.comparisons > 0
    assert not [f for f in report.findings if f.group in ("Legal", "Counsel")], [
        f.text for f in report.findings
    ]


def test_false_positive_rate_on_null_data_stays_at_or_under_five_percent():
    """Many simulated reports where every group answers alike: how many show any finding at all."""
    rng = np.random.default_rng(7)
    reports = 400
    with_a_finding = sum(bool(_findings(_simulated_tables(rng))) for _ in range(reports))
    assert with_a_finding / reports <= 0.05


def test_rank_test_keeps_its_level_on_small_groups_of_skewed_answers():
    """Groups of 5–20 drawn like everyone else: rejected at 5% about 5% of the time, not 6–19%."""
    rng = np.random.default_rng(8)
    for size in (5, 20):
        rejections = sum(
            rank_test(
                [counts(rng.choice(LIKERT, size, p=SKEWED))], [counts(rng.choice(LIKERT, 400, p=SKEWED))]
            ).p_value
            < 0.05
            for _ in range(1000)
        )
        assert rejections / 1000 <= 0.065  # 5% plus twice the simulation's standard error


def test_demo_data_names_departments_and_stages_but_no_person_or_position(app):
    seed_demo(interviews=400)
    report = build_report(ReportFilters())
    groups = [f for f in report.findings if f.kind in ("weakness", "strength", "mixed")]
    assert {f.dimension for f in groups} <= {"Department", "Stage"}, [f.text for f in groups]
    assert any(f.dimension == "Department" and f.group == "Sales" and f.kind == "weakness" for f in groups)
    for finding in groups:
        for item in finding.items:
            assert item["q_value"] <= 0.05 and item["ci_low"] is not None
            assert item["n"] >= 30 or item["p_value"] >= 1e-10


# --- Themes ---------------------------------------------------------------------------------------


def test_overlapping_phrases_of_one_answer_are_one_theme_with_its_count():
    entries = [
        ("The take-home assignment took far longer than the stated two hours.", 8),
        ("Please send feedback faster after each stage.", 6),
        ("Too many rounds.", 1),
    ]
    themes = cluster_themes(entries, minimum=5)
    assert [(t.label, t.count) for t in themes] == [
        ("The take-home assignment took far longer than the stated two hours", 8),
        ("Please send feedback faster after each stage", 6),
    ]
    # An answer that may not be shown does not lend its sentence, only its shared phrases.
    [theme, _] = cluster_themes(entries, minimum=5, quotable=[False, True, True])
    assert theme.label == "take-home assignment took far longer than the stated two hours"


def test_a_theme_never_quotes_a_single_anonymous_answer(app, respond):  # noqa: F811
    wordings = [
        "The interview started late and nobody said why.",
        "Honestly the interview started late, twice.",
        "My interview started late; Hugo Manager shrugged.",
        "The interview started late again.",
        "Interview started late by half an hour.",
    ]
    for wording in wordings:
        respond(stage="Onsite", consent="anonymous", improve=wording)
    # Anonymous answers are held back, and once released feed no theme: nothing to count or quote.
    assert [f for f in build_report(ReportFilters()).findings if f.kind == "theme"] == []


def test_export_file_name_carries_the_filters_and_nothing_that_breaks_the_header():
    from datetime import UTC, datetime

    from survey.reports.export import export_filename

    filters = ReportFilters(month_from="2026-01", hiring_manager='Ann "O\'Neil"\r\nSet-Cookie: x')
    name = export_filename("csv", filters, "aggregates", datetime(2026, 11, 29, 13, 5, tzinfo=UTC))
    assert name == "debrief-aggregates-from-2026-01-hiring-manager-Ann-O-Neil-Set-Cookie-x-20261129-1305.csv"


def test_under_a_department_filter_a_finding_compares_with_the_view_not_the_organisation(app, respond):  # noqa: F811
    for index in range(20):
        respond(stage="Onsite", prepared=1 + index % 2)
    for index in range(30):
        respond(stage="Technical", prepared=4 + index % 2)
    for _ in range(5):
        respond(department="Sales", stage="Technical")
    findings = build_report(ReportFilters(department="Engineering")).findings
    onsite = next(f for f in findings if f.group == "Onsite")
    assert "the rest of this view — department Engineering" in onsite.reference
    assert "organisation" not in onsite.text
    unfiltered = next(f for f in build_report(ReportFilters()).findings if f.group == "Onsite")
    assert unfiltered.reference.startswith("the rest of the organisation")
