"""The survey's questions as the candidate sees them, and the debrief mirror.

Question sets live in the database (survey.services.question_sets): each version is a JSON
document of items with texts per language. `localize` turns one version into these immutable
objects in one language; templates, forms and answer checks read them, so a later version can
add or reword items without touching earlier responses (each response keeps its version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Longest free-text answer kept; longer ones are sent back with a message.
TEXT_MAX_CHARS = 5000
ITEM_TYPES = ("nps", "scale", "choice", "text")
NUMERIC_TYPES = ("nps", "scale")
SCALE_VALUES = {"nps": tuple(range(0, 11)), "scale": tuple(range(1, 6))}
CONSENT_CHOICES = ("named", "anonymous")
# The cNPS cut-offs on the 0–10 item: promoters answer 9–10, detractors 0–6, the rest are passive.
PROMOTER_MIN = 9
DETRACTOR_MAX = 6


@dataclass(frozen=True)
class Question:
    """One survey item in one language.

    `kind` is "nps" (0–10), "scale" (1–5), "choice" (one of `options`) or "text". `labels` are the
    scale's end labels (two) or one per value; `mirrors` names the debrief field the item mirrors.
    """

    key: str
    text: str
    kind: str
    labels: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    mirrors: str | None = None

    @property
    def numeric(self) -> bool:
        """Whether answers are numbers on a scale (nps or scale)."""
        return self.kind in NUMERIC_TYPES

    @property
    def values(self) -> list[Any]:
        """The allowed answers: the scale's integers or the choice's option values."""
        if self.kind == "choice":
            return [value for value, _ in self.options]
        return list(SCALE_VALUES.get(self.kind, ()))

    @property
    def low(self) -> int:
        """The lowest point of a numeric item."""
        return self.values[0]

    @property
    def high(self) -> int:
        """The highest point of a numeric item."""
        return self.values[-1]

    @property
    def end_labels(self) -> tuple[str, str]:
        """The words at either end of a numeric item's scale."""
        return (self.labels[0], self.labels[-1]) if self.labels else ("", "")

    def prompt(self, company: str) -> str:
        """The question text with the company's name filled in."""
        return self.text.replace("{company}", company)

    def label_for(self, value: Any) -> str:
        """The label of one answer value: a choice's text, or a scale point's word (if it has one)."""
        if self.kind == "choice":
            return dict(self.options).get(value, str(value))
        values = self.values
        if value not in values:
            return str(value)
        if len(self.labels) == len(values):
            return self.labels[values.index(value)]
        if len(self.labels) == 2 and value in (values[0], values[-1]):
            return self.labels[0] if value == values[0] else self.labels[1]
        return ""


@dataclass(frozen=True)
class QuestionSet:
    """One published (or draft) version of a question set, in one language.

    `version` is the version's database id: what invitations and responses record.
    """

    version: int
    questions: tuple[Question, ...]
    language: str = "en"
    name: str = ""
    number: int = 1

    def get(self, key: str) -> Question:
        """The question with this key."""
        return next(q for q in self.questions if q.key == key)

    def has(self, key: str) -> bool:
        """Whether the set asks this item."""
        return any(q.key == key for q in self.questions)

    @property
    def scale_questions(self) -> list[Question]:
        """The items answered on a numeric scale (nps and 1–5)."""
        return [q for q in self.questions if q.numeric]

    @property
    def text_questions(self) -> list[Question]:
        """The free-text items."""
        return [q for q in self.questions if q.kind == "text"]


def localize(document: dict[str, Any], language: str, version: int = 0, **meta: Any) -> QuestionSet:
    """A stored question-set document as questions in one of its languages.

    The caller picks a language the document speaks (see `pick_language`).
    """
    questions = []
    for item in document["questions"]:
        labels = item.get("labels", {}).get(language, ())
        options = tuple((option["value"], option["text"][language]) for option in item.get("options", ()))
        questions.append(
            Question(
                key=item["key"],
                text=item["text"][language],
                kind=item["type"],
                labels=tuple(labels),
                options=options,
                mirrors=item.get("mirrors"),
            )
        )
    return QuestionSet(version=version, questions=tuple(questions), language=language, **meta)


def pick_language(wanted: str | None, languages: list[str]) -> str:
    """The language to show a set in: the one wanted if the set speaks it (or its base language,
    "de" for "de_AT"), else the set's first language."""
    if wanted:
        for candidate in (wanted, wanted.replace("-", "_").split("_")[0]):
            if candidate in languages:
                return candidate
    return languages[0]


def nps_category(score: int | None) -> str | None:
    """cNPS bucket of a 0–10 answer: promoter (9–10), passive (7–8) or detractor (0–6)."""
    if score is None:
        return None
    if score >= PROMOTER_MIN:
        return "promoter"
    if score > DETRACTOR_MAX:
        return "passive"
    return "detractor"


# --- The debrief mirror -------------------------------------------------------------------
# DESIGN's mirror table: each row pairs one survey item with the one debrief field that measures
# the same thing. "gap" rows put a 1–5 scale beside the same 1–5 scale: the gap is candidate
# minus recruiter, flagged at GAP_THRESHOLD points or more. "rule" rows compare different scales
# only through a stated rule. "text" rows put free text beside free text, never scored.
GAP_THRESHOLD = 2

# The words for each point of the debrief's 1–5 fields (the debrief form offers the same words).
DEBRIEF_SCALE_LABELS = {
    # The default set's English words for its own items of the same name.
    "interest": ("Not at all", "Slightly", "Moderately", "Very", "Extremely"),
    "self_assessment": ("Poorly", "Not so well", "Fairly well", "Well", "Very well"),
    "culture_score": ("Badly", "Not well", "Fairly well", "Well", "Very well"),
    "referral_potential": ("None", "Low", "Medium", "High", "Very high"),
}
NEXT_STEP_WORDS = {"yes": "Yes", "no": "No", "unclear": "Unclear"}


def next_step_mismatch(signal: str | None, next_steps: int | None) -> bool:
    """Recruiter heard a next step but the candidate answers ≤ 2, or heard none and ≥ 4."""
    if signal is None or next_steps is None:
        return False
    return (signal == "yes" and next_steps <= 2) or (signal == "no" and next_steps >= 4)


def doubts_mismatch(cleared: bool | None, role_clarity: int | None) -> bool:
    """The recruiter noted the doubts as cleared, yet the candidate answers role clarity ≤ 2."""
    return cleared is True and role_clarity is not None and role_clarity <= 2


def referral_mismatch(referral_potential: int | None, nps: int | None) -> bool:
    """High referral potential (≥ 4) for a detractor (≤ 6), or low (≤ 2) for a promoter (≥ 9)."""
    if referral_potential is None or nps is None:
        return False
    return (referral_potential >= 4 and nps <= DETRACTOR_MAX) or (
        referral_potential <= 2 and nps >= PROMOTER_MIN
    )


@dataclass(frozen=True)
class MirrorPair:
    """A survey item and the debrief field beside it, and how the two are compared."""

    debrief_field: str
    survey_key: str
    label: str
    kind: str = "gap"  # "gap" (1–5 beside 1–5), "rule" (different scales), "text"
    rule_text: str = ""

    def rule(self, recruiter: Any, candidate: Any) -> bool:
        """Whether a rule pair's rule flags these two values."""
        rules = {
            "next_step_signal": next_step_mismatch,
            "doubts_cleared": doubts_mismatch,
            "referral_potential": referral_mismatch,
        }
        return rules[self.debrief_field](recruiter, candidate)


MIRROR = (
    MirrorPair("interest", "interest", "Interest in the role"),
    MirrorPair("self_assessment", "self_assessment", "How well the interview went"),
    MirrorPair("culture_score", "culture_picture", "Picture of the team and its culture"),
    MirrorPair(
        "next_step_signal",
        "next_steps",
        "Next step",
        kind="rule",
        rule_text="flagged when a next step was signalled and the candidate disagrees they know it "
        "(1–2), or none was and they agree (4–5)",
    ),
    MirrorPair(
        "doubts_cleared",
        "role_clarity",
        "Doubts cleared / role clarity",
        kind="rule",
        rule_text="flagged when the doubts were noted as cleared and the candidate disagrees "
        "they understand the role (1–2)",
    ),
    MirrorPair(
        "referral_potential",
        "nps",
        "Referral potential / would recommend",
        kind="rule",
        rule_text="flagged when referral potential is high (4–5) and the candidate is a detractor "
        "(0–6), or low (1–2) and a promoter (9–10)",
    ),
    MirrorPair("doubts", "open_doubts", "Doubts about the role", kind="text"),
    MirrorPair("process_issues", "improve", "Process issues / what to do differently", kind="text"),
)
SCALE_PAIRS = tuple(pair for pair in MIRROR if pair.kind == "gap")
# The debrief fields an item of a question set may say it mirrors ("mirrors" in the set's file).
MIRRORABLE_FIELDS = tuple(sorted({pair.debrief_field for pair in MIRROR} | {"doubts"}))


def candidate_words(key: str, value: Any, questions: QuestionSet | None = None) -> str | None:
    """A survey answer in words: "Agree (4)", "7 of 10 (passive)"; text as written.

    `questions` is the set the answer was given under (its labels); without it, or for an item
    the set lacks, the value is shown as it is.
    """
    if value is None or value == "":
        return None
    question = questions.get(key) if questions is not None and questions.has(key) else None
    if question is None or question.kind == "text":
        return str(value)
    if key == "nps":
        return f"{value} of 10 ({nps_category(value)})"
    return f"{question.label_for(value)} ({value})"


def recruiter_words(field: str, value: Any) -> str | None:
    """A debrief value in words, capitalised like the survey's: "Medium (3)", "Yes", "Unclear"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if field in DEBRIEF_SCALE_LABELS:
        return f"{DEBRIEF_SCALE_LABELS[field][value - 1]} ({value})"
    if field == "next_step_signal":
        return NEXT_STEP_WORDS.get(value, str(value).capitalize())
    return str(value)


@dataclass(frozen=True)
class Gap:
    """One mirrored pair compared: both sides in words, the difference (gap rows) and the flag."""

    pair: MirrorPair
    candidate: Any
    recruiter: Any
    difference: int | None
    flagged: bool
    # The set the answers were given under: the candidate's side is worded with its labels.
    questions: QuestionSet | None = None

    @property
    def candidate_words(self) -> str | None:
        """The candidate's side in words."""
        return candidate_words(self.pair.survey_key, self.candidate, self.questions)

    @property
    def recruiter_words(self) -> str | None:
        """The debrief's side in words."""
        return recruiter_words(self.pair.debrief_field, self.recruiter)

    @property
    def compared(self) -> bool:
        """Both sides given on a pair that is scored (a gap or a rule)."""
        return self.pair.kind != "text" and self.candidate is not None and self.recruiter is not None


def compare(
    pair: MirrorPair, answers: dict[str, Any], debrief: Any, questions: QuestionSet | None = None
) -> Gap:
    """Compare one mirrored pair of a response's answers and a debrief."""
    candidate = answers.get(pair.survey_key)
    recruiter = getattr(debrief, pair.debrief_field, None) if debrief is not None else None
    if recruiter == "":
        recruiter = None
    if candidate is None or recruiter is None or pair.kind == "text":
        return Gap(pair, candidate, recruiter, None, False, questions)
    if pair.kind == "gap":
        difference = candidate - recruiter
        return Gap(pair, candidate, recruiter, difference, abs(difference) >= GAP_THRESHOLD, questions)
    return Gap(pair, candidate, recruiter, None, pair.rule(recruiter, candidate), questions)


def perception_gaps(answers: dict[str, Any], debrief: Any, questions: QuestionSet | None = None) -> list[Gap]:
    """Every mirrored pair compared, in the order of MIRROR; `questions` words the answers."""
    return [compare(pair, answers, debrief, questions) for pair in MIRROR]
