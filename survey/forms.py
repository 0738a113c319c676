"""Form pieces every staff blueprint uses: a CSRF-only action button and select choices."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import SelectChoice


class ActionForm(FlaskForm):
    """A button that changes something: carries only the CSRF token."""


def options(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """Select choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]
