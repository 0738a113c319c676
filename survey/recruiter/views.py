"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from ..services.accounts import AccountError, set_timezone, sign_in
from ..templating import viewer_zone_name
from . import bp
from .forms import AccountForm, LoginForm


def safe_next(target: str | None) -> str | None:
    """`next` only if it points inside this site (no scheme, no host, no '//' tricks)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def home_for(user) -> str:
    """Where a user lands after signing in."""
    return url_for("recruiter.interviews")


def login_key() -> str:
    """Throttle key for sign-in: the address and the email tried, so one attacker cannot lock
    out a colleague signing in from elsewhere."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"{get_remote_address()}|{email}"


def sign_in_failed(response) -> bool:
    """Only failed attempts count towards the limit (success redirects)."""
    return response.status_code != 302


# Per address and email: a password guesser; per address alone: one address trying many emails.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", key_func=login_key, methods=["POST"], deduct_when=sign_in_failed)
@limiter.limit("50 per hour", key_func=get_remote_address, methods=["POST"], deduct_when=sign_in_failed)
def login():
    """Staff sign-in; one message for a wrong email or a wrong password."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = sign_in(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        flash("Wrong email or password.", "error")
    return render_template("recruiter/login.html", form=form), 400 if request.method == "POST" else 200


@bp.post("/logout")
@login_required
def logout():
    """Sign out."""
    logout_user()
    flash("You are signed out.", "success")
    return redirect(url_for("recruiter.login"))


@bp.get("/")
@login_required
def home():
    """The staff home page is the interview list."""
    return redirect(home_for(current_user))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """The signed-in user's settings: the time zone their pages show times in."""
    form = AccountForm(obj=None if request.method == "POST" else current_user)
    if form.validate_on_submit():
        try:
            set_timezone(current_user, form.timezone.data)
        except AccountError as exc:
            form.timezone.errors = [*form.timezone.errors, str(exc)]
        else:
            flash(f"Times are now shown in {viewer_zone_name()}.", "success")
            return redirect(url_for("recruiter.account"))
    status = 400 if request.method == "POST" else 200
    default_zone = current_app.config["DEFAULT_TIMEZONE"]
    return render_template("recruiter/account.html", form=form, default_zone=default_zone), status
