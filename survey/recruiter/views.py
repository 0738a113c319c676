"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..services.accounts import sign_in
from . import bp
from .forms import LoginForm


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
    return url_for("recruiter.home")


@bp.route("/login", methods=["GET", "POST"])
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
    return render_template("recruiter/login.html", form=form), 200 if request.method == "GET" else 400


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
    """The staff home page."""
    return render_template("recruiter/home.html")
