"""Admin pages: staff accounts, API keys, webhooks and question sets."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import question_sets, views, webhook_views  # noqa: E402,F401
