"""Development only: read the mail the local catcher received."""

from flask import Blueprint

bp = Blueprint("dev", __name__, url_prefix="/dev")

from . import views  # noqa: E402,F401
