"""The one family of refusals the domain raises: `DomainError` and its kinds.

A service raises a subclass when a rule of the domain refuses what someone asked for (an answered
survey cannot be cancelled, a role does not exist, a file has no header). Its message is written for
the person who asked: a view flashes it (or answers 400/409 with it in the API), a command prints it
and exits 1. Anything else a service raises is a bug and becomes the plain 500 page.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A request the domain's rules refuse; `str(error)` says why, to the person who made it.

    A ValueError, as the refusals were before the family existed, so a caller that caught those
    keeps working.
    """
