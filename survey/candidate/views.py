"""The candidate's survey link and one-click opt-out."""

from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache

from flask import current_app, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy.exc import OperationalError

from ..extensions import csrf, db
from ..mailing import reply_to_address
from ..questions import CONSENT_LABELS, CONSENT_QUESTION, CURRENT
from ..services.responses import (
    AnswerError,
    LinkTarget,
    SurveyLink,
    open_survey_link,
    opt_out,
    resolve_link,
    submit_response,
)
from ..templating import format_iso, zone_named
from ..tokens import (
    load_answered_mark,
    load_opt_out_token,
    load_survey_token,
    make_answered_mark,
    make_survey_form_token,
)
from . import bp
from .forms import OptOutForm, answers_from, quick_answers, survey_form_class

# The browser that answered a link keeps a mark (its consent, signed with the link) in a cookie
# sent only to that link's thank-you page, so the page survives a refresh; anyone else holding
# the link sees "already answered". The survey page itself sets and reads no cookie.
ANSWERED_COOKIE = "survey_answered"


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


def _questions_context(company: str) -> dict:
    return {
        "questions": CURRENT,
        "company": company,
        "consent_question": CONSENT_QUESTION,
        "consent_labels": CONSENT_LABELS,
    }


@lru_cache(maxsize=8)
def blank_questions_html(company: str, version: int) -> Markup:
    """The unanswered questions as HTML, rendered once per company name and question set."""
    html = render_template("candidate/_questions.html", answers={}, errors={}, **_questions_context(company))
    return Markup(html)


# Stand in for the per-link parts of the cached blank page; no rendered text can contain them.
CSRF_PLACEHOLDER = "\x00csrf-token\x00"
INTERVIEW_PLACEHOLDER = "\x00interview\x00"


@lru_cache(maxsize=8)
def blank_page_html(company: str, version: int) -> str:
    """The whole blank survey page, rendered once per company name and question set.

    Most survey requests are a first GET of an empty form, so the page is rendered once and
    each request only puts in its interview line and its form token. Nothing else depends on
    who asks: the candidate page shows no staff navigation and no flashed messages.
    """
    return render_template(
        "candidate/take_survey.html",
        form=None,
        answers={},
        errors={},
        blank_questions=blank_questions_html(company, version),
        notice=None,
        csrf_value=CSRF_PLACEHOLDER,
        interview_lead=Markup(INTERVIEW_PLACEHOLDER),
        **_questions_context(company),
    )


@dataclass(frozen=True)
class InterviewLead:
    """What the line naming the survey's interview says."""

    stage: str
    position_title: str
    ends_at_iso: str
    ends_on: str  # "10 October"


def interview_lead(target: LinkTarget) -> InterviewLead:
    """The interview line's values, the day in DEFAULT_TIMEZONE: the candidate's page is the
    same whoever opens it (no signed-in staff member's zone, and no user looked up for it)."""
    zone = zone_named(current_app.config.get("DEFAULT_TIMEZONE")) or UTC
    ends = target.ends_at.astimezone(zone)
    return InterviewLead(
        target.stage, target.position_title, format_iso(target.ends_at), f"{ends.day} {ends:%B}"
    )


def interview_lead_html(target: LinkTarget) -> str:
    """The line naming the link's interview, for the cached page."""
    template = current_app.jinja_env.get_template("candidate/_interview_lead.html")
    return template.render(lead=interview_lead(target))


def render_blank_survey(token: str, target: LinkTarget) -> str:
    """The cached blank page with this link's interview line and form token."""
    page = blank_page_html(current_app.config["COMPANY_NAME"], CURRENT.version)
    return page.replace(INTERVIEW_PLACEHOLDER, interview_lead_html(target), 1).replace(
        CSRF_PLACEHOLDER, str(escape(make_survey_form_token(token))), 1
    )


def render_survey(token: str, link: SurveyLink | None, form, status: int = 200, notice: str | None = None):
    """The survey form sent back with the answers already given kept in it, under the link's
    interview (link None: the database could not say which)."""
    company = current_app.config["COMPANY_NAME"]
    return (
        render_template(
            "candidate/take_survey.html",
            lead=interview_lead(link.invitation) if link and link.invitation else None,
            form=form,
            answers={name: field.data for name, field in form._fields.items()},
            errors=form.errors,
            blank_questions=None,
            notice=notice,
            csrf_value=make_survey_form_token(token),
            **_questions_context(company),
        ),
        status,
    )


@lru_cache(maxsize=8)
def thank_you_html(company: str, consent: str) -> str:
    """The thank-you page, rendered once per company name and consent choice."""
    return render_template("candidate/thank_you.html", consent=consent)


UNREADABLE_NOTICE = "Some answers could not be read; please check them."
RETRY_NOTICE = (
    "We could not save your answers just now. Please try again in a minute: your answers are still here."
)


@bp.route("/s/<token>", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own CSRF token so a stale one keeps the answers
def take_survey(token: str):
    """Show the survey (never spends the link) or take the answers (spends it once)."""
    # A first visit needs no form object: the blank page is cached and carries the form token.
    # A well-formed submission needs none either; only one that needs messages builds the form.
    submission = quick_answers(request.form, CURRENT, token) if request.method == "POST" else None
    if request.method != "POST":
        return _show_survey(token)
    link = None
    try:
        link = resolve_link(load_survey_token, token)
        return _answer_survey(token, link, submission)
    except OperationalError as exc:
        # The database is unreachable: whatever the candidate typed goes back to them.
        db.session.rollback()
        # One line, not a traceback: an outage is an operations event, not a bug.
        current_app.logger.error("database unavailable while saving a survey: %s", exc.orig)
        return render_survey(token, link, _survey_form(token), 503, RETRY_NOTICE)


def _show_survey(token: str):
    # HEAD (mail scanners, link previews) gets the GET page without counting as an opening.
    link = open_survey_link(load_survey_token, token, record_open=request.method == "GET")
    return render_blank_survey(token, link.invitation) if link.state == "open" else render_link_state(link)


def _survey_form(token: str):
    return survey_form_class(CURRENT)(meta={"csrf_context": token})


def _answer_survey(token: str, link: SurveyLink, submission: tuple[dict, str] | None):
    if link.state != "open":
        return render_link_state(link)
    if submission is None:
        form = _survey_form(token)
        if not form.validate():
            return render_survey(token, link, form, 400, _form_notice(form))
        submission = (answers_from(form, CURRENT), form.consent.data)
    answers, consent = submission
    try:
        saved = submit_response(link.invitation, answers, consent)
    except AnswerError:
        return render_survey(token, link, _survey_form(token), 400, UNREADABLE_NOTICE)
    if not saved:
        return render_link_state(resolve_link(load_survey_token, token))
    # POST/redirect/GET: refreshing the thank-you page does not offer to send the form again.
    thanks = url_for("candidate.thank_you", token=token)
    response = redirect(thanks, 303)
    response.set_cookie(
        ANSWERED_COOKIE,
        make_answered_mark(token, consent),
        path=thanks,
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.get("/s/<token>/thanks")
def thank_you(token: str):
    """The thank-you page after answering; for anyone else the link says it is already answered."""
    link = resolve_link(load_survey_token, token)
    if link.state == "open":
        return redirect(url_for("candidate.take_survey", token=token))
    consent = load_answered_mark(token, request.cookies.get(ANSWERED_COOKIE))
    if link.state != "completed" or consent is None:
        return render_link_state(link)
    return thank_you_html(current_app.config["COMPANY_NAME"], consent)


def _form_notice(form) -> str:
    if "csrf_token" in form.errors:
        return "This page was open for a long time. Your answers are still here: please press Send again."
    return "Please check the highlighted answers. Everything else you wrote is kept."


@bp.route("/s/<token>/opt-out", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click posts carry no CSRF token; the signed token protects it
def opt_out_of_surveys(token: str):
    """GET asks for confirmation; POST stops all survey email to this candidate."""
    link = resolve_link(load_opt_out_token, token)
    if link.state == "invalid":
        return render_template("errors/link_invalid.html"), 404
    if link.invitation.candidate_opted_out_at is not None:
        return render_template("candidate/opted_out.html", just_now=request.method == "POST", already=True)
    if request.method == "POST":
        opt_out(link.invitation)
        return render_template("candidate/opted_out.html", just_now=True)
    return render_template("candidate/confirm_opt_out.html", form=OptOutForm())
