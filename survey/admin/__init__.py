"""Admin pages: staff accounts, API keys and webhooks."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import views, webhook_views  # noqa: E402,F401
