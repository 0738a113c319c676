"""Staff pages: sign-in, interviews, debriefs, the combined view."""

from flask import Blueprint

bp = Blueprint("recruiter", __name__)

from . import views  # noqa: E402,F401
