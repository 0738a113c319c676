"""The survey's question sets as versioned data.

Templates, forms, storage and reports all read from here, so a later version can add
or reword items without touching earlier responses (each response keeps its version).
"""

from __future__ import annotations

from dataclasses import dataclass

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
