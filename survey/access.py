"""Access rules shared by every staff page."""

from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required


def role_required(*roles: str):
    """Signed-in users with one of these roles only; anyone else gets 404 (nothing confirmed)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator


MAX_PAGE = 100_000


def requested_page() -> int:
    """The `page` query argument as a sane page number (1 when missing, bad or absurd)."""
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), MAX_PAGE)
