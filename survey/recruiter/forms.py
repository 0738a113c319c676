"""Staff forms."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    PasswordField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from ..forms import options
from ..i18n import LANGUAGE_NAMES, SHIPPED_LANGUAGES
from ..models import EXPECTED_OUTCOMES, INVITATION_STATUSES, NEXT_STEP_SIGNALS, RED_FLAG_SEVERITIES
from ..questions import DEBRIEF_SCALE_LABELS, TEXT_MAX_CHARS
from ..services.accounts import MIN_PASSWORD_LENGTH
from ..services.interviews import PAGE_SIZES

OUTCOME_LABELS = ("Likely to advance", "Unlikely", "Unsure")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


ANY = ("", "Any")
SORTS = [
    ("date", "Date"),
    ("candidate", "Candidate"),
    ("position", "Position"),
    ("stage", "Stage"),
    ("status", "Survey status"),
    ("recruiter", "Recruiter"),
]


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    """The current password and a new one."""

    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new = PasswordField("New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])


class InterviewFilterForm(FlaskForm):
    """The interview list's search, filters, order and page size, read from the query string."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    q = SearchField("Search", validators=[Optional(), Length(max=200)])
    status = SelectField(
        "Survey status",
        choices=options([ANY, *((s, s.replace("_", " ").capitalize()) for s in INVITATION_STATUSES)]),
        validators=[Optional()],
        default="",
    )
    stage = SelectField("Stage", choices=options([ANY]), validators=[Optional()], default="")
    position = SelectField("Position", choices=options([ANY]), validators=[Optional()], default="")
    department = SelectField("Department", choices=options([ANY]), validators=[Optional()], default="")
    recruiter = SelectField("Recruiter", choices=options([ANY]), validators=[Optional()], default="")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    needs_debrief = BooleanField("Needs a debrief")
    sort = SelectField("Sort by", choices=options(SORTS), validators=[Optional()], default="date")
    direction = SelectField(
        "Order", choices=options([("desc", "Descending"), ("asc", "Ascending")]), default="desc"
    )
    per_page = SelectField(
        "Per page",
        choices=options((str(n), str(n)) for n in PAGE_SIZES),
        validators=[Optional()],
        default="25",
    )

    def offer(self, choices) -> None:
        """Fill the menus with what the user's interviews use (recruiters for hr/admin only)."""
        self.stage.choices = options([ANY, *((stage, stage) for stage in choices.stages)])
        self.position.choices = options([ANY, *((str(pid), label) for pid, label in choices.positions)])
        self.department.choices = options([ANY, *((name, name) for name in choices.departments if name)])
        self.recruiter.choices = options([ANY, *((str(uid), name) for uid, name in choices.recruiters)])


def with_zone(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """A wall-clock time typed in a form, made aware in that zone."""
    return moment.replace(tzinfo=zone) if moment else None


class NewInterviewForm(FlaskForm):
    """An interview typed in by its recruiter; checked by the same validator as the API and CSV.

    Its fields carry the validator's names, so each message lands beside the field it is about.
    """

    candidate_name = StringField("Candidate name", validators=[DataRequired(), Length(max=200)])
    candidate_email = EmailField("Candidate email", validators=[DataRequired(), Email(), Length(max=254)])
    position_title = StringField("Position", validators=[DataRequired(), Length(max=200)])
    department = StringField("Department", validators=[Optional(), Length(max=120)])
    location = StringField("Location", validators=[Optional(), Length(max=120)])
    stage = StringField("Stage", validators=[DataRequired(), Length(max=100)])
    hiring_manager = StringField("Hiring manager", validators=[Optional(), Length(max=200)])
    interviewers = StringField("Interviewers (comma-separated)", validators=[Optional(), Length(max=2000)])
    # Typed in the recruiter's own time zone (the page names it).
    starts_at = DateTimeLocalField("Starts", format=DATETIME_FORMATS, validators=[Optional()])
    # InputRequired, not DataRequired: a badly typed time says so rather than "required".
    ends_at = DateTimeLocalField("Ends", format=DATETIME_FORMATS, validators=[InputRequired()])
    language = SelectField(
        "Candidate's language",
        choices=options((code, LANGUAGE_NAMES[code]) for code in SHIPPED_LANGUAGES),
        # Checked by the validator like the API's field; blank means DEFAULT_LANGUAGE.
        validate_choice=False,
        validators=[Optional()],
    )
    timezone = StringField("Candidate's time zone", validators=[Optional(), Length(max=64)])

    def values(self, recruiter_email: str, zone: tzinfo) -> dict[str, Any]:
        """The validator's values this form describes, as they are: times typed in `zone`."""
        return {
            "candidate_name": self.candidate_name.data,
            "candidate_email": self.candidate_email.data,
            "position_title": self.position_title.data,
            "department": self.department.data,
            "location": self.location.data,
            "stage": self.stage.data,
            "hiring_manager": self.hiring_manager.data,
            "interviewers": [n.strip() for n in (self.interviewers.data or "").split(",") if n.strip()],
            "starts_at": with_zone(self.starts_at.data, zone),
            "ends_at": with_zone(self.ends_at.data, zone),
            "recruiter_email": recruiter_email,
            "language": self.language.data or None,
            "timezone": self.timezone.data or None,
        }

    def add_intake_errors(self, errors: dict[str, str]) -> None:
        """Show the validator's messages beside their fields; one about no field (the recruiter's
        own account) above the form."""
        for name, message in errors.items():
            if name in self:
                self[name].errors = [*self[name].errors, message]
            else:
                self.form_errors.append(message)


class RescheduleForm(FlaskForm):
    """When a not-yet-sent survey should go out."""

    send_after = DateTimeLocalField("Send at", format=DATETIME_FORMATS, validators=[InputRequired()])


def optional_int(value) -> int | None:
    """'' → None, '3' → 3 (a ValueError for anything else becomes a field error)."""
    return None if value in ("", None) else int(value)


def optional_str(value) -> str | None:
    """'' → None."""
    return value or None


def yes_no(value) -> bool | None:
    """'yes'/'no'/'' from the form, or a stored True/False/None."""
    if value in (True, "yes"):
        return True
    if value in (False, "no"):
        return False
    if value in ("", None):
        return None
    raise ValueError("yes, no or blank")


def scale_field(label: str, field: str) -> SelectField:
    """A 1–5 choice that may be left blank, each point in the words the combined view uses."""
    words = DEBRIEF_SCALE_LABELS[field]
    choices = [("", "—")] + [(str(n), f"{n} · {word}") for n, word in enumerate(words, start=1)]
    return SelectField(label, choices=options(choices), coerce=optional_int, validators=[Optional()])


def yes_no_field(label: str) -> SelectField:
    """Yes, no, or not known."""
    return SelectField(label, choices=options([("", "—"), ("yes", "Yes"), ("no", "No")]), coerce=yes_no)


def notes_field(label: str) -> TextAreaField:
    """Free text up to the survey's own limit."""
    return TextAreaField(label, validators=[Optional(), Length(max=TEXT_MAX_CHARS)])


def labelled(values: tuple[str, ...]) -> list[tuple[str, str]]:
    """Choices whose label is the value, capitalised."""
    return [(value, value.capitalize()) for value in values]


class DebriefForm(FlaskForm):
    """The debrief-call notes: every field of DESIGN's mirror table."""

    interest = scale_field("Candidate's interest, as you sensed it", "interest")
    self_assessment = scale_field("Candidate's own view of how it went, as told", "self_assessment")
    next_step_signal = SelectField(
        "Did the hiring manager signal a next step?",
        choices=options([("", "—"), *labelled(NEXT_STEP_SIGNALS)]),
        coerce=optional_str,
    )
    doubts = notes_field("Doubts about the role the candidate raised")
    doubts_cleared = yes_no_field("Were the doubts cleared?")
    process_issues = notes_field("Process issues mentioned")
    culture_score = scale_field("How the culture came across to the candidate", "culture_score")
    culture_notes = notes_field("Culture notes")
    what_matters = notes_field("What the hiring manager's questions showed matters most")
    red_flags = notes_field("Red flags")
    red_flag_severity = SelectField(
        "Red flag severity", choices=options(labelled(RED_FLAG_SEVERITIES)), default="none"
    )
    expected_outcome = SelectField(
        "Expected outcome",
        choices=options([("", "—"), *zip(EXPECTED_OUTCOMES, OUTCOME_LABELS, strict=True)]),
        coerce=optional_str,
    )
    referral_potential = scale_field("Referral potential", "referral_potential")
    open_to_other_roles = yes_no_field("Open to other roles?")
    free_notes = notes_field("Free notes")


def timezone_choices() -> list[SelectChoice]:
    """Every IANA zone, by name, after the site default."""
    names = sorted(name for name in available_timezones() if "/" in name or name == "UTC")
    return options([("", "Site default"), *((name, name.replace("_", " ")) for name in names)])


class AccountForm(FlaskForm):
    """The signed-in user's own settings."""

    timezone = SelectField("Time zone", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()
