"""Leads to keep in touch with, and the brief for a position's next candidate."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from ..access import requested_page, role_required
from ..forms import ActionForm
from ..models import ROLES, utcnow
from ..reports.export import neutralise
from ..services.interviews import PAGE_SIZES, PER_PAGE
from ..services.leads import (
    LEAD_SORTS,
    Lead,
    LeadError,
    iter_leads,
    lead_page,
    mark_contacted,
    record_leads_export,
)
from ..services.leads import position_brief as brief_for
from ..templating import local
from . import bp


def lead_order() -> tuple[str, bool, int]:
    """Sort column, direction and page size from the query string (unknown values: the defaults)."""
    sort = request.args.get("sort", "date")
    per_page = request.args.get("per_page", PER_PAGE, type=int)
    return (
        sort if sort in LEAD_SORTS else "date",
        request.args.get("direction") != "asc",
        per_page if per_page in PAGE_SIZES else PER_PAGE,
    )


@bp.get("/leads")
@role_required(*ROLES)
def leads():
    """Named promoters and likely referrers who were not hired, paged and sortable."""
    sort, descending, per_page = lead_order()
    page = lead_page(current_user, requested_page(), per_page, sort, descending)
    args = {key: value for key, value in request.args.items() if key != "page"}
    return render_template(
        "recruiter/leads.html",
        page=page,
        sort=sort,
        descending=descending,
        args=args,
        action_form=ActionForm(),
    )


@bp.post("/leads/<int:interview_id>/contacted")
@role_required("recruiter")
def lead_contacted(interview_id: int):
    """Mark one's own lead as contacted (or not); recorded in the audit log."""
    if not ActionForm().validate_on_submit():
        abort(400)
    contacted = request.form.get("contacted") == "yes"
    try:
        mark_contacted(current_user, interview_id, contacted)
    except LeadError:
        abort(404)  # someone else's interview: confirm nothing
    flash("Marked as contacted." if contacted else "Contacted mark removed.", "success")
    return redirect(request.form.get("back") if _safe_back() else url_for("recruiter.leads"))


def _safe_back() -> bool:
    back = request.form.get("back") or ""
    return back.startswith("/leads") and not back.startswith("//")


CSV_HEADER = (
    "candidate",
    "email",
    "position",
    "stage",
    "interview_ended",
    "would_recommend_0_10",
    "referral_potential_1_5",
    "open_to_other_roles",
    "contacted_at",
)


def lead_csv_rows(rows: Iterator[Lead]) -> Iterator[str]:
    """The leads as CSV text, a chunk per 500 rows, cells a spreadsheet would run neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"  # so spreadsheet programs read the file as UTF-8
    writer.writerow(CSV_HEADER)
    for count, lead in enumerate(rows, start=1):
        yes_no = {True: "yes", False: "no"}.get(lead.open_to_other_roles, "")
        contacted = local(lead.contacted_at).isoformat(timespec="seconds") if lead.contacted_at else ""
        row = (
            lead.candidate_name,
            lead.candidate_email,
            lead.position_title,
            lead.stage,
            local(lead.ends_at).isoformat(timespec="seconds"),
            lead.nps if lead.nps is not None else "",
            lead.referral_potential or "",
            yes_no,
            contacted,
        )
        writer.writerow([neutralise(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/leads.csv")
@role_required(*ROLES)
def leads_csv():
    """Download the user's leads (a recruiter's own; hr and admin all) as CSV; the download is audited."""
    record_leads_export(current_user)
    filename = f"leads-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(lead_csv_rows(iter_leads(current_user))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@bp.get("/positions/<int:position_id>/brief")
@role_required(*ROLES)
def position_brief(position_id: int):
    """What debriefs say matters for this position, the doubts raised and the process issues."""
    brief = brief_for(position_id)
    if brief is None:
        abort(404)
    return render_template("recruiter/position_brief.html", brief=brief)
