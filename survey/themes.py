"""Recurring themes in free text: the phrases most often used, stop words removed, no names.

A phrase is two or three consecutive words that neither start nor end with a stop word. It is
counted once per answer. Phrases used by largely the same answers ("take-home assignment",
"assignment took far", "stated two hours") are one theme, merged by the overlap of the answers
that use them; a theme is reported with how many answers it covers, and only when at least
REPORT_MIN_GROUP_SIZE answers do, so a theme never points at one person's answer. Known names (staff, hiring
managers) and capitalised words in the middle of a sentence (most likely names) are masked
before phrases are formed, so no phrase names a person.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    try:
        return _masked(text, tuple(known_names))
    finally:
        _forget_later()


# The reports page masks and splits the same answers on every request (each filter shows a part of
# them): the work is a pure function of the text and the names, so a process keeps its results
# for the texts it saw last. A text and its phrases are what the page shows anyway. But the keys
# are answers as written and the names of people: an answer erased or de-identified in the
# database, and a name erased, must not stay in a worker's memory for long after. So what a process
# remembers is forgotten FORGET_AFTER_SECONDS after it was first remembered.
TEXTS_REMEMBERED = 4096
FORGET_AFTER_SECONDS = 600
_forgetting: threading.Timer | None = None
_forgetting_lock = threading.Lock()


def _forget_later() -> None:
    """Set the clock that empties the caches, unless it is running. Called when a use of them
    ends: one the clock interrupted may have filled them again after it emptied them."""
    global _forgetting
    if _forgetting is not None:
        return
    with _forgetting_lock:
        if _forgetting is None:
            _forgetting = threading.Timer(FORGET_AFTER_SECONDS, forget_answers)
            _forgetting.daemon = True
            _forgetting.start()


def forget_answers() -> None:
    """Empty every cache of answer texts and names now (the clock's doing, or a caller's)."""
    global _forgetting
    with _forgetting_lock:
        if _forgetting is not None:
            _forgetting.cancel()  # a caller's: the clock has nothing left to forget
        _forgetting = None
        for cached in (_masked, _answer_phrases, _span_label, _names_pattern):
            cached.cache_clear()


def _forget_in_a_forked_child() -> None:
    """A timer thread does not survive a fork, and the child's copy of the parent's caches must not
    outlive it; nor may the child wait on a lock copied while another thread held it."""
    global _forgetting, _forgetting_lock
    _forgetting, _forgetting_lock = None, threading.Lock()
    forget_answers()


@lru_cache(maxsize=TEXTS_REMEMBERED)
def _masked(text: str, known_names: tuple[str, ...]) -> str:
    pattern = _names_pattern(known_names)
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


# Phrases whose answers overlap at least this much (Jaccard, weighted by answers) are one theme.
MERGE_OVERLAP = 0.5


@dataclass
class Theme:
    """Answers that share phrases: a label, how many answers, and which entries they are."""

    label: str
    count: int
    phrases: list[str]
    members: list[int] = field(default_factory=list)  # indices into the entries given


@lru_cache(maxsize=TEXTS_REMEMBERED)
def _answer_phrases(text: str, names: tuple[str, ...]) -> frozenset[str]:
    """Phrases of one answer; a short answer with none keeps its words, so "Salary" still counts."""
    masked = _masked(text, names)
    found = phrases(masked)
    if not found:
        words = [w.strip("'’-").lower() for w in WORD.findall(masked.replace(MASK, " | "))]
        found = {w for w in words if len(w) > 2 and w not in STOP_WORDS}
    return frozenset(found)


def _weight(members: set[int], weights: Sequence[int]) -> int:
    return sum(weights[index] for index in members)


def cluster_themes(
    entries: Sequence[tuple[str, int]],
    minimum: int,
    known_names: Iterable[str] = (),
    limit: int = 5,
    quotable: Sequence[bool] | None = None,
) -> list[Theme]:
    """Themes over (answer text, how many gave it): phrases merged when their answers overlap.

    Phrases are taken most frequent first; one whose answers overlap an existing theme's by
    MERGE_OVERLAP or more joins it, otherwise it starts a theme. A theme counts every answer that
    uses any of its phrases; only themes of at least `minimum` answers are returned. A theme is
    labelled with a sentence of its most common answer only where `quotable` allows that answer
    to be shown; otherwise with the stretch its phrases cover.
    """
    try:
        return _clustered(entries, minimum, tuple(known_names), limit, quotable)
    finally:
        _forget_later()


def _clustered(
    entries: Sequence[tuple[str, int]],
    minimum: int,
    names: tuple[str, ...],
    limit: int,
    quotable: Sequence[bool] | None,
) -> list[Theme]:
    weights = [count for _, count in entries]
    users: dict[str, set[int]] = {}
    for index, (text, _) in enumerate(entries):
        for phrase in _answer_phrases(text, names):
            users.setdefault(phrase, set()).add(index)
    used = {phrase: _weight(members, weights) for phrase, members in users.items()}
    ranked = sorted(
        ((phrase, members) for phrase, members in users.items() if used[phrase] >= minimum),
        key=lambda pair: (-used[pair[0]], -len(pair[0].split()), pair[0]),
    )
    themes: list[tuple[list[str], set[int]]] = []
    for phrase, members in ranked:
        for theme_phrases, theme_members in themes:
            shared = _weight(members & theme_members, weights)
            if shared >= MERGE_OVERLAP * _weight(members | theme_members, weights):
                theme_phrases.append(phrase)
                theme_members |= members
                break
        else:
            themes.append(([phrase], set(members)))
    found = []
    for theme_phrases, members in themes:
        typical = max(sorted(members), key=lambda i: weights[i])
        shown = quotable is None or quotable[typical]
        label = _span_label(tuple(theme_phrases), entries[typical][0], names, whole_sentence=shown)
        found.append(Theme(label, _weight(members, weights), theme_phrases, sorted(members)))
    found.sort(key=lambda theme: (-theme.count, theme.label))
    return [theme for theme in found if theme.count >= minimum][:limit]


LABEL_MAX_CHARS = 90


@lru_cache(maxsize=TEXTS_REMEMBERED)
def _span_label(
    theme_phrases: tuple[str, ...], text: str, names: tuple[str, ...], whole_sentence: bool = True
) -> str:
    """What a theme is called: the sentence of its most common answer that holds its phrases
    ("The take-home assignment took far longer than the stated two hours"), or, in a long
    sentence or an answer that may not be shown, just the stretch its phrases cover (their words,
    which enough answers share, and the stop words or masked names between them)."""
    masked = _masked(text, names).replace(MASK, "[name]")
    lowered = masked.lower()
    starts, ends = [], []
    for phrase in theme_phrases:
        pattern = r"\b" + r"\W+".join(re.escape(word) for word in phrase.split()) + r"\b"
        match = re.search(pattern, lowered)
        if match:
            starts.append(match.start())
            ends.append(match.end())
    if not starts:
        return theme_phrases[0]
    start, end = min(starts), max(ends)
    sentence_start = max(masked.rfind(mark, 0, start) for mark in ".!?;\n") + 1
    found = [masked.find(mark, end) for mark in ".!?;\n"]
    sentence_end = min([index for index in found if index >= 0], default=len(masked))
    sentence = masked[sentence_start:sentence_end].strip()
    if whole_sentence and len(sentence) <= LABEL_MAX_CHARS:
        return sentence[:1].upper() + sentence[1:]
    return lowered[start:end]


os.register_at_fork(after_in_child=_forget_in_a_forked_child)
