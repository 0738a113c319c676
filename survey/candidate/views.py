"""The candidate's survey link and one-click opt-out."""

from functools import lru_cache

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy.exc import OperationalError

from ..extensions import csrf, db
from ..i18n import local_day_month, request_locale, use_candidate_locale
from ..mailing import reply_to_address
from ..questions import QuestionSet
from ..services.errors import DomainError
from ..services.question_sets import remembered_questions
from ..services.responses import (
    LinkTarget,
    SurveyLink,
    link_questions,
    mark_opened,
    opt_out,
    read_survey_link,
    resolve_link,
    submit_response,
)
from ..templating import format_iso
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


def speak_to_candidate(link: SurveyLink) -> QuestionSet | None:
    """Switch this request to the candidate's language and time zone; their questions, if any."""
    if link.invitation is None:
        return None
    questions = link_questions(link.invitation)
    use_candidate_locale(questions.language, link.invitation.timezone)
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
    language (the set's value is the key: a version never changes once published)."""
    html = render_template(
        "candidate/_questions.html", answers={}, errors={}, **_questions_context(company, questions)
    )
    return Markup(html)


# Stand in for the per-link parts of the cached blank page; no rendered text can contain them.
CSRF_PLACEHOLDER = "\x00csrf-token\x00"
INTERVIEW_PLACEHOLDER = "\x00interview\x00"


@lru_cache(maxsize=64)
def blank_page_html(company: str, questions: QuestionSet) -> str:
    """The whole blank survey page, rendered once per company name, question-set version and
    language (the request already speaks that language: `speak_to_candidate`).

    Most survey requests are a first GET of an empty form, so the page is rendered once and
    each request only puts in its interview line and its form token. Nothing else depends on
    who asks: the candidate page shows no staff navigation and no flashed messages.
    """
    return render_template(
        "candidate/take_survey.html",
        form=None,
        answers={},
        errors={},
        blank_questions=blank_questions_html(company, questions),
        notice=None,
        csrf_value=CSRF_PLACEHOLDER,
        interview_lead=Markup(INTERVIEW_PLACEHOLDER),
        **_questions_context(company, questions),
    )


@lru_cache(maxsize=16)
def _lead_message(locale: str) -> str:
    # Looked up once per language (the request already speaks `locale`): a catalog lookup
    # through the request's translations costs more than the rest of the line.
    return _("Your %(stage)s interview for %(position)s on %(date)s.")


def interview_lead_html(target: LinkTarget) -> Markup:
    """The line naming the link's interview: stage, position and day, in the candidate's language
    and time zone (the request already speaks them), stage and position escaped.

    Built here rather than by a template: it is the only per-link text of the cached page, and
    a template's render costs several times as much on the page every candidate opens.
    """
    locale = request_locale()
    day = escape(local_day_month(target.ends_at, locale))
    when = f'<time datetime="{format_iso(target.ends_at)}">{day}</time>'
    # The message is the catalogs' own text; what fills it is escaped, as Markup's % would.
    line = _lead_message(locale) % {
        "stage": escape(target.stage),
        "position": escape(target.position_title),
        "date": when,
    }
    return Markup(f'<p class="lead">{line}</p>')


def render_blank_survey(token: str, questions: QuestionSet, target: LinkTarget) -> str:
    """The cached blank page with this link's interview line and form token."""
    page = blank_page_html(current_app.config["COMPANY_NAME"], questions)
    return page.replace(INTERVIEW_PLACEHOLDER, interview_lead_html(target), 1).replace(
        CSRF_PLACEHOLDER, str(escape(make_survey_form_token(token))), 1
    )


def render_survey(
    token: str, questions: QuestionSet, link: SurveyLink | None, form, status: int, notice: str
):
    """The survey form sent back with the answers already given kept in it, under the link's
    interview (link None: the database could not say which)."""
    company = current_app.config["COMPANY_NAME"]
    return (
        render_template(
            "candidate/take_survey.html",
            interview_lead=interview_lead_html(link.invitation) if link and link.invitation else None,
            form=form,
            answers={name: field.data for name, field in form._fields.items()},
            errors=form.errors,
            blank_questions=None,
            notice=notice,
            csrf_value=make_survey_form_token(token),
            **_questions_context(company, questions),
        ),
        status,
    )


@lru_cache(maxsize=64)
def thank_you_html(company: str, consent: str, language: str) -> str:
    """The thank-you page, rendered once per company name, consent choice and language (the
    request already speaks it)."""
    return render_template("candidate/thank_you.html", consent=consent)


RETRY_NOTICE = _l(
    "We could not save your answers just now. Please try again in a minute: your answers are still here."
)


@bp.route("/s/<token>", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own CSRF token so a stale one keeps the answers
def take_survey(token: str):
    """Show the survey (never spends the link) or take the answers (spends it once)."""
    if request.method != "POST":
        return _show_survey(token)
    link = questions = None
    try:
        link = resolve_link(load_survey_token, token)
        questions = speak_to_candidate(link)
        if link.state != "open":
            return render_link_state(link)
        return _answer_survey(token, link, questions)
    except OperationalError as exc:
        # The database is unreachable: whatever the candidate typed goes back to them, in the
        # questions the page was showing (remembered by this process, else the default set's).
        db.session.rollback()
        # One line, not a traceback: an outage is an operations event, not a bug.
        current_app.logger.error("database unavailable while saving a survey: %s", exc.orig)
        if questions is None:
            questions = remembered_questions(request.form.get("question_set", ""))
            use_candidate_locale(questions.language, current_app.config["DEFAULT_TIMEZONE"])
        # The link is not read again: the header shows the interview only if it was resolved.
        known = link if link is not None and link.invitation is not None else None
        return render_survey(token, questions, known, _survey_form(token, questions), 503, str(RETRY_NOTICE))


def _show_survey(token: str):
    # A first visit needs no form object: the blank page is cached and carries the form token.
    link = read_survey_link(load_survey_token, token)
    questions = speak_to_candidate(link)
    if link.state != "open":
        return render_link_state(link)
    # HEAD (mail scanners, link previews) gets the GET page without counting as an opening.
    if request.method == "GET":
        mark_opened(link.invitation)
    return render_blank_survey(token, questions, link.invitation)


def _survey_form(token: str, questions: QuestionSet):
    return survey_form_class(questions)(meta={"csrf_context": token})


def _answer_survey(token: str, link: SurveyLink, questions: QuestionSet):
    # A well-formed submission needs no form object; only one that needs messages builds it.
    submission = quick_answers(request.form, questions, token)
    if submission is None:
        form = _survey_form(token, questions)
        if not form.validate():
            return render_survey(token, questions, link, form, 400, _form_notice(form))
        submission = (answers_from(form, questions), form.consent.data)
    answers, consent = submission
    try:
        saved = submit_response(link.invitation, answers, consent, questions)
    except DomainError:
        notice = _("Some answers could not be read; please check them.")
        return render_survey(token, questions, link, _survey_form(token, questions), 400, notice)
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
    questions = speak_to_candidate(link)
    if link.state == "open":
        return redirect(url_for("candidate.take_survey", token=token))
    consent = load_answered_mark(token, request.cookies.get(ANSWERED_COOKIE))
    if link.state != "completed" or consent is None:
        return render_link_state(link)
    return thank_you_html(current_app.config["COMPANY_NAME"], consent, questions.language)


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
    if link.invitation.candidate_opted_out_at is not None:
        return render_template("candidate/opted_out.html", just_now=request.method == "POST", already=True)
    if request.method == "POST":
        opt_out(link.invitation)
        return render_template("candidate/opted_out.html", just_now=True)
    return render_template("candidate/confirm_opt_out.html", form=OptOutForm())
