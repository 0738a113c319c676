"""Report pages and exports, for hr and admin (anyone else gets 404)."""

from __future__ import annotations

from flask import Response, current_app, render_template, request, stream_with_context
from flask_login import current_user

from ..access import role_required
from ..errors import cut_off_on_outage
from ..models import utcnow
from ..questions import SCALE_PAIRS
from ..services.audit import record_report_export
from ..small_groups import min_group_size
from . import bp, queries
from .charts import bar_chart, interval_rows, likert_rows, mean_ci, nps_ci
from .export import (
    CSV_PARTS,
    MEDIA_TYPES,
    export_filename,
    stream_csv,
    stream_json,
    stream_xlsx,
)
from .findings import q_text
from .forms import ReportFilterForm
from .outcomes import build_outcomes
from .report import Report, build_report, month_bounds

# The page lists the strongest findings; the downloads carry all of them.
PAGE_FINDINGS = 15
bp.add_app_template_global(mean_ci, "mean_ci")
bp.add_app_template_global(nps_ci, "nps_ci")


def _filters_from_request() -> tuple[ReportFilterForm, Report]:
    form = ReportFilterForm(request.args)
    form.set_choices(queries.filter_options())
    # The month lists depend on the other filters: offer only the months the range will accept.
    form.limit_months(*month_bounds(form.to_filters(), min_group_size()))
    return form, build_report(form.to_filters())


@bp.get("")
@role_required("hr", "admin")
def index():
    """Headline figures, trend, distributions, breakdowns, perception gaps and findings."""
    form, report = _filters_from_request()
    return render_template(
        "reports/index.html",
        form=form,
        report=report,
        outcomes=build_outcomes(report.filters, report.numeric_items),
        scale_prompts={q.key: q.prompt(current_app.config["COMPANY_NAME"]) for q in report.numeric_items},
        charts=charts_for(report),
        scale=report.numeric_items,
        scale_pairs=SCALE_PAIRS,
        page_findings=PAGE_FINDINGS,
        q_text=q_text,
    )


@bp.get("/export.<any(csv, xlsx, json):fmt>")
@role_required("hr", "admin")
def export(fmt: str):
    """Download the report with the page's filters; the download is recorded in the audit log.

    CSV holds one table, chosen by `part`: the tidy aggregates (default), the raw responses or the
    findings; XLSX and JSON hold all three."""
    part = request.args.get("part", "aggregates") if fmt == "csv" else None
    if part is not None and part not in CSV_PARTS:
        part = "aggregates"
    _, report = _filters_from_request()
    record_report_export(fmt, report.filters.active(), actor=current_user)
    filename = export_filename(fmt, report.filters, part, utcnow())
    if fmt == "csv":
        body = stream_csv(report, part=part)
    else:
        body = {"json": stream_json, "xlsx": stream_xlsx}[fmt](report)
    return Response(
        stream_with_context(cut_off_on_outage(body)),
        mimetype=None,
        content_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def charts_for(report: Report) -> dict:
    """The charts of a report: diverging bars of every 1–5 item, cNPS by month with its interval,
    and each item's distribution."""
    if report.withheld:
        return {}
    overall = report.overall
    likert = likert_rows(
        [
            (q.prompt(current_app.config["COMPANY_NAME"]), report.distributions[q.key])
            # The 1–5 items of every set (a custom set's too); cNPS has its own chart.
            for q in report.numeric_items
            if q.kind == "scale" and q.key not in overall.hidden_items
        ]
    )
    months = [
        (
            group.label,
            None if group.hidden or "nps" in group.hidden_items else group.nps,
            None if group.hidden or "nps" in group.hidden_items else group.nps_interval,
            _nps_text(group),
        )
        for group in report.trend.groups
    ]
    distributions = {
        q.key: bar_chart(
            q.prompt(current_app.config["COMPANY_NAME"]),
            [
                (str(value) if q.numeric else q.label_for(value), count, str(count))
                for value, count in report.distributions[q.key].items()
            ],
            0,
            max(max(report.distributions[q.key].values(), default=0), 1),
        )
        for q in report.items
    }
    return {"likert": likert, "trend": interval_rows(months, -100, 100), "distributions": distributions}


def _nps_text(group) -> str:
    if group.hidden or "nps" in group.hidden_items:
        return "suppressed"
    interval = group.nps_interval
    if group.nps is None or interval is None:
        return "—"
    return f"{group.nps:+.0f} (95% CI {interval[0]:+.0f} to {interval[1]:+.0f}, n = {group.nps_answers})"
