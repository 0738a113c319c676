"""Survey tokens out of log lines: a token in a log is a working link to someone's survey.

A survey link can be spelled many ways that all reach the survey view: `/s%2F<token>`,
`/%73/<token>`, `/s/./<token>`, `//s/<token>`, `/x/../s/<token>`. So every path-like piece of a
line is percent-decoded (until it stops changing) and normalised (slashes collapsed, `.` and `..`
resolved) before it is judged; a path that then starts with `/s/` is logged as `/s/[redacted]`,
and a query string that mentions a survey path is logged as `[redacted]`.
"""

from __future__ import annotations

import logging
import posixpath
import re
from urllib.parse import unquote, unquote_plus, urlsplit

SURVEY_PREFIX = "/s/"
OPT_OUT_SUFFIX = "/opt-out"
REDACTED = "[redacted]"
# Pieces of a log line: runs without spaces or quotes (request targets, referrers, headers).
PIECE = re.compile(r"[^\s\"']+")
DECODE_ROUNDS = 5


def _fully_decoded(text: str, decode=unquote) -> str:
    for _ in range(DECODE_ROUNDS):
        decoded = decode(text)
        if decoded == text:
            break
        text = decoded
    return text


def normalised_path(raw: str) -> str:
    """The path a server would route: decoded, backslashes as slashes, `//`, `.` and `..` resolved."""
    path = _fully_decoded(raw).replace("\\", "/")
    path = re.sub(r"/+", "/", "/" + path)
    normal = posixpath.normpath(path)
    return normal + "/" if path.endswith("/") and normal != "/" else normal


def is_survey_path(raw: str) -> bool:
    """Whether a path, however spelled, reaches a survey or opt-out link."""
    return normalised_path(raw).startswith(SURVEY_PREFIX)


def redact_target(target: str) -> str:
    """A request target (path and query) with any survey token taken out."""
    path, mark, query = target.partition("?")
    if is_survey_path(path):
        opt_out = normalised_path(path).rstrip("/").endswith(OPT_OUT_SUFFIX)
        path = SURVEY_PREFIX + REDACTED + (OPT_OUT_SUFFIX if opt_out else "")
    if query and "/s/" in re.sub(r"/+", "/", _fully_decoded(query, unquote_plus).replace("\\", "/")):
        query = REDACTED
    return path + mark + query


def redact_piece(piece: str) -> str:
    """One piece of a log line: a URL or a path has its survey token taken out; anything else stays."""
    if "://" in piece:
        parts = urlsplit(piece)
        if not parts.netloc:
            return piece
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{parts.scheme}://{parts.netloc}{redact_target(target)}"
    if piece.startswith(("/", "%2f", "%2F", "\\")):
        return redact_target(piece)
    return piece


def redact(line: str) -> str:
    """A log line with every survey token, however spelled, replaced by [redacted]."""
    return PIECE.sub(lambda match: redact_piece(match.group()), line)


class RedactTokens(logging.Filter):
    """Rewrites each record's final message with survey tokens redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True
