"""Security on every request: response headers, and refusal of input no view should see
(bytes no field may hold, JSON that cannot be read or is nested absurdly deep)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider

from .errors import render_error, wants_json

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
BAD_JSON_MESSAGE = (
    "The JSON body could not be read: it is not valid JSON, or it is nested more than {depth} levels deep."
)
FORM_TYPES = ("application/x-www-form-urlencoded",)
# Python's parser recurses once per level: thousands of "[" exhaust the stack (RecursionError, a 500).
# No document this app reads is more than a few levels deep.
MAX_JSON_DEPTH = 32
JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
JSON_BRACKET = re.compile(rb"[\[\]{}]")
# Pages and exports are private: no browser or proxy cache may keep them. Static files may be cached.
CACHEABLE_ENDPOINTS = frozenset({"static"})


def json_depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects more than `limit` deep (strings are skipped)."""
    raw = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else bytes(text)
    depth = 0
    for match in JSON_BRACKET.finditer(JSON_STRING.sub(b'""', raw)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


class DepthLimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing (ValueError, so a 400) documents nested deeper than MAX_JSON_DEPTH."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if json_depth_exceeds(s):
            raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        return super().loads(s, **kwargs)


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    # same-origin, not no-referrer: Flask-WTF checks the Referer on HTTPS form posts.
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    # Survey links and staff pages must never appear in search results, even if a link leaks.
    ("X-Robots-Tag", "noindex, nofollow"),
)


def set_security_headers(response: Response) -> Response:
    """Add the security headers; a view that needs another policy sets its own CSP first."""
    headers = response.headers
    # One pass over the headers already set, rather than a search per header (every response pays it).
    present = {name.lower() for name, _ in headers}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if request.endpoint not in CACHEABLE_ENDPOINTS and "cache-control" not in present:
        headers.add("Cache-Control", "no-store")
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


def _json_body_problem() -> str | None:
    """Why a JSON body cannot be used (unreadable bytes, not JSON, too deep), or None."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None  # no body: the view decides whether it needed one
    if not _readable(raw):
        return BAD_INPUT_MESSAGE
    try:
        document = current_app.json.loads(raw)
    except (ValueError, RecursionError):
        return BAD_JSON_MESSAGE.format(depth=MAX_JSON_DEPTH)
    return None if _json_readable(document) else BAD_INPUT_MESSAGE


def _body_readable() -> bool:
    mimetype = request.mimetype
    if mimetype in FORM_TYPES:
        return _urlencoded_readable(request.get_data(cache=True))
    if mimetype == "multipart/form-data":
        # Uploaded files are checked by whoever reads them; text fields must be clean.
        return all("\x00" not in value and "\ufffd" not in value for value in request.form.values())
    return True


def _input_problem() -> str | None:
    """Why the path, query or body cannot be used, or None."""
    path = request.environ.get("PATH_INFO", "")
    if not _readable(path.encode("latin-1", errors="replace")):
        return BAD_INPUT_MESSAGE
    if request.query_string and not _urlencoded_readable(request.query_string):
        return BAD_INPUT_MESSAGE
    if not request.environ.get("CONTENT_TYPE"):
        return None  # nothing reads an untyped body as a form or JSON (every plain GET)
    if not _body_readable():
        return BAD_INPUT_MESSAGE
    if request.is_json:
        return _json_body_problem()
    return None


def refuse_unreadable_input():
    """Answer 400 to invalid UTF-8 or NUL characters anywhere in the path, query or body, and to a
    JSON body that is not JSON or is nested too deep; in the API's error shape for machine endpoints."""
    problem = _input_problem()
    if problem is None:
        return None
    if wants_json():
        return jsonify(errors={"_body": problem}), 400
    return render_error(400, problem)


def init_security(app: Flask) -> None:
    """Install the JSON reader, the input check and the response headers on every request."""
    app.json = DepthLimitedJSONProvider(app)
    app.before_request(refuse_unreadable_input)
    app.after_request(set_security_headers)
