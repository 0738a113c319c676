"""Throttling of sign-in, the survey links and the JSON API (RATELIMIT_ENABLED=false switches it off).

Counters live in RATELIMIT_STORAGE_URI: by default a SQLite file every worker process on the
machine shares (ratelimit_storage.py), so N gunicorn workers allow the limit once, not N times.
Limits are read from the settings on each request, so the same limit objects serve every app.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app
from limits import parse

from .extensions import limiter
from .ratelimit_storage import SQLiteStorage

# `limits` finds the storage for RATELIMIT_STORAGE_URI by its scheme among the Storage classes
# defined; naming SQLiteStorage here is what puts sqlite:// among them.
STORAGES = (SQLiteStorage,)

SURVEY_MESSAGE = "Too many requests from your address. Please wait a minute, then reload the page."
API_MESSAGE = "Too many requests for this client; retry after the number of seconds in Retry-After."


def _survey_limit() -> str:
    return current_app.config["RATELIMIT_SURVEY"]


def _api_limit() -> str:
    return current_app.config["RATELIMIT_API"]


def retry_after_only_on_429(response: Response) -> Response:
    """Flask-Limiter adds Retry-After to every limited answer; it means "wait" and belongs on a 429,
    and on the 503 of a database outage (errors.service_unavailable), alone."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def init_throttling(app: Flask) -> None:
    """Attach the limiter and limit the survey links and the API, by the blueprints the app has
    registered (so call it after them). The header fix is registered first so that it runs after
    Flask-Limiter's. The limiter keeps a blueprint's limits in a set, and the limits made here are
    equal for every app, so building a second app adds none twice."""
    app.after_request(retry_after_only_on_429)
    limiter.init_app(app)
    limiter.limit(_survey_limit, error_message=SURVEY_MESSAGE)(app.blueprints["candidate"])
    limiter.limit(_api_limit, error_message=API_MESSAGE)(app.blueprints["api"])


# --- Sign-in lockout -------------------------------------------------------------------------------
# Not a Flask-Limiter decorator: that checks before the request and counts after it, so parallel
# guesses all pass the check. Here each attempt takes its slot atomically before the password is
# looked at, and a correct password gives the slot back.


@dataclass(frozen=True)
class Lockout:
    """A sign-in refused without looking at the password, and for how long."""

    seconds_left: int

    @property
    def minutes_left(self) -> int:
        return max(1, math.ceil(self.seconds_left / 60))


def _sign_in_limits(address: str, email: str) -> list[tuple]:
    config = current_app.config
    email = email.strip().lower()[:254]
    return [
        (parse(config["RATELIMIT_SIGN_IN"]), "sign-in", address, email),
        (parse(config["RATELIMIT_SIGN_IN_ADDRESS"]), "sign-in-address", address),
    ]


def _lockout(address: str, email: str) -> Lockout | None:
    """The lockout in force for this address and email, if any."""
    breached = [
        limiter.limiter.get_window_stats(item, *keys).reset_time
        for item, *keys in _sign_in_limits(address, email)
        if not limiter.limiter.test(item, *keys)
    ]
    if not breached:
        return None
    return Lockout(seconds_left=max(1, math.ceil(max(breached) - time.time())))


def take_sign_in_attempt(address: str, email: str) -> Lockout | None:
    """Count one sign-in attempt from this address for this email; a Lockout when none is left.

    The per address-and-email slot is taken before the password is checked, atomically in the
    shared storage, so however many requests arrive at once, only the limit's number get a check.
    """
    if not limiter.enabled:
        return None
    lockout = _lockout(address, email)
    if lockout is not None:
        return lockout
    (pair_limit, *pair_keys), _ = _sign_in_limits(address, email)
    if not limiter.limiter.hit(pair_limit, *pair_keys):
        return _lockout(address, email)
    return None


def sign_in_succeeded(address: str, email: str) -> None:
    """Forget this address's failures for this email: the person knows the password."""
    if limiter.enabled:
        (pair_limit, *pair_keys), _ = _sign_in_limits(address, email)
        limiter.limiter.clear(pair_limit, *pair_keys)


def sign_in_failed(address: str) -> None:
    """Count a failure against the address as a whole (one address trying many emails)."""
    if limiter.enabled:
        _, (address_limit, *address_keys) = _sign_in_limits(address, "")
        limiter.limiter.hit(address_limit, *address_keys)
