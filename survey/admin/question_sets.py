"""`/admin/question-sets`: list, copy into a draft, edit, preview, publish, assign stages.

hr and admin can read every page; only admins change anything. Every change is audited (the
services record it).
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..access import role_required
from ..extensions import db
from ..forms import ActionForm
from ..i18n import use_candidate_locale
from ..models import QuestionSet, QuestionSetVersion
from ..questions import MIRRORABLE_FIELDS, pick_language
from ..services.errors import DomainError
from ..services.question_sets import (
    QuestionSetError,
    draft_of,
    draft_problems,
    latest_published,
    list_sets,
    publish_draft,
    questions_for,
    save_draft,
    set_stages,
    stage_list,
    start_draft,
)
from . import bp
from .draft_form import ACTION, apply_action, document_from_form, form_values

READERS = ("hr", "admin")


def set_or_404(set_id: int) -> QuestionSet:
    """The question set with this id."""
    question_set = db.session.get(QuestionSet, set_id)
    if question_set is None:
        abort(404)
    return question_set


def checked_form() -> None:
    """Refuse a change without a valid CSRF token."""
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.get("/question-sets")
@role_required(*READERS)
def question_sets():
    """Every set with its newest version, draft, stages and languages."""
    sets = [(s, latest_published(s), draft_of(s)) for s in list_sets()]
    return render_template(
        "admin/question_sets.html", sets=sets, stage_list=stage_list, action_form=ActionForm()
    )


@bp.get("/question-sets/<int:set_id>")
@role_required(*READERS)
def question_set(set_id: int):
    """One set: its versions, one version's items in each language, its stages."""
    found = set_or_404(set_id)
    number = request.args.get("version", type=int)
    versions = list(found.versions)
    shown = (
        next((v for v in versions if v.number == number), None) or latest_published(found) or draft_of(found)
    )
    return render_template(
        "admin/question_set.html",
        question_set=found,
        versions=versions,
        shown=shown,
        stages=", ".join(stage_list(found)),
        action_form=ActionForm(),
    )


@bp.post("/question-sets/<int:set_id>/copy")
@role_required("admin")
def copy_question_set(set_id: int):
    """Copy a set's newest version into a draft: of this set, or of a new set if a name is given."""
    source = set_or_404(set_id)
    checked_form()
    try:
        draft = start_draft(source, request.form.get("name", "").strip() or None, current_user)
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.question_sets"))
    return redirect(url_for("admin.edit_draft", set_id=draft.question_set_id))


def draft_or_404(question_set: QuestionSet) -> QuestionSetVersion:
    """The set's draft."""
    draft = draft_of(question_set)
    if draft is None:
        abort(404)
    return draft


def render_draft(question_set: QuestionSet, draft: QuestionSetVersion, problems, status: int = 200):
    """The draft editor with what stops publishing listed by path."""
    return render_template(
        "admin/question_set_draft.html",
        question_set=question_set,
        draft=draft,
        items=form_values(draft.document),
        problems=problems,
        mirrorable=MIRRORABLE_FIELDS,
        form=ActionForm(),
    ), status


@bp.route("/question-sets/<int:set_id>/draft", methods=["GET", "POST"])
@role_required(*READERS)
def edit_draft(set_id: int):
    """Edit a draft: items added, removed, reordered, reworded; labels and texts per language."""
    found = set_or_404(set_id)
    draft = draft_or_404(found)
    if request.method == "GET":
        return render_draft(found, draft, draft_problems(draft))
    if current_user.role != "admin":
        abort(404)
    checked_form()
    action = request.form.get("action", "save")
    if not ACTION.match(action):
        abort(400)
    problems = save_draft(
        draft, apply_action(document_from_form(request.form, draft.document), action), current_user
    )
    if action != "publish":
        return redirect(url_for("admin.edit_draft", set_id=set_id))
    try:
        published = publish_draft(draft, current_user)
    except QuestionSetError as exc:
        flash("The draft is not complete yet; see the problems listed.", "error")
        return render_draft(found, draft, exc.problems or problems, 400)
    flash(f"{found.name} version {published.number} is published.", "success")
    return redirect(url_for("admin.question_set", set_id=set_id, version=published.number))


@bp.get("/question-sets/<int:set_id>/versions/<int:number>/preview")
@role_required(*READERS)
def preview(set_id: int, number: int):
    """A version (or the draft) as the candidate will see it, in a language it speaks."""
    found = set_or_404(set_id)
    version = db.session.scalar(
        select(QuestionSetVersion).where(
            QuestionSetVersion.question_set_id == found.id, QuestionSetVersion.number == number
        )
    )
    if version is None:
        abort(404)
    language = pick_language(request.args.get("language"), version.languages or ["en"])
    try:
        questions = questions_for(version, language)
    except (KeyError, TypeError, IndexError):
        flash("This draft cannot be previewed until every item has its texts; see the problems.", "error")
        return redirect(url_for("admin.edit_draft", set_id=set_id))
    use_candidate_locale(language, current_app.config["DEFAULT_TIMEZONE"])
    return render_template(
        "admin/question_set_preview.html",
        question_set=found,
        version=version,
        questions=questions,
        company=current_app.config["COMPANY_NAME"],
        answers={},
        errors={},
    )


@bp.post("/question-sets/<int:set_id>/stages")
@role_required("admin")
def assign_stages(set_id: int):
    """Assign stages (comma-separated; "default" for the default set)."""
    found = set_or_404(set_id)
    checked_form()
    stages = [stage.strip() for stage in request.form.get("stages", "").split(",") if stage.strip()]
    try:
        taken = set_stages(found, stages, current_user)
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Stages of {found.name}: {', '.join(stage_list(found)) or 'none'}.", "success")
        for stage in taken:
            flash(f"{stage} now uses {found.name}.", "info")
    return redirect(url_for("admin.question_set", set_id=set_id))
