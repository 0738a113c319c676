"""Template filters and globals: dates and times in the viewer's time zone, named."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, g
from flask_login import current_user

from .questions import recruiter_words


def zone_named(name: str | None) -> ZoneInfo | None:
    """The IANA zone with this name, or None for an unknown or empty name."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def viewer_zone_name() -> str:
    """The signed-in staff user's time zone, else DEFAULT_TIMEZONE (itself UTC unless set)."""
    default = current_app.config.get("DEFAULT_TIMEZONE") or "UTC"
    user = current_user if current_user and current_user.is_authenticated else None
    name = getattr(user, "timezone", None) or default
    return name if zone_named(name) else "UTC"


def viewer_zone() -> ZoneInfo:
    """The zone this request's times are shown in (looked up once per request)."""
    if "viewer_zone" not in g:
        g.viewer_zone = ZoneInfo(viewer_zone_name())
    return g.viewer_zone


def local(moment: datetime | None) -> datetime | None:
    """A stored UTC moment in the viewer's zone (naive values are taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(viewer_zone())


def format_date(moment: datetime | None) -> str:
    """A date people read, in the viewer's zone: 25 November 2026."""
    moment = local(moment)
    return f"{moment.day} {moment:%B %Y}" if moment else ""


def format_day_month(moment: datetime | None) -> str:
    """Day and month, in the viewer's zone: 10 October."""
    moment = local(moment)
    return f"{moment.day} {moment:%B}" if moment else ""


def format_datetime(moment: datetime | None) -> str:
    """A date and time in the viewer's zone, with the zone named: 25 Nov 2026, 14:05 CET."""
    moment = local(moment)
    return f"{moment.day} {moment:%b %Y, %H:%M} {moment.tzname()}" if moment else ""


def format_iso(moment: datetime | None) -> str:
    """The exact instant for a <time datetime>: whole seconds with an offset (valid HTML)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def init_templating(app: Flask) -> None:
    """Register the filters and the company name."""
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_day_month, "day_month")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_iso, "iso")
    app.add_template_filter(local, "local")
    app.add_template_global(recruiter_words, "words")

    @app.context_processor
    def company():
        return {"company_name": app.config["COMPANY_NAME"], "viewer_zone_name": viewer_zone_name}
