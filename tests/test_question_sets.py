"""Question sets as data: the import/export/list commands, versions fixed on the invitation,
answers recorded and reported under the version they answered, the consent choice always asked."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpers import csrf_token, survey_link
from survey.extensions import db
from survey.models import (
    AuditEvent,
    Invitation,
    QuestionSet,
    QuestionSetVersion,
    Response,
    report_cells,
    report_tallies,
)
from survey.services.invitations import send_due
from survey.services.question_sets import QuestionSetError, check_document, import_document
from survey.services.tallies import rebuild_cells

PANEL = {
    "name": "Panel",
    "stages": ["Panel"],
    "languages": ["en", "de"],
    "questions": [
        {
            "key": "nps",
            "type": "nps",
            "text": {
                "en": "How likely are you to recommend applying to {company} to a friend?",
                "de": "Wie wahrscheinlich ist es, dass Sie eine Bewerbung bei {company} weiterempfehlen?",
            },
        },
        {
            "key": "panel_fair",
            "type": "scale",
            "text": {
                "en": "The panel gave me room to show my strengths.",
                "de": "Das Panel hat mir Raum gegeben, meine Stärken zu zeigen.",
            },
            "labels": {
                "en": ["Strongly disagree", "Strongly agree"],
                "de": ["Stimme überhaupt nicht zu", "Stimme voll zu"],
            },
        },
        {
            "key": "improve",
            "type": "text",
            "text": {"en": "What should we do differently?", "de": "Was sollten wir anders machen?"},
        },
    ],
}


def write_set(tmp_path, document, name="set.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


def import_set(runner, tmp_path, document=PANEL):
    result = runner.invoke(args=["question-sets", "import", write_set(tmp_path, document)])
    assert result.exit_code == 0, result.output
    return result


def panel_v2():
    """Panel with a reworded item and a new choice item."""
    document = copy.deepcopy(PANEL)
    document["questions"][1]["text"]["en"] = "The panel let me show what I can do."
    document["questions"].insert(
        2,
        {
            "key": "panel_format",
            "type": "choice",
            "text": {"en": "Which format would you prefer?", "de": "Welches Format wäre Ihnen lieber?"},
            "options": [
                {"value": "onsite", "text": {"en": "On site", "de": "Vor Ort"}},
                {"value": "video", "text": {"en": "Video call", "de": "Videoanruf"}},
            ],
        },
    )
    return document


def issue(interview):
    send_due(now=interview.ends_at + timedelta(hours=3))
    return db.session.scalar(select(Invitation).where(Invitation.interview_id == interview.id))


def test_import_prints_name_and_version_and_a_second_file_is_the_next_version(runner, tmp_path):
    assert import_set(runner, tmp_path).output.strip() == "Panel version 1"
    assert import_set(runner, tmp_path, panel_v2()).output.strip() == "Panel version 2"
    versions = db.session.scalars(
        select(QuestionSetVersion.number)
        .join(QuestionSetVersion.question_set)
        .where(QuestionSet.name == "Panel")
    ).all()
    assert sorted(versions) == [1, 2]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "question_sets.import")).all()
    assert [event.details["version"] for event in audit] == [1, 2]


def test_the_same_file_twice_adds_no_version(runner, tmp_path):
    import_set(runner, tmp_path)
    assert import_set(runner, tmp_path).output.strip() == "Panel version 1 (unchanged)"


def test_export_prints_the_json_that_import_reads(runner, tmp_path):
    import_set(runner, tmp_path)
    import_set(runner, tmp_path, panel_v2())
    exported = json.loads(runner.invoke(args=["question-sets", "export", "Panel", "--version", "1"]).output)
    assert exported == PANEL
    newest = json.loads(runner.invoke(args=["question-sets", "export", "Panel"]).output)
    assert newest == panel_v2()
    missing = runner.invoke(args=["question-sets", "export", "Panel", "--version", "9"])
    assert missing.exit_code != 0 and "no version 9" in missing.output


def test_list_shows_each_set_with_version_stages_and_languages(runner, tmp_path):
    import_set(runner, tmp_path)
    output = runner.invoke(args=["question-sets", "list"]).output
    assert "Default: version 1; stages: default; languages: en, de, fr, es" in output
    assert "Panel: version 1; stages: Panel; languages: en, de" in output


def test_a_bad_file_lists_every_problem_with_its_path_and_stores_nothing(runner, tmp_path):
    bad = copy.deepcopy(PANEL)
    del bad["questions"][1]["labels"]["de"]
    bad["questions"][0]["text"].pop("de")
    bad["questions"][2]["type"] = "essay"
    bad["questions"].append({"key": "fair", "type": "text", "text": {"en": "x", "de": "y"}, "colour": "red"})
    before = db.session.scalar(select(func.count()).select_from(QuestionSetVersion))

    result = runner.invoke(args=["question-sets", "import", write_set(tmp_path, bad)])

    assert result.exit_code == 1
    for line in (
        "questions[1].labels.de: missing",
        "questions[0].text.de: missing",
        "questions[2].type: must be one of nps, scale, choice, text",
        "questions[3].colour: unknown field",
        # `fair` is a 1–5 item of the default set: one key, one type, so answers pool.
        "questions[3].type: the key 'fair' is a scale item in another set",
        "nothing was stored",
    ):
        assert line in result.output
    assert db.session.scalar(select(func.count()).select_from(QuestionSetVersion)) == before
    assert db.session.scalar(select(QuestionSet).where(QuestionSet.name == "Panel")) is None
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "question_sets.import")).all()


def one_item(item: dict) -> str:
    """A set's file with one item (and its texts in English)."""
    return json.dumps({"name": "X", "languages": ["en"], "questions": [{"text": {"en": "?"}, **item}]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "(file): not valid JSON"),
        ("[]", "(file): must be a JSON object"),
        (
            '{"name": "X", "languages": ["xx-nope"], "questions": []}',
            "languages[0]: 'xx-nope' is not a language",
        ),
        (one_item({"key": "consent", "type": "text"}), "questions[0].key: 'consent' is reserved"),
        (one_item({"key": "c", "type": "choice"}), "questions[0].options: missing"),
        (
            one_item({"key": "s", "type": "scale", "labels": {"en": ["only one"]}}),
            "questions[0].labels.en: must be 2 end labels",
        ),
        (
            one_item({"key": "s", "type": "text", "mirrors": "salary"}),
            "questions[0].mirrors: must be a debrief field",
        ),
    ],
)
def test_each_kind_of_bad_file_is_explained(runner, tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["question-sets", "import", str(path)])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output


def test_a_new_interview_at_an_assigned_stage_gets_the_set_and_another_stage_the_default(
    runner, tmp_path, make_interview, smtp_server, client
):
    import_set(runner, tmp_path)
    panel = issue(make_interview(stage="panel"))  # stages match whatever their case
    other = issue(make_interview(stage="Technical"))

    panel_version = db.session.get(QuestionSetVersion, panel.question_set_version_id)
    assert panel_version.question_set.name == "Panel"
    assert db.session.get(QuestionSetVersion, other.question_set_version_id).question_set.is_default

    panel_page = client.get(survey_link(smtp_server.handler.to(panel.interview.candidate.email)[-1]))
    assert "The panel gave me room to show my strengths." in panel_page.get_data(as_text=True)
    other_page = client.get(survey_link(smtp_server.handler.to(other.interview.candidate.email)[-1]))
    assert "The panel gave me room" not in other_page.get_data(as_text=True)
    assert "I was treated fairly and with respect." in other_page.get_data(as_text=True)


def test_a_link_issued_before_a_new_version_shows_the_old_questions_and_reports_under_them(
    runner, tmp_path, make_interview, smtp_server, client, answer_survey
):
    import_set(runner, tmp_path)
    early = issue(make_interview(stage="Panel"))
    old_version = early.question_set_version_id
    import_set(runner, tmp_path, panel_v2())
    late = issue(make_interview(stage="Panel"))
    assert late.question_set_version_id != old_version

    message = smtp_server.handler.to(early.interview.candidate.email)[-1]
    page = client.get(survey_link(message)).get_data(as_text=True)
    assert "The panel gave me room to show my strengths." in page
    assert "Which format would you prefer?" not in page and "The panel let me show" not in page
    assert answer_survey(message, panel_fair="4").status_code == 303

    response = db.session.scalar(select(Response))
    assert response.question_set_version == old_version
    assert response.answers == {"panel_fair": 4}
    new_page = client.get(survey_link(smtp_server.handler.to(late.interview.candidate.email)[-1]))
    assert "Which format would you prefer?" in new_page.get_data(as_text=True)


def test_the_consent_choice_is_always_asked_and_required(
    runner, tmp_path, make_interview, smtp_server, client
):
    import_set(runner, tmp_path)
    invitation = issue(make_interview(stage="Panel"))
    path = survey_link(smtp_server.handler.to(invitation.interview.candidate.email)[-1])
    page = client.get(path).get_data(as_text=True)
    assert 'name="consent" value="named"' in page and 'name="consent" value="anonymous"' in page

    refused = client.post(path, data={"csrf_token": csrf_token(page), "panel_fair": "5"})
    assert refused.status_code == 400
    assert "Please choose whether your recruiter may see your name." in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_a_choice_answer_outside_its_options_is_sent_back(
    runner, tmp_path, make_interview, smtp_server, client
):
    import_set(runner, tmp_path, panel_v2())
    invitation = issue(make_interview(stage="Panel"))
    path = survey_link(smtp_server.handler.to(invitation.interview.candidate.email)[-1])
    page = client.get(path).get_data(as_text=True)
    sent = client.post(
        path, data={"csrf_token": csrf_token(page), "panel_format": "<b>zoom</b>", "consent": "named"}
    )
    assert sent.status_code == 400
    assert "Please pick one of the options." in sent.get_data(as_text=True)
    assert "<b>zoom</b>" not in sent.get_data(as_text=True)


def answer_panel(
    make_interview, smtp_server, answer_survey, count, stage="Panel", consent="named", **answers
):
    for _ in range(count):
        invitation = issue(make_interview(stage=stage))
        message = smtp_server.handler.to(invitation.interview.candidate.email)[-1]
        assert answer_survey(message, consent=consent, **answers).status_code == 303


def test_a_custom_scale_item_shows_in_reports_and_in_every_export(
    runner, tmp_path, make_interview, smtp_server, answer_survey, client, staff
):
    from helpers import sign_in

    import_set(runner, tmp_path)
    answer_panel(make_interview, smtp_server, answer_survey, 3, panel_fair="4", nps="9")
    answer_panel(make_interview, smtp_server, answer_survey, 2, panel_fair="2")
    sign_in(client, staff["hr"].email)

    page = client.get("/reports").get_data(as_text=True)
    assert "The panel gave me room to show my strengths." in page
    assert "3.20" in page  # mean of 4, 4, 4, 2, 2

    as_json = json.loads(client.get("/reports/export.json").get_data(as_text=True))
    means = {
        (row["item"], row["statistic"]): row
        for row in as_json["aggregates"]
        if row["group"] == "All responses"
    }
    assert means[("panel_fair", "mean")]["value"] == 3.2 and means[("panel_fair", "mean")]["n"] == 5
    assert sorted(row["panel_fair"] for row in as_json["responses"]) == [2, 2, 4, 4, 4]
    aggregates_csv = client.get("/reports/export.csv").get_data(as_text=True)
    assert ",panel_fair,mean,3.2,5," in aggregates_csv
    responses_csv = client.get("/reports/export.csv?part=responses").get_data(as_text=True)
    assert ",panel_fair," in responses_csv.splitlines()[0] + ","

    from io import BytesIO

    from openpyxl import load_workbook

    workbook = load_workbook(BytesIO(client.get("/reports/export.xlsx").data), read_only=True)
    measures = [(row[2], row[3]) for row in workbook["Aggregates"].iter_rows(values_only=True)]
    header = next(workbook["Responses"].iter_rows(values_only=True))
    assert ("panel_fair", "mean") in measures and "panel_fair" in header


def test_items_sharing_key_and_type_pool_across_versions_and_choices_are_counted(
    runner, tmp_path, make_interview, smtp_server, answer_survey, app
):
    from survey.reports.filters import ReportFilters
    from survey.reports.queries import overall

    import_set(runner, tmp_path)
    answer_panel(make_interview, smtp_server, answer_survey, 2, panel_fair="5")
    import_set(runner, tmp_path, panel_v2())
    answer_panel(make_interview, smtp_server, answer_survey, 3, panel_fair="3", panel_format="video")

    figures, counts = overall(ReportFilters())
    assert figures.items["panel_fair"].n == 5 and figures.items["panel_fair"].total == 19
    assert counts["panel_format"] == {"onsite": 0, "video": 3}
    # The tallies kept at submit are exactly what a recount from the responses gives.
    cells = sorted(tuple(row)[1:] for row in db.session.execute(select(report_cells)))
    tallies = sorted(tuple(row)[1:] for row in db.session.execute(select(report_tallies)))
    rebuild_cells()
    assert sorted(tuple(row)[1:] for row in db.session.execute(select(report_cells))) == cells
    assert sorted(tuple(row)[1:] for row in db.session.execute(select(report_tallies))) == tallies


def test_a_published_version_is_never_changed_by_a_later_import(runner, tmp_path):
    import_set(runner, tmp_path)
    first = db.session.scalar(
        select(QuestionSetVersion)
        .where(QuestionSetVersion.number == 1)
        .join(QuestionSetVersion.question_set)
        .where(QuestionSet.name == "Panel")
    )
    stored = copy.deepcopy(first.document)
    import_set(runner, tmp_path, panel_v2())
    db.session.expire_all()
    assert db.session.get(QuestionSetVersion, first.id).document == stored


def test_importing_a_stage_moves_it_from_the_set_that_had_it(runner, tmp_path):
    import_set(runner, tmp_path)
    other = copy.deepcopy(PANEL)
    other["name"] = "Panel (engineering)"
    other["questions"] = other["questions"][1:2]
    result = runner.invoke(args=["question-sets", "import", write_set(tmp_path, other, "other.json")])
    assert result.exit_code == 0
    assert "note: Panel now uses Panel (engineering)" in result.output
    from survey.services.question_sets import version_for_stage

    assert version_for_stage("Panel").question_set.name == "Panel (engineering)"


def test_check_document_accepts_the_shipped_default_set(app):
    from survey.services.question_sets import DEFAULT_DOCUMENT

    document = json.loads(DEFAULT_DOCUMENT.read_text(encoding="utf-8"))
    clean = check_document(document)
    assert [item["key"] for item in clean["questions"]][:3] == ["nps", "on_time", "prepared"]
    with pytest.raises(QuestionSetError):
        import_document({"name": ""})


def test_findings_read_a_custom_items_per_value_counts_and_exports_share_each_choice(
    runner, tmp_path, make_interview, smtp_server, answer_survey, client, staff
):
    from helpers import sign_in
    from survey.reports.filters import ReportFilters
    from survey.reports.queries import cell_counts, report_items

    import_set(runner, tmp_path)
    answer_panel(make_interview, smtp_server, answer_survey, 2, panel_fair="5")
    import_set(runner, tmp_path, panel_v2())
    answer_panel(make_interview, smtp_server, answer_survey, 3, panel_fair="3", panel_format="video")
    answer_panel(make_interview, smtp_server, answer_survey, 2, panel_fair="3", panel_format="onsite")

    # The counts the rank tests read: a custom 1–5 item pooled over both versions, value by value;
    # a choice item has no order to rank, so it is not among them.
    counts = cell_counts(ReportFilters(), report_items())
    assert counts.counts["panel_fair"].sum(axis=0).tolist() == [0, 0, 5, 0, 2]
    assert "panel_format" not in counts.counts
    assert counts.counts["nps"].shape[1] == 11

    sign_in(client, staff["hr"].email)
    exported = json.loads(client.get("/reports/export.json").get_data(as_text=True))
    shares = {
        row["statistic"]: row
        for row in exported["aggregates"]
        if row["group"] == "All responses" and row["item"] == "panel_format"
    }
    # Five answered the choice (the privacy threshold): 3 of 5 prefer video.
    assert shares["share_pct:video"]["value"] == 60.0 and shares["share_pct:video"]["n"] == 5
    assert shares["share_pct:onsite"]["value"] == 40.0
    assert isinstance(exported["findings"], list)


def test_released_anonymous_answers_to_a_custom_item_count_at_cohort_grain(
    runner, tmp_path, make_interview, app
):
    """Anonymous answers are held back sealed with their version; once released as a cohort, the
    custom items of that version (a choice too) count in the organisation's and department's
    figures, and never in a finer one."""
    from datetime import UTC, datetime

    from survey.reports.filters import ReportFilters
    from survey.reports.report import build_report
    from survey.services.anonymity import release_cohorts
    from survey.services.responses import submit_response

    import_set(runner, tmp_path, panel_v2())
    for day in range(1, 6):
        interview = make_interview(stage="Panel", ends_at=f"2026-10-{day:02d}T10:00:00Z", starts_at=None)
        invitation = issue(interview)
        answers = {"panel_fair": 2, "panel_format": "video", "nps": 6}
        assert submit_response(invitation, answers, "anonymous", now=interview.ends_at + timedelta(hours=4))
    assert build_report(ReportFilters()).withheld  # held back: nothing counts yet
    assert release_cohorts(datetime(2026, 12, 5, tzinfo=UTC)).released == 5

    report = build_report(ReportFilters())
    assert report.overall.responses == 5 and report.anonymous_included
    assert report.overall.items["panel_fair"].mean == 2
    assert report.overall.counts["panel_format"] == {"onsite": 0, "video": 5}
    [by_stage] = [b for b in report.breakdowns if b.dimension.name == "stage"]
    assert by_stage.groups == [] and not by_stage.anonymous_included
