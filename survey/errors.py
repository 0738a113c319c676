"""Error pages: HTML for people, JSON under /api, never a stack trace."""

import errno
import math
import time
from collections.abc import Iterable, Iterator
from typing import AnyStr

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from flask.globals import request_ctx
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from .database import UNAVAILABLE_ERRORS, database_unavailable

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
UNAVAILABLE_MESSAGE = "The service is briefly unavailable. Please try again in a minute."
# What a 503 asks clients (the ATS, browsers, load balancers) to wait before trying again.
RETRY_AFTER_SECONDS = 30


def wants_json() -> bool:
    """Whether this request is a machine's (the JSON API, the health check): its errors are JSON.

    The one place that decides it: error pages, the outage answer and the unreadable-input check ask here.
    """
    return request.path.startswith("/api/") or request.path == "/healthz"


def render_error(code: int, message: str | None = None):
    """An error page (or JSON body) with a plain message.

    The page's header shows who is signed in, which needs the database; if the database
    fails while the page is built, the answer becomes the outage page instead.
    """
    title, default = (str(text) for text in MESSAGES.get(code, MESSAGES[500]))
    if wants_json():
        return jsonify(error=message or default), code
    if request_ctx.url_adapter is None:
        return _plain_page(code, title, message or default)
    try:
        return render_template("errors/error.html", code=code, title=title, message=message or default), code
    except SQLAlchemyError as exc:
        if not database_unavailable(exc):
            raise
        return service_unavailable()


def _plain_page(code: int, title: str, message: str):
    # A request for a host outside TRUSTED_HOSTS has no URL map, so no templated page.
    page = PLAIN_PAGE.format(title=escape(title), message=escape(message))
    return page, code, {"Content-Type": "text/html; charset=utf-8"}


def service_unavailable():
    """503 with Retry-After: JSON, or a page built without the database.

    render_template would run the context processors, and Flask-Login's looks up the
    signed-in user, which is exactly what cannot be done now; so the template is rendered
    straight from the Jinja environment with only what it needs.
    """
    title, message = MESSAGES[503][0], UNAVAILABLE_MESSAGE
    if wants_json():
        response = make_response(jsonify(error=message), 503)
    elif request_ctx.url_adapter is None:
        response = make_response(_plain_page(503, title, message))
    else:
        template = current_app.jinja_env.get_template("errors/unavailable.html")
        company = current_app.config["COMPANY_NAME"]
        page = template.render(code=503, title=title, message=message, company_name=company)
        response = make_response(page, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ResponseCutOff(ConnectionResetError):
    """Raised to end a streamed response that cannot be finished: the connection is reset.

    Once the headers of a download have gone out, no error page can follow. Ending the
    stream normally would hand the client a truncated file that looks complete; resetting
    the connection makes the download fail visibly. WSGI servers treat a reset connection
    as routine (gunicorn logs it at debug level, not as "Error handling request").
    """


def cut_off_on_outage(chunks: Iterable[AnyStr]) -> Iterator[AnyStr]:
    """Pass a streamed body through; if the database goes away mid-stream, log a line and cut it off."""
    try:
        yield from chunks
    except SQLAlchemyError as exc:
        if not database_unavailable(exc):
            raise
        reason = getattr(exc, "orig", None) or exc
        current_app.logger.error("download cut off, database unavailable: %s", reason)
        raise ResponseCutOff(errno.ECONNRESET, "database unavailable mid-stream") from None


def with_error_headers(response: Response, exc: HTTPException) -> Response:
    """The response with the error's own headers, such as Allow on a 405 (RFC 9110)."""
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def error_message(exc: HTTPException) -> str | None:
    """The error's own description, where it says more than the house message for its code: always
    for a code without one; for a machine also when the code that raised it wrote its own (a person's
    page keeps the house words, which give nothing away)."""
    if exc.code not in MESSAGES:
        return exc.description
    if wants_json() and exc.description != type(exc).description:
        return exc.description
    return None


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
        response = make_response(render_error(exc.code or 500, error_message(exc)))
        return with_error_headers(response, exc)

    def database_down(exc: Exception):
        app.logger.error("database unavailable: %s", getattr(exc, "orig", None) or exc)
        return service_unavailable()

    for error_class in UNAVAILABLE_ERRORS:
        app.register_error_handler(error_class, database_down)

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError):
        # An outage met while handling another error (an error page's user lookup, an
        # after-request hook) still answers 503, never 500.
        if database_unavailable(exc.original_exception):
            return database_down(exc.original_exception)
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
