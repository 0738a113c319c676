"""Signed survey links: make_* / load_* pairs, one salt per purpose.

A token carries only the invitation id and version, signed with SECRET_KEY. Keys listed
in SECRET_KEY_FALLBACKS still verify, so rotating the key keeps live links working.
Bumping an invitation's version makes every earlier token for it fail to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeSerializer

SURVEY_SALT = "debrief.survey.v1"
OPT_OUT_SALT = "debrief.opt-out.v1"
SURVEY_FORM_SALT = "debrief.survey-form.v1"
ANSWERED_SALT = "debrief.survey-answered.v1"
ANSWER_CONSENTS = ("named", "anonymous")


class InvalidToken(Exception):
    """The token is malformed, tampered with, or signed for another purpose."""


@dataclass(frozen=True)
class TokenClaims:
    """What a token says: which invitation, at which version."""

    invitation_id: int
    version: int


def _keys() -> tuple[str, ...]:
    # itsdangerous signs with the last key and verifies with any of them.
    return (*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"])


@lru_cache(maxsize=16)
def _cached_serializer(keys: tuple[str, ...], salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(list(keys), salt=salt)


def _serializer(salt: str) -> URLSafeSerializer:
    # Built once per key list and salt: every survey request verifies a token.
    return _cached_serializer(_keys(), salt)


@lru_cache(maxsize=16)
def _cached_signer(keys: tuple[str, ...], salt: str) -> Signer:
    return Signer(list(keys), salt=salt)


def _make(salt: str, invitation_id: int, version: int) -> str:
    return _serializer(salt).dumps([invitation_id, version])


def _load(salt: str, token: str) -> TokenClaims:
    if not token or len(token) > 200:
        raise InvalidToken("token has an impossible length")
    try:
        payload = _serializer(salt).loads(token)
    except (BadSignature, UnicodeError, ValueError) as exc:
        raise InvalidToken("bad signature") from exc
    valid_shape = (
        isinstance(payload, list)
        and len(payload) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) for part in payload)
    )
    if not valid_shape:
        raise InvalidToken("unexpected payload")
    return TokenClaims(invitation_id=payload[0], version=payload[1])


def make_survey_token(invitation_id: int, version: int) -> str:
    """The token in a survey link."""
    return _make(SURVEY_SALT, invitation_id, version)


def load_survey_token(token: str) -> TokenClaims:
    """Verify a survey link's token; raises InvalidToken."""
    return _load(SURVEY_SALT, token)


def make_opt_out_token(invitation_id: int, version: int) -> str:
    """The token in a one-click opt-out link."""
    return _make(OPT_OUT_SALT, invitation_id, version)


def load_opt_out_token(token: str) -> TokenClaims:
    """Verify an opt-out link's token; raises InvalidToken."""
    return _load(OPT_OUT_SALT, token)


def make_survey_form_token(link_token: str) -> str:
    """The CSRF token of one survey link's form: a signature of the link's token.

    It is the same for everyone who holds the link, so the survey page needs no session
    cookie and can be cached; and whoever holds the link can answer anyway. A page from
    another site cannot know it, which is what the token is for.
    """
    return _cached_signer(_keys(), SURVEY_FORM_SALT).get_signature(link_token).decode()


def check_survey_form_token(link_token: str, form_token: str) -> bool:
    """Whether a form token was made for this link (with the current or a fallback key)."""
    if not form_token or len(form_token) > 200:
        return False
    return _cached_signer(_keys(), SURVEY_FORM_SALT).verify_signature(link_token, form_token)


def make_answered_mark(link_token: str, consent: str) -> str:
    """What the browser that answered a link keeps to be shown its thank-you page: the consent
    it chose, signed together with the link (so it fits no other link and cannot be altered)."""
    signature = _cached_signer(_keys(), ANSWERED_SALT).get_signature(f"{link_token}:{consent}").decode()
    return f"{consent}.{signature}"


def load_answered_mark(link_token: str, mark: str | None) -> str | None:
    """The consent a mark made for this link records; None for no mark or a mark made elsewhere."""
    consent, _, signature = (mark or "").partition(".")
    if consent not in ANSWER_CONSENTS or not signature or len(signature) > 200:
        return None
    signer = _cached_signer(_keys(), ANSWERED_SALT)
    return consent if signer.verify_signature(f"{link_token}:{consent}", signature) else None
