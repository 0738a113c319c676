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
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


# --- The debrief mirror -------------------------------------------------------------------
# Which debrief field mirrors which survey item. A "scale" pair compares two 1–5 numbers;
# the gap is candidate minus recruiter and is flagged at GAP_THRESHOLD points or more.
GAP_THRESHOLD = 2


@dataclass(frozen=True)
class MirrorPair:
    """A debrief field and the survey item it mirrors."""

    debrief_field: str
    survey_key: str
    label: str
    kind: str = "scale"  # "scale" (1–5 vs 1–5), "next_step", or "context" (shown, not scored)


MIRROR = (
    MirrorPair("interest", "interest", "Interest in the role"),
    MirrorPair("self_assessment", "self_assessment", "How well the interview went"),
    MirrorPair("next_step_signal", "next_steps", "Next step", kind="next_step"),
    MirrorPair("doubts_cleared", "role_clarity", "Role clarity", kind="context"),
    MirrorPair("process_issues", "on_time", "Organised and on time", kind="context"),
    MirrorPair("process_issues", "prepared", "Interviewers prepared", kind="context"),
    MirrorPair("culture_score", "culture_picture", "Realistic picture of the team"),
    MirrorPair("culture_score", "impression", "Impression of the company"),
    MirrorPair("referral_potential", "nps", "Would recommend / refer", kind="context"),
)
SCALE_PAIRS = tuple(pair for pair in MIRROR if pair.kind == "scale")
# The debrief fields an item of a question set may say it mirrors ("mirrors" in the set's file).
MIRRORABLE_FIELDS = tuple(sorted({pair.debrief_field for pair in MIRROR} | {"doubts"}))


@dataclass(frozen=True)
class Gap:
    """One mirrored pair compared: the two answers, their difference and whether it is flagged."""

    pair: MirrorPair
    candidate: Any
    recruiter: Any
    difference: int | None
    flagged: bool


def next_step_mismatch(signal: str | None, next_steps: int | None) -> bool:
    """DESIGN's rule: recruiter heard a next step but the candidate says ≤ 2, or heard none and ≥ 4."""
    if signal is None or next_steps is None:
        return False
    return (signal == "yes" and next_steps <= 2) or (signal == "no" and next_steps >= 4)


def compare(pair: MirrorPair, answers: dict[str, Any], debrief: Any) -> Gap:
    """Compare one mirrored pair of a response's answers and a debrief."""
    candidate = answers.get(pair.survey_key)
    recruiter = getattr(debrief, pair.debrief_field, None) if debrief is not None else None
    if pair.kind == "scale" and candidate is not None and recruiter is not None:
        difference = candidate - recruiter
        return Gap(pair, candidate, recruiter, difference, abs(difference) >= GAP_THRESHOLD)
    flagged = pair.kind == "next_step" and next_step_mismatch(recruiter, candidate)
    return Gap(pair, candidate, recruiter, None, flagged)


def perception_gaps(answers: dict[str, Any], debrief: Any) -> list[Gap]:
    """Every mirrored pair compared, in the order of MIRROR."""
    return [compare(pair, answers, debrief) for pair in MIRROR]
