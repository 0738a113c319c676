"""Sign-in (password or single sign-on), sign-out, and the user's own account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from ..forms import ActionForm
from ..services.accounts import (
    change_password,
    record_sso_refusal,
    set_timezone,
    sign_in,
    sign_in_with_sso,
    sign_out,
    sign_out_everywhere,
)
from ..services.errors import DomainError
from ..sso import SsoFailed, begin_sign_in, finish_sign_in, sso_enabled
from ..templating import viewer_zone_name
from ..throttling import sign_in_failed, sign_in_succeeded, take_sign_in_attempt
from . import bp
from .forms import AccountForm, LoginForm, PasswordForm


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


def home_url() -> str:
    """Where every staff user lands after signing in, whatever their role: the interview list."""
    return url_for("recruiter.interviews")


def render_login(form: LoginForm, status: int = 200, notice: str | None = None, headers=None):
    """The sign-in page: the password form (unless switched off) and the SSO button (when configured)."""
    page = render_template(
        "recruiter/login.html",
        form=form,
        notice=notice,
        password_login=current_app.config["PASSWORD_LOGIN_ENABLED"],
        sso=sso_enabled(),
        next_url=safe_next(request.args.get("next")),
    )
    return page, status, headers or {}


def start_session(user) -> None:
    """Sign a user in on this browser: a fresh session (so a new CSRF secret) that ends after
    PERMANENT_SESSION_LIFETIME without a request."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF caches this request's token here
    session.permanent = True
    login_user(user)


def end_browser_session() -> None:
    """Forget who is signed in on this browser, and its CSRF secret."""
    logout_user()
    session.clear()
    g.pop("csrf_token", None)


def lockout_page(form: LoginForm, lockout):
    """The form again, saying how long this address must wait before trying this email again."""
    minutes = f"{lockout.minutes_left} minute{'s' if lockout.minutes_left != 1 else ''}"
    notice = (
        f"Too many failed sign-ins for this email from your address. Please try again in {minutes}. "
        "Until then even the right password is refused from this address; colleagues signing in "
        "with their own email are not affected."
    )
    return render_login(form, 429, notice, {"Retry-After": str(lockout.seconds_left)})


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Staff sign-in; one message for a wrong email or a wrong password."""
    if current_user.is_authenticated:
        return redirect(home_url())
    form = LoginForm()
    if request.method != "POST":  # GET, and HEAD (link checkers) answered the same way
        return render_login(form)
    if not current_app.config["PASSWORD_LOGIN_ENABLED"]:
        return render_login(form, 400, "Password sign-in is switched off here: please use single sign-on.")
    if not form.validate_on_submit():
        return render_login(form, 400)
    address = get_remote_address()
    lockout = take_sign_in_attempt(address, form.email.data)
    if lockout is not None:
        return lockout_page(form, lockout)
    user = sign_in(form.email.data, form.password.data)
    if user is None:
        sign_in_failed(address)
        return render_login(form, 400, "Wrong email or password.")
    sign_in_succeeded(address, form.email.data)
    start_session(user)
    return redirect(safe_next(request.args.get("next")) or home_url())


@bp.get("/login/sso")
def sso_login():
    """Send the browser to the single sign-on provider."""
    if not sso_enabled():
        abort(404)
    if current_user.is_authenticated:
        return redirect(home_url())
    session["sso_next"] = safe_next(request.args.get("next"))
    try:
        return begin_sign_in()
    except SsoFailed as exc:
        return render_login(LoginForm(), 503, str(exc))


@bp.get("/login/sso/callback")
def sso_callback():
    """The provider's answer: sign in the matching active account, or say why not."""
    if not sso_enabled():
        abort(404)
    next_url = safe_next(session.pop("sso_next", None))
    try:
        claims = finish_sign_in()
    except SsoFailed as exc:
        record_sso_refusal(exc.reason)
        return render_login(LoginForm(), 400, str(exc))
    try:
        user = sign_in_with_sso(claims, current_app.config["OIDC_CREATE_ROLE"])
    except DomainError as exc:
        return render_login(LoginForm(), 403, str(exc))
    start_session(user)
    return redirect(next_url or home_url())


@bp.post("/logout")
@login_required
def logout():
    """Sign out: this cookie and every other copy of it stop working."""
    sign_out(current_user)
    end_browser_session()
    flash("You are signed out.", "success")
    return redirect(url_for("recruiter.login"))


def render_account(form: PasswordForm | None = None, zone_form: AccountForm | None = None, status: int = 200):
    """The account page with its forms (a form sent back keeps its input and errors)."""
    return render_template(
        "recruiter/account.html",
        form=form or PasswordForm(),
        zone_form=zone_form or AccountForm(formdata=None, obj=current_user),
        default_zone=current_app.config["DEFAULT_TIMEZONE"],
        action_form=ActionForm(),
    ), status


@bp.get("/account")
@login_required
def account():
    """The signed-in user's own account: time zone, password, sign out everywhere."""
    return render_account()


@bp.post("/account/timezone")
@login_required
def set_own_timezone():
    """Choose the time zone every staff page shows times in."""
    zone_form = AccountForm()
    if zone_form.validate_on_submit():
        try:
            set_timezone(current_user, zone_form.timezone.data)
        except DomainError as exc:
            zone_form.timezone.errors = [*zone_form.timezone.errors, str(exc)]
        else:
            flash(f"Times are now shown in {viewer_zone_name()}.", "success")
            return redirect(url_for("recruiter.account"))
    return render_account(zone_form=zone_form, status=400)


@bp.post("/account/password")
@login_required
def change_own_password():
    """Set a new password; every other session ends, this one goes on."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current.data, form.new.data)
        except DomainError as exc:
            form.current.errors = [*form.current.errors, str(exc)]
        else:
            start_session(current_user._get_current_object())
            flash("Your password is changed; every other browser is signed out.", "success")
            return redirect(url_for("recruiter.account"))
    return render_account(form=form, status=400)


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere_view():
    """End every session of this user, on every browser and device, this one included."""
    if not ActionForm().validate_on_submit():
        abort(400)
    sign_out_everywhere(current_user, current_user)
    end_browser_session()
    flash("You are signed out everywhere: every browser and device must sign in again.", "success")
    return redirect(url_for("recruiter.login"))


@bp.get("/")
@login_required
def home():
    """The staff home page is the interview list."""
    return redirect(home_url())
