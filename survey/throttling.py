"""Throttling of the survey links and the JSON API (RATELIMIT_ENABLED=false switches it off).

Limits are read from the settings on each request, so one registration serves every app.
"""

from __future__ import annotations

from flask import current_app

from .extensions import limiter

SURVEY_MESSAGE = "Too many requests from your address. Please wait a minute, then reload the page."
API_MESSAGE = "Too many requests for this client; retry after the number of seconds in Retry-After."


def _survey_limit() -> str:
    return current_app.config["RATELIMIT_SURVEY"]


def _api_limit() -> str:
    return current_app.config["RATELIMIT_API"]


def _limit_blueprints() -> None:
    from .api import bp as api_bp
    from .candidate import bp as candidate_bp

    limiter.limit(_survey_limit, error_message=SURVEY_MESSAGE)(candidate_bp)
    limiter.limit(_api_limit, error_message=API_MESSAGE)(api_bp)


# Blueprints are module-level objects: attach their limits once per process, not once per app.
_limit_blueprints()
