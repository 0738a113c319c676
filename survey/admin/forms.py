"""Admin forms."""

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..models import ROLES
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
    expires_on = DateField("Expires on (optional)", validators=[Optional()])
