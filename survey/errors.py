"""Error pages: HTML for people, JSON under /api, never a stack trace."""

import math
import time

from flask import Flask, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

PLAIN_500 = (
    "<!doctype html><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>Please try again in a minute.</p>"
)
MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Sign-in needed", "Please sign in to continue."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Not allowed", "This page does not accept that kind of request."),
    410: ("Gone", "This page is no longer available."),
    413: ("Too large", "What you sent is larger than we accept."),
    429: ("Too many requests", "Please slow down and try again in a moment."),
    500: ("Something went wrong", "We could not complete your request. Please try again."),
    503: ("Temporarily unavailable", "Please try again in a minute."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(code: int, message: str | None = None):
    """An error page (or JSON body) with a plain message."""
    title, default = MESSAGES.get(code, MESSAGES[500])
    if _wants_json():
        return jsonify(error=message or default), code
    return render_template("errors/error.html", code=code, title=title, message=message or default), code


def init_error_handlers(app: Flask) -> None:
    """Install the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(
            400,
            "The form had expired or was not sent from this site. "
            "Please go back, reload the page and try again.",
        )

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc: RateLimitExceeded):
        return render_error(429, f"Too many attempts. Please try again in {retry_wait()}.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return render_error(exc.code or 500, exc.description if exc.code not in MESSAGES else None)

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError):
        app.logger.error("database unavailable: %s", exc.orig)
        return render_error(503, "The service is briefly unavailable. Please try again in a minute.")

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError):
        try:
            return render_error(500)
        except Exception:  # the error page itself failed: answer plainly, still no trace
            return PLAIN_500, 500, {"Content-Type": "text/html; charset=utf-8"}


def retry_wait() -> str:
    """How long until the breached rate limit lets the next request through, in words."""
    from .extensions import limiter

    resets = [limit.reset_at for limit in limiter.current_limits if limit.breached]
    seconds = max(1, math.ceil(max(resets, default=time.time() + 60) - time.time()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
