"""Who is signed in: Flask-Login's user loader, attached by `init_auth`."""

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from .extensions import db, login_manager
from .models import User


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, without building its signer for a request that carries no
    session cookie and leaves the session empty: every candidate's survey page, which has no
    session at all (its form token is signed with the link).

    Flask-Login's remember-cookie step runs here, just before the session is saved, rather than
    as its own after-request hook: only a request that used the session can have asked for it
    (signing in asks through the session, signing out too), and here the session can be looked
    at without counting as used. As a hook it read the session on every response, so even a
    candidate's page, which has none, said it varied by cookie.
    """

    def open_session(self, app, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()  # what the parent returns for no cookie, minus the signer
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if session.accessed or app.config.get("REMEMBER_COOKIE_REFRESH_EACH_REQUEST"):
            login_manager._update_remember_cookie(response)
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_auth(app: Flask) -> None:
    """Tell Flask-Login how to find the signed-in user and where to send someone who is not."""
    app.session_interface = CookieSessionInterface()
    login_manager.login_view = "recruiter.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.user_loader(load_user)
    # Its after-request hook is replaced by the session's own save (CookieSessionInterface), which
    # calls the same step (Flask-Login's `_update_remember_cookie`, checked with 0.6). create_app
    # attaches the extensions, and so the hook, before this runs.
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)


def load_user(session_id: str) -> User | None:
    """The signed-in staff user, if still active and the cookie is of their current session generation."""
    user_id, _, generation = session_id.partition(".")
    if not user_id.isdigit() or not generation.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user
