"""Error pages: HTML for people, JSON under /api, never a stack trace."""

import math
import time

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask.globals import request_ctx
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

PLAIN_500 = (
    "<!doctype html><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>Please try again in a minute.</p>"
)
PLAIN_PAGE = "<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
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
    if request_ctx.url_adapter is None:
        # A request for a host outside TRUSTED_HOSTS has no URL map, so no templated page.
        page = PLAIN_PAGE.format(title=escape(title), message=escape(message or default))
        return page, code, {"Content-Type": "text/html; charset=utf-8"}
    return render_template("errors/error.html", code=code, title=title, message=message or default), code


def with_error_headers(response: Response, exc: HTTPException) -> Response:
    """The response with the error's own headers, such as Allow on a 405 (RFC 9110)."""
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def no_such_resource(exc: MethodNotAllowed) -> bool:
    """Whether a 405 is really a 404: werkzeug answers 405 to e.g. PATCH /api/v1/interviews/0, an
    id that no rule accepts, because a rule's path matched before its converter refused the id."""
    adapter = request_ctx.url_adapter
    if adapter is None:
        return False
    for method in exc.valid_methods or ():
        try:
            adapter.match(method=method)
        except HTTPException:
            continue
        return False
    return True


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
        if isinstance(exc, MethodNotAllowed) and no_such_resource(exc):
            return render_error(404)
        response = make_response(
            render_error(exc.code or 500, exc.description if exc.code not in MESSAGES else None)
        )
        return with_error_headers(response, exc)

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
