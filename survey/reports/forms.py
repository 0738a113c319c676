"""The report filter form: a GET form, so a filtered view is a URL that can be shared."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectField

from .filters import ReportFilters, month_words

ANY = ("", "All")


class ReportFilterForm(FlaskForm):
    """Month range and grouping attributes. GET only and read-only, so no CSRF token."""

    class Meta:
        csrf = False

    month_from = SelectField("From month", default="")
    month_to = SelectField("To month", default="")
    department = SelectField("Department", default="")
    position_id = SelectField("Position", default="")
    stage = SelectField("Stage", default="")
    hiring_manager = SelectField("Hiring manager", default="")
    recruiter_id = SelectField("Recruiter", default="")

    def set_choices(self, options: dict[str, list[tuple[Any, str]]]) -> None:
        """Fill each list from the values present in the data."""
        for name in ("department", "position_id", "stage", "hiring_manager", "recruiter_id"):
            getattr(self, name).choices = [ANY, *((str(value), label) for value, label in options[name])]
        for name in ("month_from", "month_to"):
            getattr(self, name).choices = [ANY, *((str(value), label) for value, label in options["month"])]

    def limit_months(self, starts: list[str], ends: list[str]) -> None:
        """Offer only the months a range may start and end on, in words ("January 2026")."""
        self.month_from.choices = [ANY, *((month, month_words(month)) for month in starts)]
        self.month_to.choices = [ANY, *((month, month_words(month)) for month in ends)]

    def to_filters(self) -> ReportFilters:
        """The valid filters; an unknown value is reported on its field and left out."""
        self.validate()
        values: dict[str, Any] = {}
        for field in self:
            if field.errors or not field.data:
                continue
            values[field.name] = int(field.data) if field.name.endswith("_id") else field.data
        if values.get("month_from") and values.get("month_to") and values["month_from"] > values["month_to"]:
            self.month_to.errors = [*self.month_to.errors, "The end month is before the start month."]
            values.pop("month_to")
        return ReportFilters(**values)
