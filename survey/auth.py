"""Who is signed in: Flask-Login's user loader, attached by `init_auth`."""

from flask import Flask

from .extensions import db, login_manager
from .models import User


def init_auth(app: Flask) -> None:
    """Tell Flask-Login how to find the signed-in user and where to send someone who is not."""
    login_manager.login_view = "recruiter.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.user_loader(load_user)


def load_user(session_id: str) -> User | None:
    """The signed-in staff user, if still active and the cookie is of their current session generation."""
    user_id, _, generation = session_id.partition(".")
    if not user_id.isdigit() or not generation.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user
