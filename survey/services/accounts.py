"""Staff accounts and API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..mailing import InvalidAddress, normalized_address
from ..models import API_SCOPES, DEFAULT_API_SCOPES, ROLES, ApiKey, User, utcnow
from .audit import record_event
from .errors import DomainError

API_KEY_PREFIX = "dbk_"
MIN_PASSWORD_LENGTH = 8


class AccountError(DomainError):
    """A user or key request that cannot be carried out, with a message for people."""


def check_timezone(name: str | None) -> str | None:
    """An IANA time zone name as given ("Europe/Berlin"), None for none; AccountError if unknown."""
    name = (name or "").strip()
    if not name:
        return None
    if name not in available_timezones():
        raise AccountError(f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin.")
    return name


def create_user(
    email: str, name: str, role: str, password: str, timezone: str | None = None, actor: User | None = None
) -> User:
    """Create a staff account with a hashed password (and a time zone, else DEFAULT_TIMEZONE);
    `actor` is the admin who creates it (None: a command)."""
    timezone = check_timezone(timezone)
    if role not in ROLES:
        raise AccountError(f"Role must be one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Password must have at least {MIN_PASSWORD_LENGTH} characters.")
    try:
        email = normalized_address(email)
    except InvalidAddress as exc:
        raise AccountError(str(exc)) from exc
    if find_user(email) is not None:
        raise AccountError(f"A user with email {email} already exists.")
    user = User(email=email, name=name.strip() or email, role=role, timezone=timezone)
    user.set_password(password)
    db.session.add(user)
    record_event("user.created", {"email": email, "role": role}, actor=actor)
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


def create_api_key(
    name: str, scopes: str | None = None, expires_at: datetime | None = None, actor: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key with its scopes, refused from `expires_at` on if given; returns the row and the
    plain key, which is never stored. `actor`: the admin who creates it (None: a command)."""
    granted = parse_scopes(scopes)
    if expires_at is not None and expires_at <= utcnow():
        raise AccountError("The expiry date must be in the future.")
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        name=name,
        prefix=plain[:12],
        key_hash=hash_api_key(plain),
        scopes=" ".join(granted),
        expires_at=expires_at,
    )
    db.session.add(api_key)
    details = {"name": name, "prefix": api_key.prefix, "scopes": granted}
    if expires_at is not None:
        details["expires_at"] = expires_at.isoformat()
    record_event("api_key.created", details, actor=actor)
    db.session.commit()
    return api_key, plain


def authenticate_api_key(plain: str) -> ApiKey | None:
    """The live (neither revoked nor expired) key matching a bearer token, with its last use recorded."""
    if not plain or len(plain) > 200:
        return None
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(plain)))
    if api_key is None or api_key.revoked_at is not None or api_key.expired():
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


def end_sessions(user: User) -> None:
    """Make every session cookie issued to this user so far stop working (the caller commits)."""
    user.session_generation += 1


def sign_out(user: User) -> None:
    """Sign a user out: every cookie of theirs, on this browser and any other, stops working."""
    end_sessions(user)
    record_event("sign_out", actor=user)
    db.session.commit()


def sign_out_everywhere(user: User, actor: User) -> None:
    """End every session of a user, at their own request or an admin's."""
    end_sessions(user)
    record_event("user.signed_out_everywhere", {"email": user.email}, actor=actor)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password after checking the current one; every existing session ends."""
    if not user.check_password(current or ""):
        raise AccountError("The current password is not right.")
    if len(new or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Password must have at least {MIN_PASSWORD_LENGTH} characters.")
    user.set_password(new)
    end_sessions(user)
    record_event("user.password_changed", {"email": user.email}, actor=user)
    db.session.commit()


def record_sso_refusal(reason: str, email: str | None = None) -> None:
    """Audit a single sign-on that was refused (bad state or token, unknown or inactive account)."""
    details = {"reason": reason, **({"email": email[:254]} if email else {})}
    record_event("sign_in.sso_refused", details, actor_label="anonymous")
    db.session.commit()


def _refuse_sso(reason: str, email: str | None, message: str) -> AccountError:
    record_sso_refusal(reason, email)
    return AccountError(message)


def sign_in_with_sso(claims: dict, create_role: str | None) -> User:
    """The active staff user whose email the provider verified; with `create_role`, a new colleague's
    account is made. Every refusal is audited and raised as AccountError with a message for people."""
    email = str(claims.get("email") or "").strip()
    if not email or claims.get("email_verified") not in (True, "true"):
        raise _refuse_sso(
            "email_not_verified",
            email or None,
            "Your single sign-on account has no verified email address, so it cannot be matched to a "
            "Debrief account. Ask your IT team to verify it.",
        )
    user = find_user(email)
    if user is None and create_role:
        user = _create_sso_user(email, str(claims.get("name") or ""), create_role)
    if user is None:
        raise _refuse_sso(
            "no_account", email, f"There is no Debrief account for {email}. Ask an admin to add you."
        )
    if not user.active:
        raise _refuse_sso("deactivated", email, f"The Debrief account for {email} is deactivated.")
    record_event("sign_in", {"method": "sso"}, actor=user)
    db.session.commit()
    return user


def _create_sso_user(email: str, name: str, role: str) -> User:
    """A new account for a colleague the provider vouches for; its password is random and never shown."""
    try:
        email = normalized_address(email)
    except InvalidAddress as exc:
        raise _refuse_sso("invalid_email", email, str(exc)) from exc
    user = User(email=email, name=name.strip()[:200] or email, role=role)
    user.set_password(secrets.token_urlsafe(32))
    db.session.add(user)
    db.session.flush()
    record_event("user.created", {"email": email, "role": role, "method": "sso"}, actor=user)
    return user


def change_role(user: User, role: str, actor: User) -> User:
    """Give a user another role; an admin cannot demote themselves (someone must stay admin).

    Their sessions end: pages opened under the old role must not keep its rights.
    """
    if role not in ROLES:
        raise AccountError(f"Role must be one of {', '.join(ROLES)}.")
    if user.id == actor.id and role != user.role:
        raise AccountError("You cannot change your own role.")
    if role != user.role:
        record_event("user.role_changed", {"email": user.email, "from": user.role, "to": role}, actor=actor)
        user.role = role
        end_sessions(user)
        db.session.commit()
    return user


def set_active(user: User, active: bool, actor: User) -> User:
    """Deactivate (or reactivate) an account; either way every cookie issued before stops working,
    so reactivating an account does not bring an old copied cookie back to life."""
    if user.id == actor.id and not active:
        raise AccountError("You cannot deactivate your own account.")
    if user.active != active:
        action = "user.reactivated" if active else "user.deactivated"
        record_event(action, {"email": user.email}, actor=actor)
        user.active = active
        end_sessions(user)
        db.session.commit()
    return user


def revoke_api_key(api_key: ApiKey, actor: User) -> ApiKey:
    """Revoke a key: the ATS using it is refused from now on."""
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        record_event("api_key.revoked", {"name": api_key.name, "prefix": api_key.prefix}, actor=actor)
        db.session.commit()
    return api_key


def set_timezone(user: User, name: str | None) -> User:
    """Set the zone the user's pages show times in (empty: DEFAULT_TIMEZONE)."""
    user.timezone = check_timezone(name)
    db.session.commit()
    return user
