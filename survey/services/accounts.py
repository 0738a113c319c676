"""Staff accounts and API keys."""

from __future__ import annotations

import hashlib
import secrets

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import ROLES, ApiKey, User, utcnow

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
    db.session.commit()
    return user


def find_user(email: str) -> User | None:
    """The staff user with this email, whatever its case."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def hash_api_key(key: str) -> str:
    """SHA-256 of a key: keys are long and random, so a fast hash is safe to store."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(name: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plain key, which is never stored."""
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(name=name, prefix=plain[:12], key_hash=hash_api_key(plain))
    db.session.add(api_key)
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
        User(password_hash=_DUMMY_HASH).check_password(password or "")
        return None
    return user if user.check_password(password or "") else None


_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def sign_in(email: str, password: str) -> User | None:
    """Check credentials and record the attempt, successful or not, in the audit log."""
    from .audit import record_event

    user = authenticate_user(email, password)
    if user is None:
        record_event("sign_in.failed", {"email": (email or "")[:254]}, actor_label="anonymous")
    else:
        record_event("sign_in", actor=user)
    db.session.commit()
    return user
