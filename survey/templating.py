"""Template filters and globals."""

from datetime import datetime

from flask import Flask


def format_date(moment: datetime | None) -> str:
    """A date people read: 25 November 2026."""
    return f"{moment.day} {moment:%B %Y}" if moment else ""


def format_datetime(moment: datetime | None) -> str:
    """A date and time in UTC; the page's <time> element carries the exact instant."""
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC" if moment else ""


def init_templating(app: Flask) -> None:
    """Register the filters and the company name."""
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_datetime, "datetime")

    @app.context_processor
    def company():
        return {"company_name": app.config["COMPANY_NAME"]}
