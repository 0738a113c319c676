"""The survey's question sets as versioned data.

Templates, forms, storage and reports all read from here, so a later version can add
or reword items without touching earlier responses (each response keeps its version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Longest free-text answer kept; longer ones are sent back with a message.
TEXT_MAX_CHARS = 5000
AGREE_LABELS = ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")


@dataclass(frozen=True)
class Question:
    """One survey item. `kind` is "scale" (integers low..high) or "text"."""

    key: str
    text: str
    kind: str
    low: int = 1
    high: int = 5
    labels: tuple[str, ...] = AGREE_LABELS
    group: str = "process"

    @property
    def values(self) -> list[int]:
        """The allowed answers of a scale item."""
        return list(range(self.low, self.high + 1))

    def prompt(self, company: str) -> str:
        """The question text with the company's name filled in."""
        return self.text.replace("{company}", company)

    def label_for(self, value: int) -> str:
        """The label shown for one point of the scale."""
        if len(self.labels) == len(self.values):
            return self.labels[value - self.low]
        return str(value)


@dataclass(frozen=True)
class QuestionSet:
    """A numbered, immutable list of questions."""

    version: int
    questions: tuple[Question, ...]

    def get(self, key: str) -> Question:
        """The question with this key."""
        return next(q for q in self.questions if q.key == key)

    @property
    def scale_questions(self) -> list[Question]:
        """The items answered on a scale."""
        return [q for q in self.questions if q.kind == "scale"]

    @property
    def text_questions(self) -> list[Question]:
        """The free-text items."""
        return [q for q in self.questions if q.kind == "text"]


V1 = QuestionSet(
    version=1,
    questions=(
        Question(
            "nps",
            "How likely are you to recommend applying to {company} to a friend?",
            "scale",
            low=0,
            high=10,
            labels=("Not at all likely", "", "", "", "", "", "", "", "", "", "Extremely likely"),
            group="overall",
        ),
        Question("on_time", "The interview was well organised and respected my time.", "scale"),
        Question("prepared", "The interviewers were prepared and had read my background.", "scale"),
        Question("role_clarity", "I understand the role and what would be expected of me.", "scale"),
        Question("fair", "I was treated fairly and with respect.", "scale"),
        Question("next_steps", "I know what happens next and when.", "scale"),
        Question(
            "culture_picture",
            "I got a realistic picture of the team and how it works.",
            "scale",
            group="culture",
        ),
        Question(
            "impression",
            "After this interview my impression of {company} is …",
            "scale",
            labels=("Much worse", "Worse", "Unchanged", "Better", "Much better"),
            group="culture",
        ),
        Question(
            "interest",
            "How interested are you in this role now?",
            "scale",
            labels=("Not at all", "Slightly", "Moderately", "Very", "Extremely"),
            group="candidate",
        ),
        Question(
            "self_assessment",
            "How well do you feel you could answer the questions?",
            "scale",
            labels=("Poorly", "Not so well", "Fairly well", "Well", "Very well"),
            group="candidate",
        ),
        Question("went_well", "What went well?", "text"),
        Question("improve", "What should we do differently?", "text"),
        Question("open_doubts", "Is anything about the role still unclear?", "text"),
    ),
)

QUESTION_SETS = {V1.version: V1}
CURRENT = V1

CONSENT_QUESTION = "May your recruiter see these answers with your name?"
CONSENT_LABELS = {
    "named": "Share my answers with my recruiter by name",
    "anonymous": "Keep them anonymous (used only in aggregate)",
}


def question_set(version: int) -> QuestionSet:
    """The question set a response was given under."""
    return QUESTION_SETS[version]


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
# DESIGN's mirror table: each row pairs one survey item with the one debrief field that measures
# the same thing. "gap" rows put a 1–5 scale beside the same 1–5 scale: the gap is candidate
# minus recruiter, flagged at GAP_THRESHOLD points or more. "rule" rows compare different scales
# only through a stated rule. "text" rows put free text beside free text, never scored.
GAP_THRESHOLD = 2

# The words for each point of the debrief's 1–5 fields (the debrief form offers the same words).
DEBRIEF_SCALE_LABELS = {
    "interest": V1.get("interest").labels,
    "self_assessment": V1.get("self_assessment").labels,
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
    return (referral_potential >= 4 and nps <= 6) or (referral_potential <= 2 and nps >= 9)


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


def candidate_words(key: str, value: Any) -> str | None:
    """A survey answer in words: "Agree (4)", "7 of 10 (passive)"; text as written."""
    if value is None or value == "":
        return None
    question = V1.get(key)
    if question.kind == "text":
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

    @property
    def candidate_words(self) -> str | None:
        """The candidate's side in words."""
        return candidate_words(self.pair.survey_key, self.candidate)

    @property
    def recruiter_words(self) -> str | None:
        """The debrief's side in words."""
        return recruiter_words(self.pair.debrief_field, self.recruiter)

    @property
    def compared(self) -> bool:
        """Both sides given on a pair that is scored (a gap or a rule)."""
        return self.pair.kind != "text" and self.candidate is not None and self.recruiter is not None


def compare(pair: MirrorPair, answers: dict[str, Any], debrief: Any) -> Gap:
    """Compare one mirrored pair of a response's answers and a debrief."""
    candidate = answers.get(pair.survey_key)
    recruiter = getattr(debrief, pair.debrief_field, None) if debrief is not None else None
    if recruiter == "":
        recruiter = None
    if candidate is None or recruiter is None or pair.kind == "text":
        return Gap(pair, candidate, recruiter, None, False)
    if pair.kind == "gap":
        difference = candidate - recruiter
        return Gap(pair, candidate, recruiter, difference, abs(difference) >= GAP_THRESHOLD)
    return Gap(pair, candidate, recruiter, None, pair.rule(recruiter, candidate))


def perception_gaps(answers: dict[str, Any], debrief: Any) -> list[Gap]:
    """Every mirrored pair compared, in the order of MIRROR."""
    return [compare(pair, answers, debrief) for pair in MIRROR]
