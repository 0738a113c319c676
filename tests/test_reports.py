"""HR reports: figures, privacy, findings, exports, access."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from scipy import stats as scipy_stats
from sqlalchemy import select

from helpers import csrf_token, recorded_statements
from survey.extensions import db
from survey.models import AuditEvent, Debrief, report_cells
from survey.reports.filters import ReportFilters
from survey.reports.report import build_report
from survey.services.accounts import create_user
from survey.services.responses import submit_response
from survey.services.tallies import rebuild_cells
from survey.small_groups import hidden_keys
from survey.themes import redact, top_phrases

POSITIONS = {
    "Engineering": {"title": "Backend Engineer", "department": "Engineering", "location": "Berlin"},
    "Legal": {"title": "Counsel", "department": "Legal", "location": "Berlin"},
    "Sales": {"title": "Account Executive", "department": "Sales", "location": "London"},
}
BASE = {"nps": 8, "on_time": 4, "prepared": 4, "role_clarity": 4, "fair": 5, "next_steps": 4}


@pytest.fixture
def hr_user(app):
    return create_user("hana.hr@example.com", "Hana Analyst", "hr", "password-123")


@pytest.fixture
def respond(make_interview):
    """Create an interview and answer its survey through the real services."""

    def answer(department="Engineering", stage="Technical", consent="named", **answers):
        interview = make_interview(position=POSITIONS[department], stage=stage)
        assert submit_response(interview.invitation, {**BASE, **answers}, consent)
        return interview

    return answer


def sign_in(client, email, password="password-123"):
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302


def csv_rows(text: str) -> list[dict]:
    """One CSV part of a report (one header row, then data) as dicts."""
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def export_csv(client, part: str = "aggregates", query: str = "") -> list[dict]:
    return csv_rows(client.get(f"/reports/export.csv?part={part}{query}").text)


# --- Access ------------------------------------------------------------------------------------


def test_recruiter_gets_404_on_reports_and_exports(client, recruiter):
    sign_in(client, recruiter.email)
    for url in ("/reports", "/reports/export.csv", "/reports/export.xlsx", "/reports/export.json"):
        assert client.get(url).status_code == 404


def test_signed_out_visitor_is_sent_to_login(client):
    response = client.get("/reports")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_hr_sees_the_reports_link(client, hr_user):
    sign_in(client, hr_user.email)
    assert 'href="/reports"' in client.get("/interviews").text


def test_recruiter_sees_no_reports_link(client, recruiter):
    sign_in(client, recruiter.email)
    assert 'href="/reports"' not in client.get("/interviews").text


# --- Figures -----------------------------------------------------------------------------------


def test_headline_figures_cnps_shares_and_means(app, respond):
    for nps in (10, 9, 8, 6, 3, 10):
        respond(nps=nps, prepared=nps // 2)
    report = build_report(ReportFilters())
    overall = report.overall
    assert overall.responses == 6
    assert (overall.promoters, overall.passives, overall.detractors) == (3, 1, 2)
    assert overall.nps == pytest.approx(100 * (3 - 2) / 6)
    prepared = overall.items["prepared"]
    assert prepared.n == 6 and prepared.mean == pytest.approx((5 + 4 + 4 + 3 + 1 + 5) / 6)
    sample = [5, 4, 4, 3, 1, 5]
    expected = scipy_stats.t.ppf(0.975, 5) * scipy_stats.sem(sample)
    assert prepared.margin == pytest.approx(expected)
    # No invitation was emailed (the surveys were answered straight away).
    assert report.invitations_sent == 0 and report.response_rate is None


def test_page_shows_figures_charts_and_tables(client, hr_user, respond):
    for nps in (10, 9, 8, 7, 3):
        respond(nps=nps)
    sign_in(client, hr_user.email)
    page = client.get("/reports").text
    assert "<svg" in page and "<script" not in page
    assert "cNPS" in page and "+20" in page  # (2 promoters - 1 detractor) / 5
    assert 'id="chart-dist-nps-table"' in page and 'id="breakdown-stage"' in page


def test_cells_kept_at_submit_equal_a_full_recount(app, respond):
    respond(nps=10, prepared=2)
    respond(department="Sales", stage="Onsite", nps=4)
    respond(department="Sales", stage="Onsite", nps=7, fair=1)
    # Compare the cells without their ids: a recount may insert them in another order.
    before = sorted(tuple(row)[1:] for row in db.session.execute(select(report_cells)))
    rebuild_cells()
    after = sorted(tuple(row)[1:] for row in db.session.execute(select(report_cells)))
    assert before == after


def test_filters_restrict_figures_and_stay_in_the_url(client, hr_user, respond):
    for _ in range(5):
        respond(department="Sales", nps=2)
    for _ in range(6):
        respond(department="Engineering", nps=10)
    sign_in(client, hr_user.email)
    report = build_report(ReportFilters(department="Sales"))
    assert report.overall.responses == 5 and report.overall.nps == -100
    page = client.get("/reports?department=Sales").text
    assert '<option selected value="Sales">' in page
    assert "/reports/export.csv?department=Sales" in page


def test_unknown_filter_value_is_reported_not_a_500(client, hr_user, respond):
    for _ in range(5):
        respond()
    sign_in(client, hr_user.email)
    response = client.get("/reports?department=Nowhere&month_from=garbage&fmt=csv")
    assert response.status_code == 200
    assert "Not a valid choice" in response.text


# --- Privacy -----------------------------------------------------------------------------------


@pytest.fixture
def small_legal_group(respond):
    """Ten Engineering responses, six Sales, and four from Legal with a tell-tale answer."""
    for _ in range(10):
        respond(department="Engineering", prepared=4)
    for _ in range(6):
        respond(department="Sales", prepared=3)
    for _ in range(4):
        respond(department="Legal", prepared=1, improve='=HYPERLINK("http://x") Legal team was rude')


def test_group_of_four_stays_hidden_at_threshold_five(client, hr_user, small_legal_group):
    report = build_report(ReportFilters())
    departments = {group.label: group for group in report.breakdown("department").groups}
    assert departments["Legal"].hidden
    # Legal alone (4) could be worked out from the total; the smallest shown group goes too.
    assert departments["Sales"].hidden and not departments["Engineering"].hidden
    positions = {group.label: group for group in report.breakdown("position").groups}
    assert positions["Counsel"].hidden
    sign_in(client, hr_user.email)
    page = client.get("/reports").text
    legal_row = page.split('<th scope="row">Legal</th>')[1].split("</tr>")[0]
    assert "suppressed" in legal_row and "1.00" not in legal_row


def test_filtering_down_to_the_small_group_shows_nothing(client, hr_user, small_legal_group):
    assert "Fewer than 5" in build_report(ReportFilters(department="Legal")).withheld
    # Engineering + Sales differs from "all" by exactly the four Legal responses.
    assert build_report(ReportFilters(stage="Technical", department="Engineering")).withheld is None
    sign_in(client, hr_user.email)
    data = json.loads(client.get("/reports/export.json?department=Legal").data)
    assert data["withheld"] and data["responses"] == [] and data["aggregates"] == []


def test_complementary_suppression_hides_enough_to_protect_the_small_group():
    assert hidden_keys({"a": 4, "b": 10, "c": 12}, 5) == {"a", "b"}
    assert hidden_keys({"a": 2, "b": 3, "c": 12}, 5) == {"a", "b"}
    assert hidden_keys({"a": 5, "b": 10}, 5) == set()


def test_exports_do_not_reveal_the_small_group(client, hr_user, small_legal_group):
    sign_in(client, hr_user.email)
    legal = [row for row in export_csv(client) if row["group"] == "Legal"]
    assert legal and all(row["value"] == "" and row["suppressed"] == "true" for row in legal)
    responses = export_csv(client, "responses")
    assert not any(row["department"] == "Legal" for row in responses)
    assert not any(row["position"] == "Counsel" for row in responses)
    assert not any("Legal" in row["statement"] for row in export_csv(client, "findings"))
    payload = json.loads(client.get("/reports/export.json").data)
    assert all(row["department"] != "Legal" for row in payload["responses"])
    workbook = load_workbook(io.BytesIO(client.get("/reports/export.xlsx").data), read_only=True)
    departments = [row[2] for row in workbook["Responses"].iter_rows(min_row=2, values_only=True)]
    assert "Legal" not in departments and departments.count("(suppressed)") >= 4


# --- Exports -----------------------------------------------------------------------------------


def test_formula_in_a_comment_arrives_as_text_in_csv_and_xlsx(client, hr_user, respond):
    for _ in range(5):
        respond(improve="=SUM(1,2)")
    respond(improve="@cmd")
    sign_in(client, hr_user.email)
    rows = export_csv(client, "responses")
    assert {row["improve"] for row in rows} == {"'=SUM(1,2)", "'@cmd"}
    workbook = load_workbook(io.BytesIO(client.get("/reports/export.xlsx").data))
    sheet = workbook["Responses"]
    column = [cell.value for cell in sheet[1]].index("improve")
    cells = [row[column] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in cells)
    assert {cell.value for cell in cells} == {"'=SUM(1,2)", "'@cmd"}


def test_export_formats_parse_and_are_audited(client, hr_user, respond):
    for _ in range(5):
        respond(department="Sales", improve="Tom Becker kept me waiting")
    sign_in(client, hr_user.email)
    response = client.get("/reports/export.json?department=Sales")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.data)
    assert data["filters"] == {"department": "Sales"}
    assert len(data["responses"]) == 5
    assert data["responses"][0]["improve"] == "[name] [name] kept me waiting"
    assert "email" not in data["responses"][0] and "name" not in data["responses"][0]
    [cnps] = [row for row in data["aggregates"] if row["statistic"] == "cnps" and row["dimension"] == "All"]
    assert isinstance(cnps["value"], float) and cnps["ci_low"] <= cnps["value"] <= cnps["ci_high"]
    assert isinstance(data["responses"][0]["nps"], int) and isinstance(data["findings"], list)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "department-Sales" in response.headers["Content-Disposition"]
    csv_response = client.get("/reports/export.csv?department=Sales")
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert 'filename="debrief-aggregates-department-Sales-' in csv_response.headers["Content-Disposition"]
    assert client.get("/reports/export.xlsx").headers["Content-Type"].startswith("application/vnd.openxml")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reports.export")).all()
    assert [(e.actor_label, e.details) for e in events] == [
        ("hana.hr@example.com", {"format": "json", "filters": {"department": "Sales"}}),
        ("hana.hr@example.com", {"format": "csv", "filters": {"department": "Sales"}}),
        ("hana.hr@example.com", {"format": "xlsx", "filters": {}}),
    ]


def test_cli_export_writes_the_file_and_audits(runner, respond, tmp_path):
    for _ in range(5):
        respond(stage="Onsite")
    out = tmp_path / "report.csv"
    result = runner.invoke(
        args=[
            "reports",
            "export",
            "--format",
            "csv",
            "--out",
            str(out),
            "--stage",
            "Onsite",
            "--part",
            "responses",
        ]
    )
    assert result.exit_code == 0, result.output
    assert len(csv_rows(out.read_text(encoding="utf-8"))) == 5
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reports.export"))
    assert event.actor_label == "cli" and event.details["filters"] == {"stage": "Onsite"}


# --- Findings ----------------------------------------------------------------------------------


def test_finding_names_a_stage_below_the_rest_and_the_other_stage_as_a_strength(app, respond):
    for index in range(20):
        respond(stage="Onsite", prepared=1 + index % 2)
    for index in range(30):
        respond(stage="Technical", prepared=4 + index % 2)
    findings = build_report(ReportFilters()).findings
    onsite = next(f for f in findings if f.group == "Onsite")
    assert onsite.kind == "weakness" and "the rest of the organisation" in onsite.text
    [prepared] = [item for item in onsite.items if item["item"] == "prepared"]
    assert (prepared["mean"], prepared["reference_mean"], prepared["n"]) == (1.5, 4.5, 20)
    assert prepared["difference"] == -3.0 and prepared["ci_low"] < -3.0 < prepared["ci_high"]
    assert prepared["q_value"] <= 0.05 and prepared["effect_size"] == -1.0
    assert next(f for f in findings if f.group == "Technical").kind == "strength"
    effects = [abs(f.effect_size) for f in findings if f.kind in ("weakness", "strength", "mixed")]
    assert effects == sorted(effects, reverse=True)


def test_no_finding_without_a_real_difference(app, respond):
    for index in range(40):
        respond(stage=("Onsite", "Technical")[index % 2], prepared=1 + index % 4 // 2 * 3)
    report = build_report(ReportFilters())
    assert report.family.comparisons > 0
    assert [f for f in report.findings if f.kind in ("weakness", "strength", "mixed")] == []


def test_systematic_perception_gap_is_a_finding(app, respond, recruiter):
    for index in range(20):
        interview = respond(stage="Onsite", consent="named", interest=2 + index % 2)
        db.session.add(Debrief(interview_id=interview.id, interest=5, next_step_signal="yes"))
    db.session.commit()
    report = build_report(ReportFilters())
    onsite = next(group for group in report.gaps["stage"] if group.label == "Onsite")
    assert onsite.gaps["interest"].mean == pytest.approx(-2.5) and onsite.flagged["interest"] == 20
    gaps = [f for f in report.findings if f.kind == "gap" and f.group == "Onsite"]
    assert gaps and "over-read" in gaps[0].text


def test_rule_pairs_are_counted_by_their_rules_in_the_perception_gaps(app, respond, recruiter):
    # 6 doubts "cleared" with role clarity 2 (flagged) and 2 with clarity 4; referral 5 for
    # 3 detractors (flagged), 3 promoters and 2 passives; nobody gave a 1–5 number for the 0–10 nps.
    for index in range(8):
        interview = respond(
            stage="Onsite", consent="named", role_clarity=2 if index < 6 else 4, nps=(3, 10, 7)[index % 3]
        )
        db.session.add(Debrief(interview_id=interview.id, doubts_cleared=True, referral_potential=5))
    db.session.commit()
    onsite = next(group for group in build_report(ReportFilters()).gaps["stage"] if group.label == "Onsite")
    assert (onsite.doubts_mismatches, onsite.doubts_checked) == (6, 8)
    assert (onsite.referral_mismatches, onsite.referral_checked) == (3, 8)
    assert "nps" not in onsite.gaps  # a 0–10 score is never subtracted from a 1–5 one


def test_recurring_themes_reported_without_names(app, respond):
    for _ in range(5):
        respond(stage="Onsite", improve="The interview started late. Hugo Manager never apologised.")
    for _ in range(4):
        respond(stage="Onsite", improve="Parking was impossible to find")
    themes = [f for f in build_report(ReportFilters()).findings if f.kind == "theme"]
    assert len(themes) == 1
    assert "interview started late" in themes[0].text
    assert "hugo" not in themes[0].text.lower() and "parking" not in themes[0].text.lower()


def test_names_are_masked_in_free_text():
    assert redact("Great chat with Priya. priya shah was late", ["Priya Shah"]) == (
        "Great chat with [name]. [name] [name] was late"
    )
    assert top_phrases([("Spoke to Tom Becker about salary range", 6)], 5) == [("salary range", 6)]


def test_a_single_response_in_a_department_is_not_tied_to_it_anywhere(client, hr_user, respond):
    for _ in range(10):
        respond(department="Engineering")
    for _ in range(6):
        respond(department="Sales")
    respond(department="Legal", nps=0, improve="Only one person said this")
    sign_in(client, hr_user.email)
    page = client.get("/reports").text
    assert "suppressed" in page.split('<th scope="row">Legal</th>')[1].split("</tr>")[0]
    lone = [row for row in export_csv(client, "responses") if row["improve"] == "Only one person said this"]
    assert lone and lone[0]["department"] == "(suppressed)" and lone[0]["position"] == "(suppressed)"
    assert all(row["suppressed"] == "true" for row in export_csv(client) if row["group"] == "Legal")
    payload = json.loads(client.get("/reports/export.json").data)
    assert all(row["department"] != "Legal" for row in payload["responses"])
    assert "Fewer than 5" in client.get("/reports?department=Legal").text


def test_page_query_count_does_not_grow_with_the_data(client, hr_user, respond):
    def queries_for_page() -> int:
        with recorded_statements() as statements:
            assert client.get("/reports").status_code == 200
        return len(statements)

    sign_in(client, hr_user.email)
    for _ in range(5):
        respond(department="Engineering", stage="Technical")
    small = queries_for_page()
    for department, stage in (("Sales", "Onsite"), ("Legal", "Phone screen"), ("Sales", "Technical")):
        for _ in range(6):
            respond(department=department, stage=stage, consent="named")
    assert queries_for_page() == small


def test_the_page_reads_the_tallies_per_cell_and_the_outcome_facts_once(client, hr_user, respond):
    sign_in(client, hr_user.email)
    for department in ("Engineering", "Sales"):
        for _ in range(6):
            respond(department=department)
    with recorded_statements(parameters=True) as statements:
        assert client.get("/reports").status_code == 200
    texts = [(" ".join(statement.split()), params) for statement, params in statements]
    # The breakdowns and the findings share one read of the tallies per cell; both outcome tables
    # share one read of their facts.
    assert sum("FROM report_group_tallies" in text for text, _ in texts) == 1
    assert sum("outcome_n" in str(params) for _, params in texts) == 1


def test_control_characters_in_answers_do_not_break_the_xlsx_export(client, hr_user, respond):
    for _ in range(5):
        respond(improve="late\x0bstart")
    sign_in(client, hr_user.email)
    response = client.get("/reports/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data))["Responses"]
    column = [cell.value for cell in sheet[1]].index("improve")
    assert {row[column].value for row in sheet.iter_rows(min_row=2)} == {"latestart"}


def test_month_filter_offers_only_whole_blocks_in_words_so_ranges_cannot_expose_a_quiet_month(
    client, hr_user, make_interview
):
    def answer_in(month: str, nps: int) -> None:
        interview = make_interview(
            position=POSITIONS["Engineering"],
            ends_at=f"{month}-10T10:00:00Z",
            starts_at=f"{month}-10T09:00:00Z",
        )
        assert submit_response(interview.invitation, {**BASE, "nps": nps}, "named")

    for month, count in (("2026-06", 5), ("2026-07", 1), ("2026-08", 5)):
        for _ in range(count):
            answer_in(month, 0 if month == "2026-07" else 8)
    sign_in(client, hr_user.email)
    page = client.get("/reports").text
    starts = page.split('name="month_from"')[1].split("</select>")[0]
    ends = page.split('name="month_to"')[1].split("</select>")[0]
    # June alone is a block; July's single answer joins August: a range starts at June or July only.
    assert ">June 2026<" in starts and ">July 2026<" in starts and "August 2026" not in starts
    assert ">June 2026<" in ends and ">August 2026<" in ends and "July 2026" not in ends
    assert "Not a valid choice" in client.get("/reports?month_from=2026-08").text
    # The command line has no form: the range check itself refuses the split.
    assert "would split a stretch of months" in build_report(ReportFilters(month_from="2026-08")).withheld
    assert build_report(ReportFilters(month_from="2026-07")).withheld is None


def test_month_blocks_merge_quiet_months_into_their_neighbours():
    from survey.reports.report import month_blocks

    counts = {"2026-01": 5, "2026-02": 1, "2026-03": 0, "2026-04": 5, "2026-05": 2}
    assert month_blocks(counts, 5) == [["2026-01"], ["2026-02", "2026-04", "2026-05"]]
