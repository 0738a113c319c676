"""Small-group suppression: nothing is shown about fewer than REPORT_MIN_GROUP_SIZE responses.

A group under the threshold is hidden. If the hidden groups of one table add up to fewer than
the threshold, the smallest shown groups are hidden too until they do: otherwise subtracting
the shown groups from the total would give the small group away (complementary suppression).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

from flask import current_app


def min_group_size() -> int:
    """The threshold from the settings (never below 1)."""
    return max(int(current_app.config["REPORT_MIN_GROUP_SIZE"]), 1)


def too_small(n: int, threshold: int) -> bool:
    """A count that must not be shown on its own: between 1 and threshold - 1."""
    return 0 < n < threshold


def hidden_keys(
    counts: Mapping[Hashable, int], threshold: int, also: Iterable[Hashable] = ()
) -> set[Hashable]:
    """The groups of one table to hide: the small ones, `also`, and complements that protect them."""
    hidden = {key for key, n in counts.items() if too_small(n, threshold)} | set(also)
    shown = sorted((n, str(key), key) for key, n in counts.items() if key not in hidden and n > 0)
    while hidden and too_small(sum(counts.get(key, 0) for key in hidden), threshold) and shown:
        hidden.add(shown.pop(0)[2])
    return hidden


def safe_difference(broader: int, narrower: int, threshold: int) -> bool:
    """Whether a view may be shown beside a broader one: what the two differ by is 0 or big enough."""
    return not too_small(broader - narrower, threshold)
