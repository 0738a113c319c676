"""Staff pages: sign-in, interviews, debriefs, the combined view, leads, position briefs."""

from flask import Blueprint

bp = Blueprint("recruiter", __name__)

from . import interviews, leads, views  # noqa: E402,F401
