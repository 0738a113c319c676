"""Recurring themes in free text: the phrases most often used, stop words removed, no names.

A phrase is two or three consecutive words that neither start nor end with a stop word. It is
counted once per answer, and a theme is reported only when at least REPORT_MIN_GROUP_SIZE
answers use it, so a phrase never points at one person's answer. Known names (staff, hiring
managers) and capitalised words in the middle of a sentence (most likely names) are masked
before phrases are formed, so no phrase names a person.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each even ever every few
    for from further get got had has have having he her here hers herself him himself his how i if
    in into is it its itself just let me more most much must my myself no nor not now of off on
    once only or other our ours ourselves out over own please quite rather really same she should
    so some still such than that the their theirs them themselves then there these they this those
    through to too under until up us very was we were what when where which while who whom why will
    with would yet you your yours yourself yourselves dont didnt doesnt wasnt werent isnt arent
    couldnt wouldnt shouldnt ive im id youre theyre one two like lot bit thing things way
"""
STOP_WORDS = frozenset(STOP_WORDS_TEXT.split())
MASK = "\x00"
WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’-]*")
FIRST_NAME = re.compile(r"\b[A-Z][a-z]+\s+" + MASK)
SENTENCE = re.compile(r"(?<=[.!?\n])(?=\s)")


@lru_cache(maxsize=8)
def _names_pattern(known_names: tuple[str, ...]) -> re.Pattern | None:
    """One case-insensitive pattern for every part of every known name (compiled once per list)."""
    parts = sorted({part for name in known_names for part in name.split() if len(part) > 1}, key=len)
    if not parts:
        return None
    return re.compile(
        r"\b(?:" + "|".join(re.escape(part) for part in reversed(parts)) + r")\b", re.IGNORECASE
    )


def mask_names(text: str, known_names: Iterable[str] = ()) -> str:
    """The text with known names and capitalised mid-sentence words replaced by a mask."""
    pattern = _names_pattern(tuple(known_names))
    if pattern is not None:
        text = pattern.sub(MASK, text)
    masked = "".join(_mask_capitalised(sentence) for sentence in SENTENCE.split(text))
    # "Tom Becker was late": the first name opens the sentence, the masked surname gives it away.
    return FIRST_NAME.sub(MASK + " " + MASK, masked)


def _mask_capitalised(sentence: str) -> str:
    seen_first = False

    def replace(match: re.Match) -> str:
        nonlocal seen_first
        word = match.group()
        first, seen_first = not seen_first, True
        return MASK if not first and word[0].isupper() and word.upper() != word else word

    return WORD.sub(replace, sentence)


def redact(text: str, known_names: Iterable[str] = ()) -> str:
    """Free text safe to export: likely names become "[name]"."""
    return mask_names(text, known_names).replace(MASK, "[name]")


def phrases(text: str) -> set[str]:
    """The distinct two- and three-word phrases of one answer (already name-masked)."""
    found: set[str] = set()
    for sentence in re.split(r"[.!?;:,()\n\"]+", text.lower()):
        words = [w.strip("'’-") for w in WORD.findall(sentence.replace(MASK, " | "))]
        tokens = [w for w in words if w]
        for size in (2, 3):
            for start in range(len(tokens) - size + 1):
                gram = tokens[start : start + size]
                if gram[0] in STOP_WORDS or gram[-1] in STOP_WORDS or MASK in "".join(gram):
                    continue
                found.add(" ".join(gram))
    return {phrase for phrase in found if "|" not in phrase}


def top_phrases(
    texts: Iterable[tuple[str, int]], minimum: int, limit: int = 5, known_names: Iterable[str] = ()
) -> list[tuple[str, int]]:
    """The most frequent phrases over (text, how many gave it), each used by at least `minimum`."""
    names = list(known_names)
    counts: Counter[str] = Counter()
    for text, weight in texts:
        for phrase in phrases(mask_names(text, names)):
            counts[phrase] += weight
    ranked = sorted(
        ((phrase, n) for phrase, n in counts.items() if n >= minimum),
        key=lambda pair: (-pair[1], -len(pair[0].split()), pair[0]),
    )
    chosen: list[tuple[str, int]] = []
    covered: set[str] = set()
    for phrase, n in ranked:
        # Overlapping phrases of one recurring sentence would repeat the same theme.
        pairs = _word_pairs(phrase)
        if pairs & covered:
            continue
        chosen.append((phrase, n))
        covered |= pairs
        if len(chosen) >= limit:
            break
    return chosen


def _word_pairs(phrase: str) -> set[str]:
    words = phrase.split()
    return {" ".join(words[i : i + 2]) for i in range(len(words) - 1)}
