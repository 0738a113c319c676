"""Error pages: HTML for people, JSON under /api, never a stack trace."""

import math
import time

from flask import Flask, jsonify, render_template, request
from flask.globals import request_ctx
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

PLAIN_500 = (
    "<!doctype html><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>Please try again in a minute.</p>"
)
PLAIN_PAGE = "<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    401: (_l("Sign-in needed"), _l("Please sign in to continue.")),
    403: (_l("Not allowed"), _l("You do not have access to this page.")),
    404: (_l("Page not found"), _l("There is nothing at this address.")),
    405: (_l("Not allowed"), _l("This page does not accept that kind of request.")),
    410: (_l("Gone"), _l("This page is no longer available.")),
    413: (_l("Too large"), _l("What you sent is larger than we accept.")),
    429: (_l("Too many requests"), _l("Please slow down and try again in a moment.")),
    500: (_l("Something went wrong"), _l("We could not complete your request. Please try again.")),
    503: (_l("Temporarily unavailable"), _l("Please try again in a minute.")),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(code: int, message: str | None = None):
    """An error page (or JSON body) with a plain message."""
    title, default = (str(text) for text in MESSAGES.get(code, MESSAGES[500]))
    if _wants_json():
        return jsonify(error=message or default), code
    if request_ctx.url_adapter is None:
        # A request for a host outside TRUSTED_HOSTS has no URL map, so no templated page.
        page = PLAIN_PAGE.format(title=escape(title), message=escape(message or default))
        return page, code, {"Content-Type": "text/html; charset=utf-8"}
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
        # A limit with its own message says what to do; sign-in's gives the wait in words.
        if exc.limit.error_message:
            return render_error(429, exc.description)
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
