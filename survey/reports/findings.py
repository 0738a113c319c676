"""Findings: one statement per group that differs, with the numbers that decided it.

How a finding is decided (docs/reports.md, "What a finding means", says it for HR):

- Every group shown on the page is compared on every scale item with a reference by a rank test
  on the per-value answer counts (Mann–Whitney U with ties, stratified by van Elteren's method):
  a department with the rest of the view within each stage, a stage with the rest within each
  department, and a position, hiring manager or recruiter with everyone else *in the same
  department and stage*, so nobody inherits their department's or stage's effect.
- A comparison takes part only when both the group and its reference hold at least
  FINDINGS_MIN_RESPONSES answers on the item (apart from, and above, the privacy threshold).
- The comparisons of departments and stages are one family, those of positions, hiring managers
  and recruiters another, perception gaps a third: each family's p-values are adjusted together
  by Benjamini–Hochberg and multiplied by the number of families (Bonferroni across them), and an
  item counts when its q ≤ 5% and its effect (Cliff's δ) is at least MIN_EFFECT_SIZE. Keeping
  people apart means the many real department and stage differences cannot loosen the bar for
  naming a person; the multiplication keeps the chance of any finding on data without real
  differences at or under 5% for the whole report.
- A group with such items is one finding, listing them with the difference in scale points, its
  95% interval, δ and q. Below the reference is a weakness, above it a strength.
- Systematic perception gaps: per stage and per recruiter, the sign test of candidate-minus-
  recruiter gaps on each mirrored pair (the third family), mean gap of at least half a point.
- Recurring themes in `improve` answers and debrief process issues, per stage (themes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from ..questions import SCALE_PAIRS
from ..themes import cluster_themes, redact
from . import queries
from .stats import (
    ALPHA,
    Difference,
    RankTest,
    Summary,
    q_values,
    rank_tests,
    sign_test,
    stratified_differences,
)

MIN_EFFECT_SIZE = 0.15  # Cliff's δ below this is negligible by the usual convention
MIN_GAP = 0.5
SHORT_LABELS = {
    "nps": "would recommend applying (0–10)",
    "on_time": "well organised and on time",
    "prepared": "interviewers were prepared",
    "role_clarity": "understands the role",
    "fair": "treated fairly and with respect",
    "next_steps": "knows the next steps",
    "culture_picture": "realistic picture of the team",
    "impression": "impression of the company",
    "interest": "interest in the role",
    "self_assessment": "could answer the questions",
}
# Within what each grouping is compared: the attributes whose effect it must not inherit.
COMPARED_WITHIN = {
    "department": ("stage",),
    "stage": ("department",),
    "position": ("department", "stage"),
    "hiring_manager": ("department", "stage"),
    "recruiter": ("department", "stage"),
}
# Which family each grouping's comparisons are adjusted in.
FAMILY_OF = {
    "department": "organisation",
    "stage": "organisation",
    "position": "people",
    "hiring_manager": "people",
    "recruiter": "people",
}
GROUPING_FILTERS = ("department", "position_id", "stage", "hiring_manager", "recruiter_id")

if TYPE_CHECKING:  # numpy is imported where arrays are made: only a reports page needs it
    import numpy as np


@dataclass
class ItemResult:
    """One item of a group against its reference."""

    item: str
    label: str
    test: RankTest
    difference: Difference
    q_value: float = 1.0

    @property
    def p_value(self) -> float:
        """The comparison's unadjusted p-value."""
        return self.test.p_value

    def as_numbers(self) -> dict[str, Any]:
        """The numbers of this comparison, typed, for exports."""
        d = self.difference
        return {
            "item": self.item,
            "n": self.test.n,
            "reference_n": self.test.reference_n,
            "mean": round(d.group_mean, 3),
            "reference_mean": round(d.reference_mean, 3),
            "difference": round(d.estimate, 3),
            "ci_low": None if d.low is None else round(d.low, 3),
            "ci_high": None if d.high is None else round(d.high, 3),
            "effect_size": round(self.test.effect_size, 3),
            "p_value": self.test.p_value,
            "q_value": self.q_value,
        }


@dataclass
class Finding:
    """One statement about one group, with the items and numbers behind it."""

    kind: str  # "weakness", "strength", "mixed", "gap", "theme"
    dimension: str
    group: str
    text: str
    reference: str = ""
    effect_size: float = 0.0
    q_value: float | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    count: int | None = None

    @property
    def item(self) -> str:
        """The items concerned, comma-separated (exports)."""
        return ", ".join(entry["item"] for entry in self.items)


def short_label(item: Any) -> str:
    """A few words naming an item in a finding: the default set's own, else the question itself."""
    if item.key in SHORT_LABELS:
        return SHORT_LABELS[item.key]
    return item.text if len(item.text) <= 60 else item.text[:57].rstrip() + "…"


@dataclass
class Family:
    """The comparisons a page's findings were adjusted over, to state on the page."""

    comparisons: int = 0
    groups: dict[str, int] = field(default_factory=dict)  # dimension label → groups tested
    sizes: dict[str, int] = field(default_factory=dict)  # "organisation" / "people" → comparisons
    gap_comparisons: int = 0
    min_responses: int = 20


def q_text(q_value: float) -> str:
    """An adjusted p-value as people read it (tiny values are not meaningful digits)."""
    return "q < 0.001" if q_value < 0.001 else f"q = {q_value:.3f}"


# --- The pure core: counts in, comparisons out --------------------------------------------------


def compare_within_strata(
    table: np.ndarray, values: Sequence[int], eligible: Sequence[bool], min_responses: int
) -> list[tuple[int, RankTest, Difference]]:
    """Each eligible group against everyone else in the same strata.

    `table[g, s, v]` counts answers of value v by group g in stratum s. Only strata where both the
    group and the others answered take part; a group is tested when both sides there hold at least
    `min_responses` answers.
    """
    chosen, others = _testable(table, eligible, min_responses)
    return _tested(chosen, *_batch_tests(values, table[chosen], others[chosen])) if chosen else []


def _testable(
    table: np.ndarray, eligible: Sequence[bool], min_responses: int
) -> tuple[list[int], np.ndarray]:
    """The groups of `table` to test (eligible, with enough answers on both sides in the strata
    they share with the others), and everyone else's counts per group."""
    others = table.sum(axis=0)[None, :, :] - table
    shared = (table.sum(axis=2) > 0) & (others.sum(axis=2) > 0)
    enough = ((table.sum(axis=2) * shared).sum(axis=1) >= min_responses) & (
        (others.sum(axis=2) * shared).sum(axis=1) >= min_responses
    )
    return [index for index in range(table.shape[0]) if eligible[index] and enough[index]], others


def _batch_tests(values: Sequence[int], groups: np.ndarray, others: np.ndarray) -> tuple[list, list]:
    """The rank tests and differences of a batch of groups against their references."""
    return rank_tests(groups, others), stratified_differences(values, groups, others)


def _tested(chosen: list[int], tests: list, differences: list) -> list[tuple[int, RankTest, Difference]]:
    return [
        (index, test, difference)
        for index, test, difference in zip(chosen, tests, differences, strict=True)
        if test is not None and difference is not None
    ]


def compare_items_within_strata(
    tables: dict[str, np.ndarray],
    items: Sequence[Any],
    eligible: dict[str, Sequence[bool]],
    min_responses: int,
) -> dict[str, list[tuple[int, RankTest, Difference]]]:
    """`compare_within_strata` for several items of one grouping (`tables[key]`: groups × strata ×
    values, the same groups and strata for every item).

    The items with the same answer values are tested in one batch: each group's test is computed
    from its own rows exactly as alone, and a page's fifty comparisons of small arrays cost ten
    rounds of array operations instead of fifty.
    """
    import numpy as np

    picked = {}
    by_values: dict[tuple, list[str]] = {}
    for item in items:
        chosen, others = _testable(tables[item.key], eligible[item.key], min_responses)
        if chosen:
            picked[item.key] = (chosen, tables[item.key][chosen], others[chosen])
            by_values.setdefault(tuple(item.values), []).append(item.key)
    results: dict[str, list[tuple[int, RankTest, Difference]]] = {item.key: [] for item in items}
    for values, keys in by_values.items():
        tests, differences = _batch_tests(
            values,
            np.concatenate([picked[key][1] for key in keys]),
            np.concatenate([picked[key][2] for key in keys]),
        )
        start = 0
        for key in keys:
            end = start + len(picked[key][0])
            results[key] = _tested(picked[key][0], tests[start:end], differences[start:end])
            start = end
    return results


def adjust(families: dict[str, list[Any]]) -> None:
    """Set each result's q: Benjamini–Hochberg within its family, times the number of families
    tested (Bonferroni across them), so that on data with no real difference anywhere a report
    shows any finding at all in at most 5% of cases, however many families it holds."""
    tested = [results for results in families.values() if results]
    for results in tested:
        for result, q_value in zip(results, q_values([r.p_value for r in results]), strict=True):
            result.q_value = min(1.0, q_value * len(tested))


def counts(result: ItemResult, min_effect: float = MIN_EFFECT_SIZE) -> bool:
    """Whether an adjusted comparison counts as a finding: q ≤ 5% and an effect that matters."""
    return result.q_value <= ALPHA and abs(result.test.effect_size) >= min_effect


# --- From the report to findings ----------------------------------------------------------------


def build_findings(report: Any, known_names: list[str]) -> list[Finding]:
    """Every finding of a report: group findings by effect size, gaps, then themes."""
    min_responses = max(int(current_app.config["FINDINGS_MIN_RESPONSES"]), 1)
    report.family = Family(min_responses=min_responses)
    counts = report.cell_counts
    if counts is None:
        counts = queries.cell_counts(report.filters, report.numeric_items)
    comparisons = _all_comparisons(report, counts, min_responses)
    gap_tests = _gap_tests(report, min_responses)
    families = {family: [] for family in ("organisation", "people")}
    for breakdown, _, result in comparisons:
        families[FAMILY_OF[breakdown.dimension.name]].append(result)
    families["gaps"] = [result for _, _, result in gap_tests]
    adjust(families)
    report.family.comparisons = len(comparisons)
    report.family.gap_comparisons = len(gap_tests)
    report.family.sizes = {name: len(results) for name, results in families.items()}
    groups = group_findings(report, comparisons)
    groups.sort(key=lambda finding: -abs(finding.effect_size))
    return groups + systematic_gaps(gap_tests) + themes(report, known_names)


def _tables(counts: queries.CellCounts, group_of: list[Any], stratum_of: list[Any], groups: list[Any]):
    """Every item's counts summed into a groups × strata × values array, in one pass over the cells."""
    import numpy as np

    strata = {key: index for index, key in enumerate(dict.fromkeys(stratum_of))}
    group_index = {key: index for index, key in enumerate(groups)}
    rows = np.array([i for i, key in enumerate(group_of) if key in group_index], dtype=np.intp)
    by_group = np.array([group_index[group_of[i]] for i in rows], dtype=np.intp)
    by_stratum = np.array([strata[stratum_of[i]] for i in rows], dtype=np.intp)
    items = list(counts.counts)
    if not items:
        return {}
    every = np.concatenate([counts.counts[item] for item in items], axis=1)
    table = np.zeros((len(groups), len(strata), every.shape[1]), dtype=np.int64)
    if len(rows):
        np.add.at(table, (by_group, by_stratum), every[rows])
    tables, start = {}, 0
    for item in items:
        width = counts.counts[item].shape[1]
        tables[item] = table[:, :, start : start + width]
        start += width
    return tables


def _all_comparisons(
    report: Any, counts: queries.CellCounts, min_responses: int
) -> list[tuple[Any, Any, ItemResult]]:
    comparisons = []
    for breakdown in report.breakdowns:
        dimension = breakdown.dimension
        within = [queries.DIMENSIONS_BY_NAME[name].key for name in COMPARED_WITHIN[dimension.name]]
        group_of = [cell[dimension.key] for cell in counts.cells]
        stratum_of = [tuple(cell[key] for key in within) for cell in counts.cells]
        groups = breakdown.groups
        tables = _tables(counts, group_of, stratum_of, [g.key for g in groups])
        tested_groups = set()
        # Every numeric item of every published set (nps and 1–5 scales); choice items have no order
        # for a rank test and text items no numbers.
        eligible = {
            question.key: [not g.hidden and question.key not in g.hidden_items for g in groups]
            for question in report.numeric_items
        }
        tested = compare_items_within_strata(tables, report.numeric_items, eligible, min_responses)
        for question in report.numeric_items:
            for index, test, difference in tested[question.key]:
                result = ItemResult(question.key, short_label(question), test, difference)
                comparisons.append((breakdown, groups[index], result))
                tested_groups.add(groups[index].key)
        if tested_groups:
            report.family.groups[dimension.label] = len(tested_groups)
    return comparisons


def reference_text(report: Any, dimension_name: str) -> str:
    """What a group of this grouping is compared with, in words, honest about the filters."""
    if COMPARED_WITHIN[dimension_name] == ("department", "stage"):
        return "others in the same department and stage"
    active = {name: value for name, value in report.filters.active().items() if name in GROUPING_FILTERS}
    within = "each " + COMPARED_WITHIN[dimension_name][0]
    if not active:
        return f"the rest of the organisation (compared within {within})"
    scope = ", ".join(
        f"{name.replace('_id', '').replace('_', ' ')} {value}" for name, value in active.items()
    )
    return f"the rest of this view — {scope} — (compared within {within})"


def _item_text(result: ItemResult) -> str:
    d = result.difference
    interval = "" if d.low is None else f" (95% CI {d.low:+.2f} to {d.high:+.2f})"
    return (
        f"“{result.label}” {d.estimate:+.2f} points{interval}, δ = {result.test.effect_size:+.2f}, "
        f"{q_text(result.q_value)}"
    )


def group_findings(report: Any, comparisons: list[tuple[Any, Any, ItemResult]]) -> list[Finding]:
    """One finding per group with items significantly above or below its reference (q already set)."""
    by_group: dict[tuple[str, Any], list[ItemResult]] = {}
    owners = {}
    for breakdown, group, result in comparisons:
        if counts(result):
            by_group.setdefault((breakdown.dimension.name, group.key), []).append(result)
            owners[(breakdown.dimension.name, group.key)] = (breakdown.dimension, group)
    findings = []
    for key, results in by_group.items():
        dimension, group = owners[key]
        results.sort(key=lambda r: -abs(r.test.effect_size))
        below = [r for r in results if r.difference.estimate < 0]
        kind = "weakness" if len(below) == len(results) else "strength" if not below else "mixed"
        direction = {"weakness": "below", "strength": "above", "mixed": "differs from"}[kind]
        reference = reference_text(report, dimension.name)
        n = max(r.test.n for r in results)
        text = (
            f"{dimension.label} {group.label} ({kind}): {direction} {reference} on {len(results)} "
            f"item{'s' if len(results) > 1 else ''} (n = {n}): "
            + "; ".join(_item_text(r) for r in results)
            + "."
        )
        findings.append(
            Finding(
                kind,
                dimension.label,
                group.label,
                text,
                reference,
                effect_size=results[0].test.effect_size,
                q_value=min(r.q_value for r in results),
                items=[r.as_numbers() | {"label": r.label} for r in results],
                count=n,
            )
        )
    return findings


@dataclass
class GapResult:
    """One mirrored pair of one group: mean gap, its interval, the sign test."""

    pair: Any
    gap: Summary
    lower: int
    higher: int
    p_value: float
    q_value: float = 1.0


def _gap_tests(report: Any, min_responses: int) -> list[tuple[str, Any, GapResult]]:
    """The sign test of every mirrored pair of every gap group shown with enough pairs."""
    tested = []
    for name, groups in report.gaps.items():
        for group in groups:
            if group.hidden:
                continue
            for pair in SCALE_PAIRS:
                key = pair.survey_key
                gap = group.gaps[key]
                test = sign_test(group.lower.get(key, 0), group.higher.get(key, 0))
                if gap.n >= min_responses and test is not None:
                    tested.append((name, group, GapResult(pair, gap, test.lower, test.higher, test.p_value)))
    return tested


def systematic_gaps(tested: list[tuple[str, Any, GapResult]]) -> list[Finding]:
    """Groups where candidates and recruiters systematically disagree on a mirrored pair (q set)."""
    by_group: dict[tuple[str, Any], list[GapResult]] = {}
    owners = {}
    for name, group, result in tested:
        if result.q_value <= ALPHA and abs(result.gap.mean) >= MIN_GAP:
            by_group.setdefault((name, group.key), []).append(result)
            owners[(name, group.key)] = group
    return [_gap_finding(name, owners[(name, key)], results) for (name, key), results in by_group.items()]


def _gap_finding(name: str, group: Any, results: list[GapResult]) -> Finding:
    dimension = queries.DIMENSIONS_BY_NAME[name]
    parts, items = [], []
    for r in results:
        verb = "over-read" if r.gap.mean < 0 else "under-read"
        margin = r.gap.margin or 0.0
        parts.append(
            f"recruiters {verb} “{r.pair.label.lower()}”: candidates rate it {r.gap.mean:+.2f} points against"
            f" the debrief (95% CI {r.gap.mean - margin:+.2f} to {r.gap.mean + margin:+.2f}; "
            f"{r.lower} of {r.gap.n} pairs lower, {r.higher} higher; {q_text(r.q_value)})"
        )
        items.append(
            {
                "item": r.pair.survey_key,
                "label": r.pair.label,
                "n": r.gap.n,
                "mean_gap": round(r.gap.mean, 3),
                "ci_low": round(r.gap.mean - margin, 3),
                "ci_high": round(r.gap.mean + margin, 3),
                "lower": r.lower,
                "higher": r.higher,
                "flagged": group.flagged[r.pair.survey_key],
                "p_value": r.p_value,
                "q_value": r.q_value,
            }
        )
    text = f"{dimension.label} {group.label}: " + "; ".join(parts) + "."
    return Finding(
        "gap",
        dimension.label,
        group.label,
        text,
        "the debrief notes",
        effect_size=max(abs(r.gap.mean) for r in results),
        q_value=min(r.q_value for r in results),
        items=items,
        count=max(r.gap.n for r in results),
    )


# --- Themes ---------------------------------------------------------------------------------------

QUOTE_CHARS = 200


def _quotes(
    entries: list[tuple[str, int, int]], members: list[int], threshold: int, names: list[str], label: str
) -> list[str]:
    """Up to two answers of a theme other than its label, names masked: a named answer (hr can read
    it on its interview page anyway) or a wording at least `threshold` answers share; never one
    anonymous answer."""
    usable = [i for i in members if _quotable(entries[i], threshold)]
    usable.sort(key=lambda i: -entries[i][1])
    said = _plain(label)
    quotes = []
    for index in usable:
        quote = redact(entries[index][0], names)
        if _plain(quote) == said:
            continue  # the label already says it
        quotes.append(quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1].rstrip() + "…")
        if len(quotes) == 2:
            break
    return quotes


def _quotable(entry: tuple[str, int, int], threshold: int) -> bool:
    """Whether an answer may be shown: named, or a wording at least `threshold` answers share."""
    _, count, named = entry
    return named > 0 or count >= threshold


def _plain(text: str) -> str:
    return text.strip().rstrip(".!?").strip().lower()


def themes(report: Any, known_names: list[str]) -> list[Finding]:
    """Recurring themes in `improve` answers and debrief process issues, per stage shown."""
    hidden = report.breakdown("stage").hidden_keys
    # Debrief notes are staff's own words: every one of them may be quoted (names masked).
    issues = [(key, text, count, count) for key, text, count in queries.process_issue_texts(report.filters)]
    debriefs: dict[Any, int] = {}
    for key, _, count, _ in issues:
        debriefs[key] = debriefs.get(key, 0) + count
    small = {key for key, n in debriefs.items() if n < report.threshold}
    sources = (
        (
            "improve",
            "candidates ask us to improve",
            "answers",
            queries.improve_texts(report.filters),
            hidden,
        ),
        ("process_issues", "debrief calls mention", "debriefs", issues, small | hidden),
    )
    findings = []
    for item, wording, unit, rows, excluded in sources:
        by_group: dict[Any, list[tuple[str, int, int]]] = {}
        for key, text, count, named in rows:
            if key not in excluded and text:
                by_group.setdefault(key, []).append((text, count, named))
        for key in sorted(by_group, key=str):
            entries = by_group[key]
            quotable = [_quotable(entry, report.threshold) for entry in entries]
            texts = [(text, count) for text, count, _ in entries]
            for theme in cluster_themes(texts, report.threshold, known_names, quotable=quotable):
                quotes = _quotes(entries, theme.members, report.threshold, known_names, theme.label)
                text = f"Stage {key}: {wording}: “{theme.label}” ({theme.count} {unit})."
                findings.append(
                    Finding(
                        "theme",
                        "Stage",
                        str(key),
                        text,
                        wording,
                        items=[{"item": item, "theme": theme.label, "unit": unit, "phrases": theme.phrases}],
                        quotes=quotes,
                        count=theme.count,
                    )
                )
    return findings
