"""The survey form, built from the question set rather than written out per item."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from ..questions import CONSENT_CHOICES, TEXT_MAX_CHARS, Question, QuestionSet


def _choice_field(question: Question) -> RadioField:
    numeric = question.numeric
    return RadioField(
        question.key,
        choices=[SelectChoice(value, question.label_for(value) or str(value)) for value in question.values],
        coerce=int if numeric else str,
        validate_choice=False,
        validators=[Optional(), AnyOf(question.values, message=_l("Please pick one of the options."))],
    )


def _text_field(question: Question) -> TextAreaField:
    return TextAreaField(
        question.key,
        validators=[
            Optional(),
            Length(
                max=TEXT_MAX_CHARS,
                message=_l(
                    "Please keep this under %(limit)s characters (your other answers are kept below).",
                    limit=f"{TEXT_MAX_CHARS:,}",
                ),
            ),
        ],
    )


@cache
def survey_form_class(questions: QuestionSet) -> type[FlaskForm]:
    """A FlaskForm subclass with one field per question plus the required consent choice.

    The consent choice is not an item of any set: every survey asks it, and it is required.
    """
    fields: dict[str, Any] = {}
    for question in questions.questions:
        fields[question.key] = _text_field(question) if question.kind == "text" else _choice_field(question)
    fields["consent"] = RadioField(
        "consent",
        choices=[SelectChoice(value, value) for value in CONSENT_CHOICES],
        validators=[DataRequired(message=_l("Please choose whether your recruiter may see your name."))],
    )
    return type(f"SurveyFormV{questions.version}", (FlaskForm,), fields)


def answers_from(form: FlaskForm, questions: QuestionSet) -> dict[str, Any]:
    """The answered items of a validated form."""
    return {q.key: form[q.key].data for q in questions.questions}


class OptOutForm(FlaskForm):
    """The opt-out confirmation. No CSRF: the signed token is the protection (RFC 8058)."""

    class Meta:
        csrf = False
