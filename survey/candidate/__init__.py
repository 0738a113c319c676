"""The token-gated survey a candidate answers."""

from flask import Blueprint

bp = Blueprint("candidate", __name__)

from . import views  # noqa: E402,F401
