"""Security on every request: response headers, and refusal of bytes no field may hold."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, current_app, jsonify, request

from .errors import render_error

# No inline script or style and nothing from another origin: an injected tag can do nothing.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
BAD_INPUT_MESSAGE = "The request contained text we cannot read (invalid UTF-8 or a NUL character)."
FORM_TYPES = ("application/x-www-form-urlencoded",)


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    # same-origin, not no-referrer: Flask-WTF checks the Referer on HTTPS form posts.
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def set_security_headers(response: Response) -> Response:
    """Add the security headers; a view that needs another policy sets its own CSP first."""
    headers = response.headers
    # One pass over the headers already set, rather than a search per header (every response pays it).
    present = {name.lower() for name, _ in headers}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    hsts_seconds = current_app.config.get("HSTS_MAX_AGE_SECONDS", 0)
    if hsts_seconds and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", f"max-age={hsts_seconds}; includeSubDomains")
    return response


def _readable(raw: bytes) -> bool:
    """Whether bytes are valid UTF-8 free of NUL characters."""
    if b"\x00" in raw:
        return False
    try:
        raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _urlencoded_readable(raw: bytes) -> bool:
    """Whether every percent-decoded name and value of a query string or form body is readable."""
    for pair in raw.replace(b";", b"&").split(b"&"):
        if not _readable(unquote_to_bytes(pair.replace(b"+", b" "))):
            return False
    return True


def _json_readable(value: Any) -> bool:
    """Whether no string in a parsed JSON document holds a NUL (escaped as \\u0000 in the text)."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_json_readable(k) and _json_readable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_readable(item) for item in value)
    return True


def _body_readable() -> bool:
    mimetype = request.mimetype
    if mimetype in FORM_TYPES:
        return _urlencoded_readable(request.get_data(cache=True))
    if request.is_json:
        raw = request.get_data(cache=True)
        if not _readable(raw):
            return False
        return _json_readable(request.get_json(silent=True))
    if mimetype == "multipart/form-data":
        # Uploaded files are checked by whoever reads them; text fields must be clean.
        return all("\x00" not in value and "\ufffd" not in value for value in request.form.values())
    return True


def _request_readable() -> bool:
    path = request.environ.get("PATH_INFO", "")
    if not _readable(path.encode("latin-1", errors="replace")):
        return False
    return _urlencoded_readable(request.query_string) and _body_readable()


def refuse_unreadable_input():
    """Answer 400 to invalid UTF-8 or NUL characters anywhere in the path, query or body."""
    if _request_readable():
        return None
    if request.path.startswith("/api/"):
        return jsonify(errors={"_body": BAD_INPUT_MESSAGE}), 400
    return render_error(400, BAD_INPUT_MESSAGE)


def init_security(app: Flask) -> None:
    """Install the input check and the response headers on every request."""
    app.before_request(refuse_unreadable_input)
    app.after_request(set_security_headers)
