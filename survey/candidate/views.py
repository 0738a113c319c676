"""The candidate's survey link and one-click opt-out."""

from functools import lru_cache

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from ..extensions import csrf, db
from ..i18n import use_candidate_locale
from ..mailing import reply_to_address
from ..questions import QuestionSet
from ..services.errors import DomainError
from ..services.question_sets import remembered_questions
from ..services.responses import (
    SurveyLink,
    mark_opened,
    opt_out,
    resolve_link,
    submit_response,
    survey_questions,
)
from ..tokens import load_opt_out_token, load_survey_token
from . import bp
from .forms import OptOutForm, answers_from, survey_form_class

# The session remembers which invitation this browser just answered, and how, so the
# thank-you page survives a refresh; anyone else holding the link sees "already answered".
ANSWERED_KEY = "survey_answered"


def speak_to_candidate(link: SurveyLink) -> QuestionSet | None:
    """Switch this request to the candidate's language and time zone; their questions, if any."""
    if link.invitation is None:
        return None
    questions = survey_questions(link.invitation)
    use_candidate_locale(questions.language, link.invitation.interview.timezone)
    return questions


def render_link_state(link: SurveyLink):
    """The page for a link that cannot be answered: invalid, expired, answered or opted out."""
    if link.state == "expired":
        return render_template(
            "candidate/expired.html", expired_on=link.expired_on, contact=reply_to_address()
        ), 410
    if link.state == "completed":
        return render_template("candidate/already_answered.html")
    if link.state == "opted_out":
        return render_template("candidate/opted_out.html", just_now=False)
    return render_template("errors/link_invalid.html"), 404


def _questions_context(company: str, questions: QuestionSet) -> dict:
    return {"questions": questions, "company": company}


@lru_cache(maxsize=64)
def blank_questions_html(company: str, questions: QuestionSet) -> Markup:
    """The unanswered questions as HTML, rendered once per company name, question-set version and
    language (the set's value is the key: a version never changes once published).

    Most survey requests are a first GET of an empty form: reusing its sixty-odd labelled
    radio buttons roughly halves the page's cost (see bench/survey_http.py).
    """
    html = render_template(
        "candidate/_questions.html", answers={}, errors={}, **_questions_context(company, questions)
    )
    return Markup(html)


def render_survey(
    questions: QuestionSet, link: SurveyLink | None, form=None, status: int = 200, notice: str | None = None
):
    """The survey form for the link's interview (None: the database could not say which), with any
    answers already given kept in it."""
    company = current_app.config["COMPANY_NAME"]
    sent_back = form is not None
    return (
        render_template(
            "candidate/take_survey.html",
            interview=link.invitation.interview if link and link.invitation else None,
            form=form,
            answers={name: field.data for name, field in form._fields.items()} if sent_back else {},
            errors=form.errors if sent_back else {},
            blank_questions=None if sent_back else blank_questions_html(company, questions),
            notice=notice,
            **_questions_context(company, questions),
        ),
        status,
    )


RETRY_NOTICE = _l(
    "We could not save your answers just now. Please try again in a minute: your answers are still here."
)


@bp.route("/s/<token>", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own CSRF token so a stale one keeps the answers
def take_survey(token: str):
    """Show the survey (never spends the link) or take the answers (spends it once)."""
    link = None
    try:
        link = resolve_link(load_survey_token, token)
        questions = speak_to_candidate(link)
        if link.state != "open":
            return render_link_state(link)
        # A first visit needs no form object: the blank page is cached and carries a CSRF token.
        form = survey_form_class(questions)() if request.method == "POST" else None
        return _answer_survey(token, link, questions, form)
    except OperationalError as exc:
        # The database is unreachable: whatever the candidate typed goes back to them, in the
        # questions the page was showing (remembered by this process, else the default set's).
        db.session.rollback()
        if request.method != "POST":
            raise
        # One line, not a traceback: an outage is an operations event, not a bug.
        current_app.logger.error("database unavailable while saving a survey: %s", exc.orig)
        questions = remembered_questions(request.form.get("question_set", ""))
        use_candidate_locale(questions.language, current_app.config["DEFAULT_TIMEZONE"])
        # The link is not read again: the header shows the interview only if it was resolved.
        known = link if link is not None and link.invitation is not None and _loaded(link) else None
        return render_survey(questions, known, survey_form_class(questions)(), 503, str(RETRY_NOTICE))


def _loaded(link: SurveyLink) -> bool:
    """Whether the link's interview is already in memory (reading it now would need the database)."""
    state = inspect(link.invitation)
    return "interview" not in state.unloaded and "interview" not in state.expired_attributes


def _answer_survey(token: str, link: SurveyLink, questions: QuestionSet, form):
    if request.method != "POST":
        # HEAD (mail scanners, link previews) gets the GET page without counting as an opening.
        if request.method == "GET":
            mark_opened(link.invitation)
        return render_survey(questions, link)
    if not form.validate():
        return render_survey(questions, link, form, 400, _form_notice(form))
    try:
        saved = submit_response(link.invitation, answers_from(form, questions), form.consent.data, questions)
    except DomainError:
        return render_survey(
            questions, link, form, 400, _("Some answers could not be read; please check them.")
        )
    if not saved:
        return render_link_state(resolve_link(load_survey_token, token))
    session[ANSWERED_KEY] = {"invitation": link.invitation.id, "consent": form.consent.data}
    # POST/redirect/GET: refreshing the thank-you page does not offer to send the form again.
    return redirect(url_for("candidate.thank_you", token=token), 303)


@bp.get("/s/<token>/thanks")
def thank_you(token: str):
    """The thank-you page after answering; for anyone else the link says it is already answered."""
    link = resolve_link(load_survey_token, token)
    speak_to_candidate(link)
    if link.state == "open":
        return redirect(url_for("candidate.take_survey", token=token))
    answered = session.get(ANSWERED_KEY) or {}
    if link.state != "completed" or answered.get("invitation") != link.invitation.id:
        return render_link_state(link)
    return render_template("candidate/thank_you.html", consent=answered.get("consent"))


def _form_notice(form) -> str:
    if "csrf_token" in form.errors:
        return _("This page was open for a long time. Your answers are still here: please press Send again.")
    return _("Please check the highlighted answers. Everything else you wrote is kept.")


@bp.route("/s/<token>/opt-out", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click posts carry no CSRF token; the signed token protects it
def opt_out_of_surveys(token: str):
    """GET asks for confirmation; POST stops all survey email to this candidate."""
    link = resolve_link(load_opt_out_token, token)
    speak_to_candidate(link)
    if link.state == "invalid":
        return render_template("errors/link_invalid.html"), 404
    if link.invitation.interview.candidate.opted_out_at is not None:
        return render_template("candidate/opted_out.html", just_now=request.method == "POST", already=True)
    if request.method == "POST":
        opt_out(link.invitation)
        return render_template("candidate/opted_out.html", just_now=True)
    return render_template("candidate/confirm_opt_out.html", form=OptOutForm())
