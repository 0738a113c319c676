"""Findings: plain-language statements, ranked by effect size, each with its numbers.

- Groups significantly below the rest of the organisation on an item: Welch's t-test, two-sided,
  Benjamini–Hochberg over every comparison of the report, effect size |d| of at least 0.2.
- Systematic perception gaps: the mean candidate-minus-recruiter difference of a group on a
  mirrored pair, one-sample t-test against 0 with the same correction, at least half a point.
- Recurring themes in `improve` answers and in debrief process issues, per stage.
Only groups shown on the page (never a suppressed one) take part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..questions import SCALE_PAIRS
from . import queries
from .stats import Comparison, benjamini_hochberg, one_sample, welch
from .themes import top_phrases

MIN_EFFECT_SIZE = 0.2
MIN_GAP = 0.5
SHORT_LABELS = {
    "nps": "would recommend applying",
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


@dataclass
class Finding:
    """One statement with the numbers behind it."""

    kind: str  # "below", "gap", "theme"
    dimension: str
    group: str
    item: str
    text: str
    effect_size: float = 0.0
    numbers: dict[str, Any] = field(default_factory=dict)


def short_label(item: Any) -> str:
    """A few words naming an item in a finding: the default set's own, else the question itself."""
    if item.key in SHORT_LABELS:
        return SHORT_LABELS[item.key]
    return item.text if len(item.text) <= 60 else item.text[:57].rstrip() + "…"


def p_text(p_value: float) -> str:
    """A p-value as people read it."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def build_findings(report: Any, known_names: list[str]) -> list[Finding]:
    """Every finding of a report: significant ones by effect size, then themes."""
    significant = below_organisation(report) + systematic_gaps(report)
    significant.sort(key=lambda finding: -abs(finding.effect_size))
    return significant + themes(report, known_names)


def _keep_significant(candidates: list[tuple[Comparison, Any]]) -> list[tuple[Comparison, Any]]:
    flags = benjamini_hochberg([comparison.p_value for comparison, _ in candidates])
    return [pair for pair, keep in zip(candidates, flags, strict=True) if keep]


def below_organisation(report: Any) -> list[Finding]:
    """Groups whose mean on an item is significantly below the rest of the organisation."""
    candidates = []
    for breakdown in report.breakdowns:
        for group in breakdown.groups:
            if group.hidden:
                continue
            for question in report.numeric_items:
                if question.key in group.hidden_items:
                    continue
                mine = group.items[question.key]
                rest = report.overall.items[question.key].minus(mine)
                comparison = welch(mine, rest)
                if comparison is not None:
                    candidates.append((comparison, (breakdown.dimension, group, question, mine, rest)))
    findings = []
    for comparison, (dimension, group, question, mine, rest) in _keep_significant(candidates):
        if comparison.difference >= 0 or abs(comparison.effect_size) < MIN_EFFECT_SIZE:
            continue
        text = (
            f"{dimension.label} {group.label}: “{short_label(question)}” averages {mine.mean:.1f} "
            f"against {rest.mean:.1f} across the rest of the organisation (n = {mine.n}; "
            f"difference significant at 95%, {p_text(comparison.p_value)}, d = {comparison.effect_size:.2f})."
        )
        numbers = {
            "mean": round(mine.mean, 3),
            "n": mine.n,
            "rest_mean": round(rest.mean, 3),
            "rest_n": rest.n,
            "p_value": comparison.p_value,
            "effect_size": round(comparison.effect_size, 3),
        }
        findings.append(
            Finding(
                "below", dimension.label, group.label, question.key, text, comparison.effect_size, numbers
            )
        )
    return findings


def systematic_gaps(report: Any) -> list[Finding]:
    """Groups where candidates and recruiters systematically disagree on a mirrored pair."""
    candidates = []
    for name, groups in report.gaps.items():
        dimension = queries.DIMENSIONS_BY_NAME[name]
        for group in groups:
            if group.hidden:
                continue
            for pair in SCALE_PAIRS:
                gap = group.gaps[pair.survey_key]
                comparison = one_sample(gap) if gap.n >= report.threshold else None
                if comparison is not None:
                    candidates.append((comparison, (dimension, group, pair, gap)))
    findings = []
    for comparison, (dimension, group, pair, gap) in _keep_significant(candidates):
        if abs(gap.mean) < MIN_GAP:
            continue
        verb = "over-read" if gap.mean < 0 else "under-read"
        direction = "lower" if gap.mean < 0 else "higher"
        text = (
            f"{dimension.label} {group.label}: recruiters {verb} “{pair.label.lower()}” — candidates rate it "
            f"{abs(gap.mean):.1f} points {direction} than the debrief notes (n = {gap.n} pairs; "
            f"{group.flagged[pair.survey_key]} gaps of 2 or more; significant at 95%, "
            f"{p_text(comparison.p_value)})."
        )
        numbers = {
            "mean_gap": round(gap.mean, 3),
            "n": gap.n,
            "flagged": group.flagged[pair.survey_key],
            "p_value": comparison.p_value,
            "effect_size": round(comparison.effect_size, 3),
        }
        findings.append(
            Finding(
                "gap", dimension.label, group.label, pair.survey_key, text, comparison.effect_size, numbers
            )
        )
    return findings


def themes(report: Any, known_names: list[str]) -> list[Finding]:
    """Most frequent phrases in `improve` answers and debrief process issues, per stage shown."""
    stage = queries.DIMENSIONS_BY_NAME["stage"]
    hidden = report.breakdown("stage").hidden_keys
    issues = queries.process_issue_texts(report.filters)
    debriefs: dict[Any, int] = {}
    for key, _, count in issues:
        debriefs[key] = debriefs.get(key, 0) + count
    small = {key for key, n in debriefs.items() if n < report.threshold}
    sources = (
        ("improve", "candidates ask us to improve", queries.improve_texts(report.filters, stage), hidden),
        ("process_issues", "debrief calls mention", issues, small | hidden),
    )
    findings = []
    for item, wording, rows, excluded in sources:
        by_group: dict[Any, list[tuple[str, int]]] = {}
        for key, text, count in rows:
            if key not in excluded and text:
                by_group.setdefault(key, []).append((text, count))
        for key in sorted(by_group, key=str):
            top = top_phrases(by_group[key], report.threshold, known_names=known_names)
            if top:
                quoted = ", ".join(f"“{phrase}” ({n})" for phrase, n in top)
                text = f"Stage {key}: {wording}: {quoted}."
                findings.append(Finding("theme", "Stage", str(key), item, text, 0.0, {"phrases": dict(top)}))
    return findings
