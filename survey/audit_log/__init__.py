"""The admins' audit log: who signed in, exported, changed roles or erased data."""

from flask import Blueprint

bp = Blueprint("audit_log", __name__, url_prefix="/admin")

from . import views  # noqa: E402,F401
