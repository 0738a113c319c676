"""Admin forms."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    URLField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import options
from ..models import API_SCOPES, DEFAULT_API_SCOPES, ROLES, WEBHOOK_EVENTS
from ..services.accounts import MIN_PASSWORD_LENGTH

ROLE_CHOICES = options((role, role.capitalize() if role != "hr" else "HR") for role in ROLES)


class NewUserForm(FlaskForm):
    """A new staff account."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="recruiter")
    password = PasswordField(
        "First password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )


class RoleForm(FlaskForm):
    """Another role for an existing user."""

    role = SelectField("Role", choices=ROLE_CHOICES)


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NewApiKeyForm(FlaskForm):
    """A new key for the ATS integration, with what it may do."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    expires_on = DateField("Expires on (optional)", validators=[Optional()])
    scopes = MultiCheckboxField(
        "Scopes",
        choices=options((scope, scope) for scope in API_SCOPES),
        default=list(DEFAULT_API_SCOPES),
        description=(
            "write: create and change interviews; read: read them back, candidates' contact details "
            "included; read-all: every interview, not only this key's own. None ticked: write and read."
        ),
    )


class NewWebhookForm(FlaskForm):
    """A new webhook endpoint: its URL and the events it receives."""

    url = URLField("URL", validators=[DataRequired(), Length(max=2000)])
    events = MultiCheckboxField(
        "Events",
        choices=options((event, event) for event in WEBHOOK_EVENTS),
        validators=[DataRequired(message="Choose at least one event.")],
    )
