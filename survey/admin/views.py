"""Manage staff accounts and API keys; every change is recorded in the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..access import role_required
from ..extensions import db
from ..forms import ActionForm
from ..models import ApiKey, User, utcnow
from ..services.accounts import (
    change_role,
    create_api_key,
    create_user,
    revoke_api_key,
    set_active,
)
from ..services.errors import DomainError
from ..services.reassignment import (
    active_recruiters,
    deactivate_and_reassign,
    open_interview_counts,
)
from . import bp
from .forms import NewApiKeyForm, NewUserForm, RoleForm


def render_users(form: NewUserForm, status: int = 200):
    """The user list with the new-user form."""
    users = db.session.scalars(select(User).order_by(User.active.desc(), User.name))
    return render_template(
        "admin/users.html",
        users=users,
        form=form,
        role_form=RoleForm,
        action_form=ActionForm(),
        open_counts=open_interview_counts(),
        recruiters=active_recruiters(),
    ), status


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """Every staff account; create one."""
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                form.email.data, form.name.data, form.role.data, form.password.data, actor=current_user
            )
        except DomainError as exc:
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            flash(f"{user.email} can now sign in as {user.role}.", "success")
            return redirect(url_for("admin.users"))
    return render_users(form, 400 if request.method == "POST" else 200)


def midnight_utc(day: date | None) -> datetime | None:
    """The start of a day in UTC: a key "expires on" a day is refused from that day's first moment."""
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


def user_or_404(user_id: int) -> User:
    """The staff account with this id."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def account_change(change, done: str):
    """Apply one account change, with its message, and return to the list."""
    try:
        change()
        flash(done, "success")
    except DomainError as exc:
        flash(str(exc), "error")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
@role_required("admin")
def user_role(user_id: int):
    """Change a user's role."""
    user = user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    return account_change(
        lambda: change_role(user, form.role.data, current_user), f"{user.email} is now {form.role.data}."
    )


@bp.post("/users/<int:user_id>/deactivate")
@role_required("admin")
def deactivate_user(user_id: int):
    """Stop a user signing in; their open interviews go to the recruiter chosen, if any (audited)."""
    user = user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    reassign_to = request.form.get("reassign_to", type=int)
    try:
        moved = deactivate_and_reassign(user, reassign_to, current_user)
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        moved_text = f" {moved} open interview{'' if moved == 1 else 's'} reassigned." if reassign_to else ""
        flash(f"{user.email} is deactivated.{moved_text}", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/reactivate")
@role_required("admin")
def reactivate_user(user_id: int):
    """Let a deactivated user sign in again."""
    user = user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return account_change(lambda: set_active(user, True, current_user), f"{user.email} can sign in again.")


@bp.route("/api-keys", methods=["GET", "POST"])
@role_required("admin")
def api_keys():
    """Every API key; create one (its value is shown once)."""
    form = NewApiKeyForm()
    new_key = None
    if form.validate_on_submit():
        try:
            _, new_key = create_api_key(
                form.name.data.strip(),
                ",".join(form.scopes.data),
                expires_at=midnight_utc(form.expires_on.data),
                actor=current_user,
            )
        except DomainError as exc:
            form.expires_on.errors = [*form.expires_on.errors, str(exc)]
        else:
            form = NewApiKeyForm(formdata=None)
    keys = db.session.scalars(
        select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())
    )
    status = 400 if request.method == "POST" and new_key is None else 200
    response = render_template(
        "admin/api_keys.html", keys=keys, form=form, new_key=new_key, action_form=ActionForm(), now=utcnow()
    )
    # The plain key must not linger in a shared cache or the browser's back button.
    return response, status, {"Cache-Control": "no-store"}


@bp.post("/api-keys/<int:key_id>/revoke")
@role_required("admin")
def revoke_key(key_id: int):
    """Revoke a key: the ATS using it is refused from now on."""
    api_key = db.session.get(ApiKey, key_id)
    if api_key is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    revoke_api_key(api_key, current_user)
    flash(f"Key “{api_key.name}” is revoked.", "success")
    return redirect(url_for("admin.api_keys"))
