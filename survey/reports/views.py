"""Report pages and exports, for hr and admin (anyone else gets 404)."""

from __future__ import annotations

from flask import Response, current_app, render_template, request, stream_with_context

from ..access import role_required
from ..models import utcnow
from ..questions import SCALE_PAIRS
from . import bp, queries
from .charts import bar_chart
from .export import MEDIA_TYPES, record_export, stream_csv, stream_json, stream_xlsx
from .forms import ReportFilterForm
from .outcomes import build_outcomes
from .report import Report, build_report

# The page lists the strongest findings; the downloads carry all of them.
PAGE_FINDINGS = 15


def _filters_from_request() -> tuple[ReportFilterForm, Report]:
    form = ReportFilterForm(request.args)
    form.set_choices(queries.filter_options())
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
        outcomes=build_outcomes(report.filters),
        scale_prompts={q.key: q.prompt(current_app.config["COMPANY_NAME"]) for q in queries.SCALE},
        charts=charts_for(report),
        scale=queries.SCALE,
        scale_pairs=SCALE_PAIRS,
        page_findings=PAGE_FINDINGS,
    )


@bp.get("/export.<any(csv, xlsx, json):fmt>")
@role_required("hr", "admin")
def export(fmt: str):
    """Download the report with the page's filters; the download is recorded in the audit log."""
    _, report = _filters_from_request()
    record_export(fmt, report.filters)
    streams = {"csv": stream_csv, "json": stream_json, "xlsx": stream_xlsx}
    filename = f"debrief-report-{utcnow():%Y%m%d-%H%M}.{fmt}"
    return Response(
        stream_with_context(streams[fmt](report)),
        mimetype=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def charts_for(report: Report) -> dict:
    """The SVG charts of a report: cNPS by month, and the mean of each item."""
    if report.withheld:
        return {}
    months = [
        (group.label, None if group.hidden else group.nps, _number(group.nps, "{:.0f}", group.hidden))
        for group in report.trend.groups
    ]
    overall = report.overall
    items = [
        (
            q.prompt(""),
            None if q.key in overall.hidden_items else overall.items[q.key].mean,
            _number(overall.items[q.key].mean, "{:.2f}", q.key in overall.hidden_items),
        )
        for q in queries.SCALE
        if q.key != "nps"
    ]
    distributions = {
        q.key: bar_chart(
            q.prompt(""),
            [(str(value), count, str(count)) for value, count in report.distributions[q.key].items()],
            0,
            max(max(report.distributions[q.key].values()), 1),
        )
        for q in queries.SCALE
    }
    return {
        "trend": bar_chart("cNPS by month", months, -100, 100),
        "items": bar_chart("Mean of each item (1–5)", items, 1, 5),
        "distributions": distributions,
    }


def _number(value: float | None, pattern: str, hidden: bool = False) -> str:
    if hidden:
        return "suppressed"
    return "—" if value is None else pattern.format(value)
