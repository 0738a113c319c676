"""The candidate's language and time zone: catalogs, emails, pages, and the intake fields."""

from __future__ import annotations

import gettext
import json
import re
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from flask import g
from sqlalchemy import select

from helpers import csrf_token, interview_payload, new_interview_form, sign_in, survey_link, text_part
from survey.extensions import db
from survey.i18n import SHIPPED_LANGUAGES, SOURCE_DIR, compile_catalogs
from survey.models import Interview, Invitation
from survey.services.invitations import send_due

ROOT = Path(__file__).resolve().parent.parent
# Where candidates read text: their pages, their emails, the error pages they can reach.
CANDIDATE_FACING = (
    "templates/candidate/",
    "templates/email/survey_invitation",
    "templates/errors/",
    "templates/base.html",
    "survey/candidate/",
    "survey/services/invitations.py",
    "survey/errors.py",
)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def subject(message) -> str:
    """An email's subject, decoded (non-ASCII subjects travel encoded)."""
    return str(make_header(decode_header(message["Subject"])))


def extracted_messages() -> dict[str, set[str]]:
    """Every translatable string in the sources (as `pybabel extract` finds them), with its files."""
    method_map = [("survey/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    messages: dict[str, set[str]] = {}
    for filename, _, message, _, _ in extract_from_dir(str(ROOT), method_map=method_map, keywords=keywords):
        if filename.startswith(("survey", "templates")):
            message = message[0] if isinstance(message, tuple) else message
            messages.setdefault(message, set()).add(filename)
    return messages


def candidate_messages() -> set[str]:
    return {
        message
        for message, files in extracted_messages().items()
        if any(file.startswith(CANDIDATE_FACING) for file in files)
    }


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_each_shipped_language_translates_every_candidate_facing_string(app, language):
    """Over the compiled catalogs the app uses: no candidate-facing string is left untranslated,
    and every placeholder survives the translation."""
    directory = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    with (directory / language / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    wanted = candidate_messages()
    assert len(wanted) > 50  # the extraction really found the pages' and emails' strings
    missing = sorted(message for message in wanted if not catalog._catalog.get(message))
    assert missing == []
    for message in wanted:
        assert set(PLACEHOLDER.findall(catalog.gettext(message))) == set(PLACEHOLDER.findall(message)), (
            message
        )
    if language != "en":
        translated = [message for message in wanted if catalog.gettext(message) != message]
        assert len(translated) > 0.9 * len(wanted)


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_an_invitation_filled_into_its_stencil_reads_as_the_templates_render_it(app, language):
    """Each invitation email is its language's stencil (rendered once, `gettext` bound to the
    catalog) with the email's own values put in: the same text as Flask-Babel rendering the
    templates with those values, escaped alike in the HTML, a value that reads like a slot kept."""
    from flask import render_template
    from markupsafe import escape

    from survey.i18n import candidate_locale
    from survey.services.invitations import EMAIL_VALUES, email_stencils, fill_stencil

    values = dict.fromkeys(EMAIL_VALUES, "A & B <i>\x00subject\x00'\"")
    values |= {"first_name": "Zoë <b>", "survey_url": "http://x/s/a?b=1&c=2", "interview_when": "2. Januar"}
    with candidate_locale(language, "Europe/Berlin"):
        for reminder in (False, True):
            text, html = email_stencils("A & B <Co>", language, reminder)
            context = values | {"company": "A & B <Co>", "language": language, "is_reminder": reminder}
            assert fill_stencil(text, values) == render_template("email/survey_invitation.txt", **context)
            escaped = {key: str(escape(value)) for key, value in values.items()}
            rendered = render_template("email/survey_invitation.html", **context)
            assert fill_stencil(html, escaped) == rendered
    assert "Zoë &lt;b&gt;" in rendered and "A &amp; B &lt;Co&gt;" in rendered and "\x00subject" in rendered


def test_catalogs_compile_when_a_po_file_is_newer_and_not_otherwise(tmp_path):
    assert sorted(compile_catalogs(SOURCE_DIR, tmp_path)) == sorted(SHIPPED_LANGUAGES)
    assert compile_catalogs(SOURCE_DIR, tmp_path) == []
    with (tmp_path / "de" / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        assert gettext.GNUTranslations(handle).gettext("Send my answers") == "Antworten senden"


def german_interview(make_interview, **overrides):
    return make_interview(
        language="de",
        timezone="Europe/Berlin",
        starts_at="2026-11-20T09:00:00Z",
        ends_at="2026-11-20T10:00:00Z",
        **overrides,
    )


def test_a_german_interviews_email_and_page_are_german_in_berlin_time(make_interview, smtp_server, client):
    interview = german_interview(make_interview)
    send_due(now=interview.ends_at + timedelta(hours=3))
    message = smtp_server.handler.to(interview.candidate.email)[-1]

    # A natural subject naming the stage and greeting by first name; the sender names the company.
    assert subject(message) == "Wie war Ihr Gespräch (Technical), Candidate?"
    assert message["Content-Language"] == "de"
    body = text_part(message)
    # 09:00 UTC is 10:00 in Berlin in November (CET), written the German way.
    assert "20. November 2026, 10:00 MEZ" in body
    assert "Vielen Dank für Ihr Gespräch bei Acme Test Co" in body
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert b'<html lang="de">' in html

    page = client.get(survey_link(message))
    text = page.get_data(as_text=True)
    assert page.headers["Content-Language"] == "de"
    assert '<html lang="de">' in text
    assert "Wie war Ihr Gespräch?" in text and "Antworten senden" in text
    assert "Ich wurde fair und respektvoll behandelt." in text  # the default set speaks German
    assert "Stimme voll zu" in text
    assert "How was your interview" not in text


@pytest.mark.parametrize(
    ("language", "expected_subject", "button"),
    [
        ("fr", "Comment s’est passé votre entretien (Technical), Candidate ?", "Envoyer mes réponses"),
        ("es", "¿Qué tal fue su entrevista (Technical), Candidate?", "Enviar mis respuestas"),
        ("en", "How was your Technical interview, Candidate?", "Send my answers"),
    ],
)
def test_each_shipped_language_reaches_the_email_and_page(
    make_interview, smtp_server, client, language, expected_subject, button
):
    interview = make_interview(language=language)
    send_due(now=interview.ends_at + timedelta(hours=3))
    message = smtp_server.handler.to(interview.candidate.email)[-1]
    assert subject(message) == expected_subject
    page = client.get(survey_link(message))
    assert button in page.get_data(as_text=True)
    assert f'<html lang="{language}">' in page.get_data(as_text=True)


def test_the_expired_and_thank_you_pages_speak_the_candidates_language(make_interview, smtp_server, client):
    interview = german_interview(make_interview)
    send_due(now=interview.ends_at + timedelta(hours=3))
    path = survey_link(smtp_server.handler.to(interview.candidate.email)[-1])
    page = client.get(path).get_data(as_text=True)
    sent = client.post(path, data={"csrf_token": csrf_token(page), "consent": "anonymous"})
    # The thank-you page is a request of its own (PRG): it switches to the candidate's language
    # itself. The test client shares `g` across requests, so forget the POST's choice first.
    for name in ("candidate_language", "candidate_locale", "candidate_timezone"):
        g.pop(name, None)
    thanks = client.get(sent.headers["Location"])
    assert "Vielen Dank" in thanks.get_data(as_text=True)
    assert thanks.headers["Content-Language"] == "de"
    again = client.get(path).get_data(as_text=True)
    assert "wir haben Ihre Antworten bereits" in again

    other = german_interview(make_interview)
    send_due(now=other.ends_at + timedelta(hours=3))
    invitation = db.session.scalar(select(Invitation).where(Invitation.interview_id == other.id))
    send_due(now=invitation.expires_at + timedelta(minutes=1))
    expired = client.get(survey_link(smtp_server.handler.to(other.candidate.email)[-1]))
    assert expired.status_code == 410
    assert "Dieser Link ist am" in expired.get_data(as_text=True) and "MEZ" in expired.get_data(as_text=True)


def test_a_set_without_the_candidates_language_shows_its_first_and_the_api_warns(
    client, api_key, recruiter, runner, tmp_path
):
    from test_question_sets import PANEL, write_set

    runner.invoke(args=["question-sets", "import", write_set(tmp_path, PANEL)])
    headers = {"Authorization": f"Bearer {api_key}"}
    french = client.post(
        "/api/v1/interviews",
        json=interview_payload(stage="Panel", language="fr", external_id="fr-1"),
        headers=headers,
    )
    assert french.status_code == 201
    assert french.json["language"] == "fr"
    assert "does not speak 'fr'" in french.json["warnings"]["language"]
    assert "'en'" in french.json["warnings"]["language"]

    german = client.post(
        "/api/v1/interviews",
        json=interview_payload(stage="Panel", language="de", external_id="de-1"),
        headers=headers,
    )
    assert german.status_code == 201 and "warnings" not in german.json


def test_the_api_stores_language_and_timezone_and_defaults_them(client, api_key, recruiter, app):
    headers = {"Authorization": f"Bearer {api_key}"}
    given = client.post(
        "/api/v1/interviews",
        json=interview_payload(language="de", timezone="Europe/Berlin", external_id="x-1"),
        headers=headers,
    )
    assert (given.json["language"], given.json["timezone"]) == ("de", "Europe/Berlin")
    app.config.update(DEFAULT_LANGUAGE="es", DEFAULT_TIMEZONE="America/Mexico_City")
    default = client.post("/api/v1/interviews", json=interview_payload(external_id="x-2"), headers=headers)
    assert (default.json["language"], default.json["timezone"]) == ("es", "America/Mexico_City")


def test_the_api_refuses_an_unknown_language_or_time_zone(client, api_key, recruiter):
    headers = {"Authorization": f"Bearer {api_key}"}
    response = client.post(
        "/api/v1/interviews",
        json=interview_payload(language="klingon!", timezone="Europe/Atlantis"),
        headers=headers,
    )
    assert response.status_code == 400
    assert set(response.json["errors"]) == {"language", "timezone"}
    assert "Europe/Berlin" in response.json["errors"]["timezone"]


def test_the_csv_import_reads_language_and_timezone(app, recruiter, tmp_path, runner):
    path = tmp_path / "interviews.csv"
    path.write_text(
        "candidate_name,candidate_email,position_title,stage,recruiter_email,ends_at,language,timezone\n"
        "Greta,greta@example.org,Backend Engineer,Onsite,rita.recruiter@example.com,"
        "2026-11-20T10:00:00Z,de,Europe/Berlin\n"
        "Bad,bad@example.org,Backend Engineer,Onsite,rita.recruiter@example.com,"
        "2026-11-20T10:00:00Z,de,Mars/Base\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["interviews", "import", str(path)])
    assert "line 3: timezone:" in result.output
    interview = db.session.scalar(select(Interview))
    assert (interview.language, interview.timezone) == ("de", "Europe/Berlin")


def test_the_recruiters_form_offers_the_shipped_languages_and_stores_the_choice(client, recruiter):
    sign_in(client, recruiter.email)
    page = client.get("/interviews/new").get_data(as_text=True)
    for code, name in (("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")):
        assert f'<option value="{code}"' in page or f'value="{code}">{name}' in page
    form = new_interview_form(page, ends_at="2026-11-20T10:00", language="de", timezone="Europe/Berlin")
    assert client.post("/interviews/new", data=form).status_code == 302
    interview = db.session.scalar(select(Interview))
    assert (interview.language, interview.timezone) == ("de", "Europe/Berlin")
    bad = client.post(
        "/interviews/new", data={**form, "candidate_email": "g2@example.org", "timezone": "Nowhere"}
    )
    assert bad.status_code == 400 and "IANA time zone" in bad.get_data(as_text=True)


def test_staff_pages_stay_english(client, staff):
    sign_in(client, staff["hr"].email)
    page = client.get("/interviews")
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert "Content-Language" not in page.headers


def test_done_when_panel_file_german_candidate_in_berlin_five_answers_then_reports_and_exports(
    client, api_key, recruiter, staff, runner, tmp_path, smtp_server
):
    """The issue's acceptance run, as a new user would do it."""
    from test_question_sets import PANEL, write_set

    imported = runner.invoke(args=["question-sets", "import", write_set(tmp_path, PANEL)])
    assert imported.output.strip() == "Panel version 1"

    headers = {"Authorization": f"Bearer {api_key}"}
    paths = []
    for number in range(5):
        created = client.post(
            "/api/v1/interviews",
            json=interview_payload(
                stage="Panel",
                language="de",
                timezone="Europe/Berlin",
                external_id=f"panel-{number}",
                candidate={"name": f"Greta {number}", "email": f"greta{number}@example.org"},
            ),
            headers=headers,
        )
        assert created.status_code == 201 and "warnings" not in created.json
        interview = db.session.get(Interview, created.json["id"])
        send_due(now=interview.ends_at + timedelta(hours=3))
        message = smtp_server.handler.to(f"greta{number}@example.org")[-1]
        assert subject(message) == "Wie war Ihr Gespräch (Panel), Greta?"
        assert "20. November 2026, 10:00 MEZ" in text_part(message)
        paths.append(survey_link(message))

    page = client.get(paths[0]).get_data(as_text=True)
    assert "Das Panel hat mir Raum gegeben, meine Stärken zu zeigen." in page
    assert "Stimme überhaupt nicht zu" in page and '<html lang="de">' in page
    for number, path in enumerate(paths):
        form = client.get(path).get_data(as_text=True)
        sent = client.post(
            path,
            data={
                "csrf_token": csrf_token(form),
                "panel_fair": str(1 + number),
                "nps": "8",
                "consent": "named",
            },
        )
        # Answers taken: POST/redirect/GET to the thank-you page.
        assert sent.status_code == 303 and sent.headers["Location"].endswith(f"{path}/thanks")

    sign_in(client, staff["hr"].email)
    reports = client.get("/reports").get_data(as_text=True)
    assert "The panel gave me room to show my strengths." in reports
    exported = json.loads(client.get("/reports/export.json").get_data(as_text=True))
    measures = {
        (row["item"], row["statistic"]): row
        for row in exported["aggregates"]
        if row["group"] == "All responses"
    }
    assert measures[("panel_fair", "mean")]["value"] == 3.0 and measures[("panel_fair", "mean")]["n"] == 5
    assert ",panel_fair,mean,3.0,5," in client.get("/reports/export.csv").get_data(as_text=True)
    assert client.get("/reports/export.xlsx").status_code == 200
