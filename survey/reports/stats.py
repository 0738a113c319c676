"""Statistics of the HR reports, as pure functions over answer counts.

Every function here takes counts: how many people gave each answer value (a vector over the
scale's values), per group and per stratum. How those counts are stored and summed is the
queries' business; nothing here touches the database.

- Means carry a 95% confidence interval from Student's t (`Summary`).
- A group is compared with a reference by the Mann–Whitney U test with the tie correction,
  stratified (van Elteren) when the comparison is made within strata such as department × stage.
  A rank test suits 1–5 and 0–10 answers: it needs no normality and no standard error of the
  group, so five identical answers are tested like any others.
- The difference in scale points and its interval come from the least-squares model with one
  level per stratum and one group effect (what `statsmodels` OLS gives on the raw rows).
- The effect size is the rank-biserial correlation (Cliff's δ): the chance that a group member
  answers higher minus the chance they answer lower than the reference, from −1 to 1.
- p-values of one family of comparisons are adjusted by Benjamini–Hochberg (q-values, scipy).
- Systematic perception gaps use the sign test (exact binomial, scipy).
- cNPS carries an interval too (`nps_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy and scipy.special are imported inside the functions that need them: importing them costs
# every process (web worker, send-due run) about 0.6 s of CPU at start, and only a reports page
# uses them.

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
Z_95 = NormalDist().inv_cdf(1 - ALPHA / 2)


@lru_cache(maxsize=4096)
def t_quantile(df: int) -> float:
    """Student's t 97.5% quantile; cached, since a page asks for the same few hundred dfs."""
    from scipy.special import stdtrit

    return float(stdtrit(df, 1 - ALPHA / 2))


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
        return t_quantile(self.n - 1) * math.sqrt(self.variance / self.n)

    def minus(self, other: Summary) -> Summary:
        """The rest of a population once a group is taken out."""
        return Summary(self.n - other.n, self.total - other.total, self.squares - other.squares)


# --- Rank test from counts ---------------------------------------------------------------------


@dataclass(frozen=True)
class RankTest:
    """A group against a reference: Mann–Whitney U (stratified when several strata), from counts."""

    u: float  # U of the group, summed over strata
    z: float
    p_value: float
    effect_size: float  # rank-biserial correlation (Cliff's δ), −1 … 1
    n: int  # group answers that took part (in strata with a reference)
    reference_n: int


def _shared(groups: np.ndarray, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """groups × strata × values counts with every stratum lacking either side zeroed on both."""
    shared = (groups.sum(axis=2) > 0) & (references.sum(axis=2) > 0)
    return groups * shared[:, :, None], references * shared[:, :, None]


def _as_batch(counts: Sequence[Sequence[int]]) -> np.ndarray:
    """One group's strata × values counts as a batch of one."""
    import numpy as np

    array = np.asarray(counts, dtype=float)
    return array.reshape(1, len(counts), -1)


def rank_tests(groups: np.ndarray, references: np.ndarray) -> list[RankTest | None]:
    """`rank_test` for many groups at once: arrays of groups × strata × values counts."""
    import numpy as np
    from scipy.special import ndtr

    group, reference = _shared(np.asarray(groups, dtype=float), np.asarray(references, dtype=float))
    n1, n2 = group.sum(axis=2), reference.sum(axis=2)
    together, total = group + reference, n1 + n2
    # Mid-rank of each value in its stratum: everyone below it, plus the middle of its tie block.
    midranks = np.cumsum(together, axis=2) - together + (together + 1) / 2
    u = (group * midranks).sum(axis=2) - n1 * (n1 + 1) / 2
    ties = (together**3 - together).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        tie_term = np.where(total > 1, ties / (total * (total - 1)), 0.0)
    variance = n1 * n2 / 12 * ((total + 1) - tie_term)
    weight = 1 / (total + 1)
    spread = (weight * weight * variance).sum(axis=1)
    shift = (weight * (u - n1 * n2 / 2)).sum(axis=1)
    pairs = (weight * n1 * n2).sum(axis=1)
    # Each group's own figures, reduced over its strata in one pass (a row's sums are the same
    # whichever rows share its array); Python then only assembles the results.
    effects = ((weight * u).sum(axis=1) / np.where(pairs == 0, 1, pairs)).tolist()
    u_sums, n1_sums, n2_sums = u.sum(axis=1).tolist(), n1.sum(axis=1).tolist(), n2.sum(axis=1).tolist()
    results: list[RankTest | None] = []
    for index, (pair, spread_, shift_) in enumerate(
        zip(pairs.tolist(), spread.tolist(), shift.tolist(), strict=True)
    ):
        if pair == 0:
            results.append(None)  # no stratum holds both sides
            continue
        # Every answer tied everywhere: nothing tells the group from the reference.
        z = shift_ / math.sqrt(spread_) if spread_ > 0 else 0.0
        p_value = min(float(2 * ndtr(-abs(z))), 1.0) if spread_ > 0 else 1.0
        effect = 2 * effects[index] - 1
        results.append(RankTest(u_sums[index], z, p_value, effect, int(n1_sums[index]), int(n2_sums[index])))
    return results


def rank_test(groups: Sequence[Sequence[int]], references: Sequence[Sequence[int]]) -> RankTest | None:
    """Mann–Whitney U of a group against a reference within each stratum, combined (van Elteren).

    `groups[s]` and `references[s]` are the counts per answer value in stratum s. A stratum
    missing either side adds nothing. With one stratum this is the two-sided Mann–Whitney test
    with the tie correction and no continuity correction (scipy's `mannwhitneyu(...,
    use_continuity=False, method="asymptotic")`). Weights 1/(N+1) per stratum are van Elteren's.
    Returns None when no stratum holds both sides.
    """
    return rank_tests(_as_batch(groups), _as_batch(references))[0]


# --- Difference in scale points ----------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """The group's mean minus the reference's, adjusted for strata, with its 95% interval."""

    estimate: float
    low: float | None
    high: float | None
    group_mean: float
    reference_mean: float


def stratified_differences(
    values: Sequence[int], groups: np.ndarray, references: np.ndarray
) -> list[Difference | None]:
    """`stratified_difference` for many groups at once: arrays of groups × strata × values."""
    import numpy as np

    group, reference = _shared(np.asarray(groups, dtype=float), np.asarray(references, dtype=float))
    scale = np.asarray(values, dtype=float)
    n1, n2 = group.sum(axis=2), reference.sum(axis=2)
    sum1, sum2 = group @ scale, reference @ scale
    with np.errstate(divide="ignore", invalid="ignore"):
        mean1 = np.where(n1 > 0, sum1 / n1, 0.0)
        mean2 = np.where(n2 > 0, sum2 / n2, 0.0)
        weight = np.where(n1 + n2 > 0, n1 * n2 / (n1 + n2), 0.0)
    difference = mean1 - mean2
    total_weight = weight.sum(axis=1)
    # Within-side squared deviations (zero in strata left out).
    within = (group @ scale**2 - n1 * mean1**2).sum(axis=1) + (reference @ scale**2 - n2 * mean2**2).sum(
        axis=1
    )
    strata = (weight > 0).sum(axis=1)
    # Each group's own figures, reduced over its strata in one pass (see rank_tests).
    with np.errstate(divide="ignore", invalid="ignore"):
        estimates = (weight * difference).sum(axis=1) / total_weight
        strays = (weight * (difference - estimates[:, None]) ** 2).sum(axis=1)
        group_means = sum1.sum(axis=1) / n1.sum(axis=1)
        reference_means = sum2.sum(axis=1) / n2.sum(axis=1)
    answers = (n1 + n2).sum(axis=1).tolist()
    results: list[Difference | None] = []
    for index, (weight_, estimate, stray, within_) in enumerate(
        zip(total_weight.tolist(), estimates.tolist(), strays.tolist(), within.tolist(), strict=True)
    ):
        if weight_ == 0:
            results.append(None)
            continue
        # Plus how far each stratum's own difference strays from the common one.
        residual = max(within_ + stray, 0.0)
        df = int(answers[index]) - int(strata[index]) - 1
        low = high = None
        if df > 0:
            margin = t_quantile(df) * math.sqrt(residual / df / weight_)
            low, high = estimate - margin, estimate + margin
        results.append(
            Difference(estimate, low, high, float(group_means[index]), float(reference_means[index]))
        )
    return results


def stratified_difference(
    values: Sequence[int], groups: Sequence[Sequence[int]], references: Sequence[Sequence[int]]
) -> Difference | None:
    """Least-squares group effect with one level per stratum: y = stratum + β·in_group.

    β is the average of the within-stratum differences of means weighted by n1·n2/(n1+n2), and its
    standard error uses the residual variance of that model, so it equals the coefficient and
    t-interval statsmodels' OLS gives on the raw answers with stratum dummies (one stratum: the
    equal-variance two-sample t-interval). Only strata holding both sides take part.
    """
    return stratified_differences(values, _as_batch(groups), _as_batch(references))[0]


# --- Multiple comparisons, perception gaps, cNPS -------------------------------------------------


def q_values(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q): a comparison is a finding when q ≤ 5%."""
    import numpy as np

    if not len(p_values):
        return []
    # Imported here: scipy.stats takes seconds to import, and every worker and command loads this
    # module with the app; only a reports page needs it.
    from scipy.stats import false_discovery_control

    return [float(q) for q in false_discovery_control(np.asarray(p_values, dtype=float), method="bh")]


@dataclass(frozen=True)
class SignTest:
    """Whether candidate-minus-recruiter gaps lean one way: the exact sign test."""

    lower: int  # pairs where the candidate answered lower than the recruiter's read
    higher: int
    p_value: float


def sign_test(lower: int, higher: int) -> SignTest | None:
    """Exact two-sided binomial test of lower against higher gaps (ties left out); None if none.

    Unlike a t-test it needs no spread, so gaps that are all −2 are a clear result, not "no result".
    """
    if lower + higher == 0:
        return None
    from scipy.special import bdtr

    # Binomial(n, ½) is symmetric, so the two-sided exact p is twice the smaller tail (scipy's
    # binomtest gives the same; bdtr is its distribution function without the per-call overhead).
    p_value = min(1.0, 2 * float(bdtr(min(lower, higher), lower + higher, 0.5)))
    return SignTest(lower, higher, p_value)


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """Wilson 95% score interval of a proportion, without continuity correction.

    The computation of scipy's `binomtest(successes, trials).proportion_ci(method="wilson")`, step
    for step (so the same floats), without the exact p-value that `binomtest` works out first:
    that cost a report page milliseconds per recruiter row.
    """
    from scipy.special import ndtri

    p = successes / trials
    z = ndtri(0.5 + 0.5 * CONFIDENCE)
    denominator = 2 * (trials + z**2)
    centre = (2 * trials * p + z**2) / denominator
    delta = z / denominator * math.sqrt(4 * trials * p * (1 - p) + z**2)
    low = 0.0 if successes == 0 else centre - delta
    high = 1.0 if successes == trials else centre + delta
    return float(low), float(high)


def nps_score(promoters: int, detractors: int, answered: int) -> float | None:
    """cNPS: percentage of promoters minus percentage of detractors."""
    if not answered:
        return None
    return 100 * (promoters - detractors) / answered


def nps_interval(promoters: int, detractors: int, answered: int) -> tuple[float, float] | None:
    """95% interval of a cNPS, in points, within −100 … 100.

    cNPS is the mean of +1 (promoter), 0 (passive), −1 (detractor), so its variance is
    (P + D − (P − D)²)/n. Like the Agresti–Coull interval for one proportion, the interval is built
    after adding one answer of each kind (centre and spread from n + 3 answers): the plain Wald
    interval covers the true score only 66–89% of the time on 5–13 answers, this one 94–98%
    (`python -m bench.findings_simulation`), and all-alike answers do not get a zero width.
    """
    if not answered:
        return None
    n = answered + 3
    p, d = (promoters + 1) / n, (detractors + 1) / n
    margin = Z_95 * math.sqrt((p + d - (p - d) ** 2) / n)
    return max(100 * (p - d - margin), -100.0), min(100 * (p - d + margin), 100.0)
