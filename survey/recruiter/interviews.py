"""Interviews: the list, a new one, the combined view, the owner's survey actions, the debrief."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import requested_page, role_required
from ..forms import ActionForm
from ..models import ROLES
from ..reports.outcomes import CALIBRATION_DAYS, recruiter_calibration
from ..services.debriefs import DEBRIEF_FIELDS, save_debrief
from ..services.errors import DomainError
from ..services.intake import create_interview, intake_warnings, validate_interview
from ..services.interviews import (
    PER_PAGE,
    InterviewFilters,
    combined_view,
    filter_choices,
    interview_for,
    list_interviews,
    sees_all,
)
from ..services.invitations import cancel_invitation, reschedule_invitation, resend_for_owner
from ..services.reassignment import active_recruiters, reassign_interview
from ..templating import local, viewer_zone
from . import bp
from .forms import DebriefForm, InterviewFilterForm, NewInterviewForm, RescheduleForm


def owned_interview_or_404(interview_id: int):
    """The signed-in recruiter's own interview; anyone else's is a 404 that confirms nothing."""
    interview = interview_for(current_user, interview_id, to_change=True)
    if interview is None:
        abort(404)
    return interview


def _valid(field, cast=None):
    """A field's value if it passed validation and is not blank, else None ("any")."""
    if field.errors or field.data in (None, ""):
        return None
    return cast(field.data) if cast else field.data


def _day_start(day: date | None, days_later: int = 0) -> datetime | None:
    """Midnight of a day (plus some days) in the viewer's time zone, as a UTC instant; None for
    no day or one at the very edge of the calendar (year 1 or 9999), which bounds nothing."""
    if day is None:
        return None
    try:
        return datetime.combine(day + timedelta(days=days_later), time.min, tzinfo=viewer_zone()).astimezone(
            UTC
        )
    except OverflowError:
        return None


def read_filters(form: InterviewFilterForm) -> InterviewFilters:
    """The search and filters the form's valid fields ask for (an unknown value means "any")."""
    form.validate()
    position = _valid(form.position) or ""
    recruiter = _valid(form.recruiter) or ""
    return InterviewFilters(
        q=_valid(form.q) or "",
        status=_valid(form.status),
        stage=_valid(form.stage),
        position_id=int(position) if position.strip().isdigit() else None,
        recruiter_id=int(recruiter) if recruiter.strip().isdigit() else None,
        department=_valid(form.department),
        ends_from=_day_start(_valid(form.date_from)),
        ends_before=_day_start(_valid(form.date_to), days_later=1),
        needs_debrief=bool(form.needs_debrief.data),
        sort=_valid(form.sort) or "date",
        descending=form.direction.data != "asc",
        per_page=int(_valid(form.per_page) or PER_PAGE),
    )


@bp.get("/interviews")
@role_required(*ROLES)
def interviews():
    """The user's interviews: searched, filtered, sorted and paged as the query string says."""
    form = InterviewFilterForm(formdata=request.args)
    form.offer(filter_choices(current_user))
    filters = read_filters(form)
    page = list_interviews(current_user, filters, requested_page())
    args = {key: value for key, value in request.args.items() if key != "page"}
    calibration = recruiter_calibration(current_user) if current_user.role == "recruiter" else None
    return render_template(
        "recruiter/interviews.html",
        form=form,
        page=page,
        args=args,
        calibration=calibration,
        calibration_days=CALIBRATION_DAYS,
        filters=filters,
    )


@bp.route("/interviews/new", methods=["GET", "POST"])
@role_required("recruiter")
def new_interview():
    """Add an interview by hand; its survey is scheduled like any other."""
    form = NewInterviewForm()
    if request.method == "GET":
        form.language.data = current_app.config["DEFAULT_LANGUAGE"]
        form.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
    if form.validate_on_submit():
        data, errors = validate_interview(form.values(current_user.email, viewer_zone()))
        if data is not None:
            interview, created = create_interview(data)
            if created:
                flash("Interview added; its survey is scheduled.", "success")
                for warning in intake_warnings(data).values():
                    flash(warning, "info")
                return redirect(url_for("recruiter.interview", interview_id=interview.id))
            errors = {"ends_at": "This interview is already here (same candidate, position, stage and end)."}
        form.add_intake_errors(errors)
    status = 400 if request.method == "POST" else 200
    return render_template("recruiter/new_interview.html", form=form), status


@bp.get("/interviews/<int:interview_id>")
@role_required(*ROLES)
def interview(interview_id: int):
    """The combined view: the candidate's answers beside the debrief, gaps flagged."""
    found = interview_for(current_user, interview_id)
    if found is None:
        abort(404)
    invitation = found.invitation
    send_after = local(invitation.send_after).replace(tzinfo=None) if invitation else None
    reschedule = RescheduleForm(send_after=send_after)
    return render_template(
        "recruiter/interview.html",
        view=combined_view(found),
        recruiters=active_recruiters() if sees_all(current_user) else [],
        is_owner=found.recruiter_id == current_user.id,
        action_form=ActionForm(),
        reschedule_form=reschedule,
    )


@bp.post("/interviews/<int:interview_id>/reassign")
@role_required("hr", "admin")
def reassign(interview_id: int):
    """Give the interview to another active recruiter (audited)."""
    found = interview_for(current_user, interview_id)
    if found is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        reassign_interview(found, request.form.get("recruiter_id", type=int), current_user)
        flash(f"{found.recruiter.name} now owns this interview.", "success")
    except DomainError as exc:
        flash(str(exc), "error")
    return redirect(url_for("recruiter.interview", interview_id=interview_id))


def survey_action(interview_id: int, action, done: str):
    """Run one owner action on the interview's invitation and go back to the interview."""
    found = owned_interview_or_404(interview_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if found.invitation is None:
        abort(404)
    try:
        action(found.invitation)
        flash(done, "success")
    except DomainError as exc:
        flash(str(exc), "error")
    return redirect(url_for("recruiter.interview", interview_id=interview_id))


@bp.post("/interviews/<int:interview_id>/cancel")
@role_required("recruiter")
def cancel_survey(interview_id: int):
    """Cancel the survey: nothing more is sent and the link stops working."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return survey_action(
        interview_id, cancel_invitation, "The survey is cancelled; its link no longer works."
    )


@bp.post("/interviews/<int:interview_id>/resend")
@role_required("recruiter")
def resend_survey(interview_id: int):
    """Send a new link now; every earlier link stops working."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return survey_action(
        interview_id, resend_for_owner, "A new link will go out shortly; the old one is void."
    )


@bp.post("/interviews/<int:interview_id>/reschedule")
@role_required("recruiter")
def reschedule_survey(interview_id: int):
    """Change when a survey that has not gone out yet is sent."""
    form = RescheduleForm()
    if not form.validate_on_submit():
        owned_interview_or_404(interview_id)
        flash("Please give a date and time for sending.", "error")
        return redirect(url_for("recruiter.interview", interview_id=interview_id))
    send_after = form.send_after.data.replace(tzinfo=viewer_zone()).astimezone(UTC)
    return survey_action(
        interview_id, lambda invitation: reschedule_invitation(invitation, send_after), "Send time changed."
    )


@bp.route("/interviews/<int:interview_id>/debrief", methods=["GET", "POST"])
@role_required("recruiter")
def debrief(interview_id: int):
    """Record or edit the debrief-call notes of one's own interview."""
    found = owned_interview_or_404(interview_id)
    form = DebriefForm(obj=found.debrief)
    if form.validate_on_submit():
        save_debrief(found, {field: getattr(form, field).data for field in DEBRIEF_FIELDS}, current_user)
        flash("Debrief saved.", "success")
        return redirect(url_for("recruiter.interview", interview_id=interview_id))
    status = 400 if request.method == "POST" else 200
    return render_template("recruiter/debrief.html", form=form, interview=found), status
