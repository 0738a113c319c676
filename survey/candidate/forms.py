"""The survey form, built from the question set rather than written out per item."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.csrf.core import CSRF
from wtforms.validators import AnyOf, DataRequired, Length, Optional, ValidationError

from ..questions import CONSENT_CHOICES, TEXT_MAX_CHARS, Question, QuestionSet
from ..tokens import check_survey_form_token, make_survey_form_token


class LinkBoundCSRF(CSRF):
    """CSRF for the survey form: the token is a signature of the survey link (tokens.py).

    Build the form with meta={"csrf_context": link_token}.
    """

    def setup_form(self, form):
        self.link_token = form.meta.csrf_context
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field) -> str:
        return make_survey_form_token(self.link_token)

    def validate_csrf_token(self, form, field) -> None:
        if not check_survey_form_token(self.link_token, field.data or ""):
            raise ValidationError("The form was not sent from this survey page.")


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
    fields["Meta"] = type("Meta", (), {"csrf_class": LinkBoundCSRF})
    return type(f"SurveyFormV{questions.version}", (FlaskForm,), fields)


def quick_answers(formdata, questions: QuestionSet, link_token: str) -> tuple[dict[str, Any], str] | None:
    """(answers, consent) of a submission the survey form would accept; None if anything is off.

    Most submissions are fine, and building the form (a bound field object per question) is
    only needed to say what is wrong. This accepts no more than the form does, and gives the
    answers as the form's fields would: its token (when CSRF is on), each numeric answer empty
    or on its scale (coerced by int), each choice empty or one of its options, each text within
    TEXT_MAX_CHARS, a consent choice. Anything else goes to the form.
    """
    if current_app.config.get("WTF_CSRF_ENABLED", True) and not check_survey_form_token(
        link_token, formdata.get("csrf_token", "")
    ):
        return None
    consent = formdata.get("consent")
    if consent not in CONSENT_CHOICES:
        return None
    answers: dict[str, Any] = {}
    for question in questions.questions:
        value = _quick_value(question, formdata.get(question.key))
        if value is _DECLINED:
            return None
        answers[question.key] = value
    return answers, consent


_DECLINED = object()


def _quick_value(question: Question, raw: str | None) -> Any:
    """One field's value as the form would give it, or _DECLINED when the form should decide."""
    if question.kind == "text":
        return _DECLINED if raw is not None and len(raw) > TEXT_MAX_CHARS else raw
    if question.numeric:
        if raw is None or not raw.strip():
            return None  # the form's int coercion leaves an empty answer unset
        try:
            value = int(raw)
        except ValueError:
            return _DECLINED
        return value if value in question.values else _DECLINED
    # A choice keeps its text: empty (None or "") or one of the options; the rest (such as
    # blanks) the form and the answer check decide.
    return raw if raw in (None, "") or raw in question.values else _DECLINED


def answers_from(form: FlaskForm, questions: QuestionSet) -> dict[str, Any]:
    """The answered items of a validated form."""
    return {q.key: form[q.key].data for q in questions.questions}


class OptOutForm(FlaskForm):
    """The opt-out confirmation. No CSRF: the signed token is the protection (RFC 8058)."""

    class Meta:
        csrf = False
