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
