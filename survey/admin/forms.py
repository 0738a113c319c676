"""Admin forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField, URLField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import ROLES, WEBHOOK_EVENTS
from ..recruiter.forms import options
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


class NewApiKeyForm(FlaskForm):
    """A new key for the ATS integration."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)])


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NewWebhookForm(FlaskForm):
    """A new webhook endpoint: its URL and the events it receives."""

    url = URLField("URL", validators=[DataRequired(), Length(max=2000)])
    events = MultiCheckboxField(
        "Events",
        choices=options((event, event) for event in WEBHOOK_EVENTS),
        validators=[DataRequired(message="Choose at least one event.")],
    )
