"""Statistics from sufficient statistics (n, sum, sum of squares) computed in SQL.

Means carry a 95% confidence interval from Student's t. Groups are compared with the
rest of the organisation by Welch's unequal-variances t-test (two-sided), and the p-values
of one report's comparisons are corrected for multiple testing by Benjamini–Hochberg, so a
report with hundreds of comparisons does not "find" chance differences. Effect size is
Cohen's d (difference of means over the pooled standard deviation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE


@dataclass(frozen=True)
class Summary:
    """n, sum and sum of squares of one item in one group, with what follows from them."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float | None:
        """The mean, or None with no answers."""
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float:
        """Sample variance (0 below two answers)."""
        if self.n < 2:
            return 0.0
        return max(self.squares - self.total * self.total / self.n, 0.0) / (self.n - 1)

    @cached_property
    def margin(self) -> float | None:
        """Half-width of the 95% confidence interval of the mean."""
        if self.n < 2:
            return None
        from scipy.special import stdtrit  # imported when first needed: it costs every process ~0.4 s

        quantile = stdtrit(self.n - 1, 1 - ALPHA / 2)
        return float(quantile * math.sqrt(self.variance / self.n))

    def minus(self, other: Summary) -> Summary:
        """The rest of a population once a group is taken out."""
        return Summary(self.n - other.n, self.total - other.total, self.squares - other.squares)


@dataclass(frozen=True)
class Comparison:
    """A group against the rest: difference of means, Welch's t-test p-value, Cohen's d."""

    difference: float
    p_value: float
    effect_size: float


def two_sided_p(t_value: float, df: float) -> float:
    """Two-sided p-value of Student's t with df degrees of freedom."""
    from scipy.special import stdtr  # imported when first needed (see above)

    return float(2 * stdtr(df, -abs(t_value)))


def welch(group: Summary, rest: Summary) -> Comparison | None:
    """Welch's t-test of group against rest; None when either side has fewer than two answers."""
    if group.n < 2 or rest.n < 2:
        return None
    difference = group.mean - rest.mean
    se_squared = group.variance / group.n + rest.variance / rest.n
    pooled_sd = math.sqrt(
        ((group.n - 1) * group.variance + (rest.n - 1) * rest.variance) / (group.n + rest.n - 2)
    )
    if se_squared == 0 or pooled_sd == 0:
        return None
    df = se_squared**2 / (
        (group.variance / group.n) ** 2 / (group.n - 1) + (rest.variance / rest.n) ** 2 / (rest.n - 1)
    )
    t_value = difference / math.sqrt(se_squared)
    p_value = two_sided_p(t_value, df)
    return Comparison(difference, p_value, difference / pooled_sd)


def one_sample(summary: Summary) -> Comparison | None:
    """One-sample t-test of a mean against 0 (used for candidate-minus-recruiter gaps)."""
    if summary.n < 2 or summary.variance == 0:
        return None
    sd = math.sqrt(summary.variance)
    t_value = summary.mean / (sd / math.sqrt(summary.n))
    p_value = two_sided_p(t_value, summary.n - 1)
    return Comparison(summary.mean, p_value, summary.mean / sd)


def benjamini_hochberg(p_values: list[float], rate: float = ALPHA) -> list[bool]:
    """Which of these p-values stay significant with the false discovery rate held at `rate`."""
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    cutoff = -1
    for rank, index in enumerate(order, start=1):
        if p_values[index] <= rate * rank / len(p_values):
            cutoff = rank
    significant = [False] * len(p_values)
    for rank, index in enumerate(order, start=1):
        significant[index] = rank <= cutoff
    return significant


def nps_score(promoters: int, detractors: int, answered: int) -> float | None:
    """cNPS: percentage of promoters minus percentage of detractors."""
    if not answered:
        return None
    return 100 * (promoters - detractors) / answered
