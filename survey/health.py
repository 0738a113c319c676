"""`/healthz` for load balancers and process managers."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .errors import RETRY_AFTER_SECONDS
from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return jsonify(status="unavailable", database="unreachable"), 503, retry
    return jsonify(status="ok", database="ok")
