"""Single sign-on with OpenID Connect (Authlib): discovery, state, nonce and PKCE.

On when OIDC_ISSUER is set. The provider is found through `{OIDC_ISSUER}/.well-known/openid-configuration`;
Authlib keeps the state, the nonce and the PKCE verifier in the signed session between the redirect
and the callback, checks the state on return, and validates the ID token (signature from the
provider's JWKS, issuer, audience, expiry, nonce).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, url_for

from .models import ROLES

# Authlib, requests and joserfc are imported where single sign-on is configured or used: they
# cost every process start (a web worker, `surveys send-due`) a fifth of a second otherwise.

CLIENT_NAME = "sso"
EXTENSION_KEY = "debrief.sso"


class SsoFailed(Exception):
    """The provider's answer could not be trusted or used; the message is for the person signing in,
    the reason for the audit log."""

    def __init__(self, message: str, reason: str = "provider_error") -> None:
        super().__init__(message)
        self.reason = reason


def init_sso(app: Flask) -> None:
    """Register the OpenID client when OIDC_ISSUER is set; refuse settings that would lock everyone out."""
    role = app.config.get("OIDC_CREATE_ROLE")
    if role and role not in ROLES:
        raise RuntimeError(f"OIDC_CREATE_ROLE must be one of {', '.join(ROLES)}, not {role!r}.")
    issuer = app.config.get("OIDC_ISSUER")
    if not issuer:
        if not app.config.get("PASSWORD_LOGIN_ENABLED", True):
            raise RuntimeError("PASSWORD_LOGIN_ENABLED=false needs single sign-on: set OIDC_ISSUER too.")
        return
    if not app.config.get("OIDC_CLIENT_ID"):
        raise RuntimeError("OIDC_ISSUER is set but OIDC_CLIENT_ID is not.")
    from authlib.integrations.flask_client import OAuth

    # One OAuth registry per app: tests and tools may build several apps with different providers.
    oauth = OAuth(app)
    oauth.register(
        CLIENT_NAME,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config.get("OIDC_CLIENT_SECRET") or None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions[EXTENSION_KEY] = oauth


def sso_enabled() -> bool:
    """Whether single sign-on is configured for this app."""
    return EXTENSION_KEY in current_app.extensions


def _client():
    return current_app.extensions[EXTENSION_KEY].create_client(CLIENT_NAME)


def callback_url() -> str:
    """The redirect URI registered with the provider: the public address, not whatever Host was sent."""
    return current_app.config["PUBLIC_BASE_URL"] + url_for("recruiter.sso_callback")


def begin_sign_in():
    """A redirect to the provider's sign-in page, with fresh state, nonce and PKCE challenge."""
    import requests

    try:
        return _client().authorize_redirect(callback_url())
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        current_app.logger.warning("single sign-on provider unreachable: %s", exc)
        raise SsoFailed(
            "The single sign-on service could not be reached. Please try again shortly.", "unreachable"
        ) from exc


def finish_sign_in() -> dict[str, Any]:
    """The validated ID token's claims for the provider's answer on the callback URL."""
    import requests
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError

    issuer = current_app.config["OIDC_ISSUER"]
    try:
        token = _client().authorize_access_token(
            claims_options={"iss": {"essential": True, "values": [issuer, issuer + "/"]}}
        )
    except requests.RequestException as exc:
        current_app.logger.warning("single sign-on provider unreachable: %s", exc)
        raise SsoFailed(
            "The single sign-on service could not be reached. Please try again shortly.", "unreachable"
        ) from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as exc:
        raise SsoFailed(_failure_message(exc), getattr(exc, "error", None) or type(exc).__name__) from exc
    claims = token.get("userinfo")
    if not claims:
        raise SsoFailed("The single sign-on service sent no identity token.", "no_id_token")
    return dict(claims)


def _failure_message(exc: Exception) -> str:
    """What to tell the person when the provider's answer is refused."""
    error = getattr(exc, "error", "")
    if error == "mismatching_state":
        return "This sign-in link was not started here or has already been used. Please start again."
    if error == "access_denied":
        return "The single sign-on service did not let you in."
    return "The single sign-on answer could not be verified. Please start again."
