"""Simulations behind the findings' statistics (`python -m bench.findings_simulation`).

Prints, from seeded random data (no database):
- the rejection rate at a nominal 5% of one comparison of a small group against 400 others drawn
  from the same skewed distribution, for Welch's t-test (the old method) and the rank test;
- the share of simulated reports (4 departments × 3 stages, 8 hiring managers nested in the
  departments, 3 items) with any finding when every group answers alike;
- the p-value of five identical answers of 3 against a spread-out rest;
- how often the cNPS interval covers the true score, plain Wald against the n + 3 interval.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from survey.reports.findings import ItemResult, adjust, compare_within_strata, counts
from survey.reports.stats import nps_interval, rank_test

LIKERT = np.arange(1, 6)
ELEVEN = np.arange(0, 11)
SKEWED_5 = np.array([0.04, 0.08, 0.18, 0.40, 0.30])
SKEWED_11 = np.array([0.02, 0.01, 0.02, 0.03, 0.04, 0.08, 0.10, 0.20, 0.22, 0.14, 0.14])


def per_comparison(rng, scale, weights, size, runs):
    """(Welch, rank test) rejection rates at 5% for a group of `size` against 400 alike."""
    welch = rank = 0
    for _ in range(runs):
        group, rest = rng.choice(scale, size, p=weights), rng.choice(scale, 400, p=weights)
        p_welch = stats.ttest_ind(group, rest, equal_var=False).pvalue
        welch += bool(p_welch < 0.05)  # nan (both constant) counts as no rejection
        counts = [np.bincount(group - scale[0], minlength=len(scale))]
        reference = [np.bincount(rest - scale[0], minlength=len(scale))]
        rank += rank_test(counts, reference).p_value < 0.05
    return welch / runs, rank / runs


def null_report(rng, responses=600, items=3, min_responses=20):
    """Whether one simulated report with no real differences shows any finding."""
    department = rng.integers(0, 4, responses)
    stage = rng.integers(0, 3, responses)
    manager = department * 2 + rng.integers(0, 2, responses)
    families = {"organisation": [], "people": []}
    for _ in range(items):
        answer = rng.choice(5, responses, p=SKEWED_5)
        for family, group, stratum in (
            ("organisation", department, stage),
            ("organisation", stage, department),
            ("people", manager, department * 3 + stage),
        ):
            table = np.zeros((group.max() + 1, stratum.max() + 1, 5), dtype=np.int64)
            np.add.at(table, (group, stratum, answer), 1)
            for _, test, difference in compare_within_strata(
                table, LIKERT, [True] * len(table), min_responses
            ):
                families[family].append(ItemResult("item", "item", test, difference))
    adjust(families)
    return any(counts(result) for results in families.values() for result in results)


def nps_coverage(rng, n, runs, true):
    """(plain Wald, n + 3) coverage of the 95% cNPS interval at sample size n."""
    truth = 100 * (true[0] - true[2])
    plain = adjusted = 0
    for _ in range(runs):
        promoters, _, detractors = rng.multinomial(n, true)
        p, d = promoters / n, detractors / n
        centre = 100 * (p - d)
        margin = 100 * 1.959964 * np.sqrt(max(p + d - (p - d) ** 2, 0) / n)
        plain += centre - margin <= truth <= centre + margin
        low, high = nps_interval(promoters, detractors, n)
        adjusted += low <= truth <= high
    return plain / runs, adjusted / runs


def main() -> None:
    """Run every simulation and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=4000, help="simulations per figure")
    parser.add_argument("--reports", type=int, default=1000, help="simulated null reports")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    print("One comparison, group vs 400 alike, rejected at a nominal 5%:")
    for name, scale, weights in (("1–5", LIKERT, SKEWED_5), ("0–10", ELEVEN, SKEWED_11)):
        for size in (5, 10, 20):
            welch, rank = per_comparison(rng, scale, weights, size, args.runs)
            print(f"  {name} scale, n = {size:2d}: Welch {100 * welch:4.1f}%   rank test {100 * rank:4.1f}%")
    with_finding = sum(null_report(rng) for _ in range(args.reports))
    print(
        f"Null reports with any finding: {with_finding} of {args.reports} "
        f"({100 * with_finding / args.reports:.1f}%)"
    )
    rest = [np.bincount(rng.choice(5, 300, p=SKEWED_5), minlength=5)]
    identical = rank_test([[0, 0, 5, 0, 0]], rest).p_value
    print(f"Five answers of 3 against 300 spread-out answers: p = {identical:.3f}")
    print("cNPS 95% interval coverage (promoters, passives, detractors):")
    for true in ((0.35, 0.35, 0.30), (0.6, 0.3, 0.1), (0.8, 0.15, 0.05)):
        for n in (5, 13, 30, 100):
            plain, adjusted = nps_coverage(rng, n, args.runs, true)
            print(
                f"  {true} n = {n:3d}: plain Wald {100 * plain:.1f}%, one of each added {100 * adjusted:.1f}%"
            )


if __name__ == "__main__":
    main()
