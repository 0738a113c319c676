"""Staff accounts and API keys."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import API_SCOPES, DEFAULT_API_SCOPES, ROLES, ApiKey, User, utcnow
from .audit import record_event

API_KEY_PREFIX = "dbk_"
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A user or key request that cannot be carried out, with a message for people."""


def create_user(email: str, name: str, role: str, password: str) -> User:
    """Create a staff account with a hashed password."""
    if role not in ROLES:
        raise AccountError(f"Role must be one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Password must have at least {MIN_PASSWORD_LENGTH} characters.")
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"Not a valid email address: {exc}") from exc
    if find_user(email) is not None:
        raise AccountError(f"A user with email {email} already exists.")
    user = User(email=email, name=name.strip() or email, role=role)
    user.set_password(password)
    db.session.add(user)
    record_event("user.created", {"email": email, "role": role})
    db.session.commit()
    return user


def find_user(email: str) -> User | None:
    """The staff user with this email, whatever its case."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def hash_api_key(key: str) -> str:
    """SHA-256 of a key: keys are long and random, so a fast hash is safe to store."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(value: str | None) -> list[str]:
    """Scopes from a comma- or space-separated list (default: write and read); AccountError if unknown."""
    scopes = [s for s in (value or "").replace(",", " ").split() if s] or list(DEFAULT_API_SCOPES)
    unknown = [s for s in scopes if s not in API_SCOPES]
    if unknown:
        raise AccountError(f"Unknown scope {unknown[0]!r}; choose from {', '.join(API_SCOPES)}.")
    return sorted(set(scopes), key=API_SCOPES.index)


def create_api_key(name: str, scopes: str | None = None) -> tuple[ApiKey, str]:
    """Create a key with its scopes; returns the row and the plain key, which is never stored."""
    granted = parse_scopes(scopes)
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(name=name, prefix=plain[:12], key_hash=hash_api_key(plain), scopes=" ".join(granted))
    db.session.add(api_key)
    record_event("api_key.created", {"name": name, "prefix": api_key.prefix, "scopes": granted})
    db.session.commit()
    return api_key, plain


def authenticate_api_key(plain: str) -> ApiKey | None:
    """The live key matching a bearer token, with its last use recorded."""
    if not plain or len(plain) > 200:
        return None
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(plain)))
    if api_key is None or api_key.revoked_at is not None:
        return None
    api_key.last_used_at = utcnow()
    db.session.commit()
    return api_key


def authenticate_user(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer for either mistake)."""
    user = find_user(email or "")
    if user is None or not user.active:
        # Hash anyway so a wrong email takes as long as a wrong password.
        User(password_hash=_dummy_hash()).check_password(password or "")
        return None
    return user if user.check_password(password or "") else None


@cache
def _dummy_hash() -> str:
    """A hash to check wrong emails against; made on first use, not at every process start."""
    return generate_password_hash(secrets.token_hex(16))


def sign_in(email: str, password: str) -> User | None:
    """Check credentials and record the attempt, successful or not, in the audit log."""
    user = authenticate_user(email, password)
    if user is None:
        record_event("sign_in.failed", {"email": (email or "")[:254]}, actor_label="anonymous")
    else:
        record_event("sign_in", actor=user)
    db.session.commit()
    return user


def change_role(user: User, role: str, actor: User) -> User:
    """Give a user another role; an admin cannot demote themselves (someone must stay admin)."""
    if role not in ROLES:
        raise AccountError(f"Role must be one of {', '.join(ROLES)}.")
    if user.id == actor.id and role != user.role:
        raise AccountError("You cannot change your own role.")
    if role != user.role:
        record_event("user.role_changed", {"email": user.email, "from": user.role, "to": role}, actor=actor)
        user.role = role
        db.session.commit()
    return user


def set_active(user: User, active: bool, actor: User) -> User:
    """Deactivate (or reactivate) an account; a deactivated user is signed out on the next request."""
    if user.id == actor.id and not active:
        raise AccountError("You cannot deactivate your own account.")
    if user.active != active:
        action = "user.reactivated" if active else "user.deactivated"
        record_event(action, {"email": user.email}, actor=actor)
        user.active = active
        db.session.commit()
    return user


def revoke_api_key(api_key: ApiKey, actor: User) -> ApiKey:
    """Revoke a key: the ATS using it is refused from now on."""
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        record_event("api_key.revoked", {"name": api_key.name, "prefix": api_key.prefix}, actor=actor)
        db.session.commit()
    return api_key
