"""HR insights: aggregates, findings and exports, for hr and admin."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from . import views  # noqa: E402,F401
