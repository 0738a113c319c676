"""Single sign-on against a real OpenID provider on loopback (oidc-provider-mock, run in a thread):
discovery, state, nonce and PKCE; a staff user matched by verified email; refusals audited."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import oidc_provider_mock
import pytest
import requests
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.serving import make_server

from config import TestingConfig, oidc_issuer_problem
from helpers import ON_POSTGRES, empty_tables, free_port, session_csrf, sign_in
from survey import create_app
from survey.extensions import db
from survey.models import AuditEvent, User
from survey.services.accounts import create_user, set_active

CLIENT_ID = "debrief-test"
# The provider (not this app) still uses an Authlib hook that Authlib marks as deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@dataclass
class Provider:
    """The OpenID provider on loopback, and the token requests it received."""

    url: str
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)

    def set_user(self, sub: str, **claims) -> None:
        """What the provider says about a person (their ID token claims)."""
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        assert response.status_code == 204


@pytest.fixture
def provider() -> Iterator[Provider]:
    """oidc-provider-mock on a free loopback port; token requests recorded to check PKCE."""
    wsgi = oidc_provider_mock.app(require_nonce=True)
    recorded: list[dict[str, list[str]]] = []

    def recording(environ, start_response):
        if environ["PATH_INFO"] == "/oauth2/token":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            recorded.append(parse_qs(body.decode()))
            environ["wsgi.input"] = io.BytesIO(body)
        return wsgi(environ, start_response)

    server = make_server("localhost", 0, recording, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Provider(url=f"http://localhost:{server.server_port}", token_requests=recorded)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def sso_app(database_url: str, provider: Provider, **settings):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        OIDC_ISSUER = provider.url
        OIDC_CLIENT_ID = CLIENT_ID
        OIDC_CLIENT_SECRET = "client-secret-for-tests"

    for name, value in settings.items():
        setattr(Config, name, value)
    return create_app(Config)


@pytest.fixture
def make_sso_app(database_url, provider):
    """Build the app with single sign-on pointed at a provider, on a fresh database (as conftest's app)."""
    pushed = []

    def make(provider: Provider = provider, **settings):
        app = sso_app(database_url, provider, **settings)
        context = app.app_context()
        context.push()
        pushed.append(context)
        if ON_POSTGRES:
            empty_tables()
        else:
            db.create_all()
        return app

    yield make
    for context in reversed(pushed):
        db.session.remove()
        if not ON_POSTGRES:
            db.drop_all()
        db.engine.dispose()
        context.pop()


@pytest.fixture
def app(make_sso_app):
    """The app with single sign-on pointed at the provider on loopback."""
    return make_sso_app()


def at_provider(authorize_url: str, sub: str) -> str:
    """The person signs in at the provider as `sub`; returns where the provider sends the browser back."""
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def local(url: str) -> str:
    """The path and query of a URL on this app."""
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def sso_sign_in(client, sub: str, rewrite=None):
    """The whole single sign-on round trip; returns the app's answer to the callback."""
    start = client.get("/login/sso")
    assert start.status_code == 302
    authorize_url = rewrite(start.location) if rewrite else start.location
    return client.get(local(at_provider(authorize_url, sub)))


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_login_page_offers_single_sign_on_beside_passwords(client):
    html = client.get("/login").get_data(as_text=True)
    assert "Sign in with SSO" in html and 'href="/login/sso"' in html
    assert 'name="password"' in html


def test_an_existing_colleague_signs_in_through_the_provider(client, provider):
    user = create_user("sam.sso@example.com", "Sam", "recruiter", "password-123")
    provider.set_user("sam-1", email="Sam.SSO@example.com", email_verified=True, name="Sam")
    response = sso_sign_in(client, "sam-1")
    assert response.status_code == 302 and response.location == "/interviews"
    assert client.get("/interviews").status_code == 200
    [event] = audit("sign_in")
    assert event.actor_id == user.id and event.details == {"method": "sso"}


def test_the_round_trip_uses_state_nonce_and_a_pkce_s256_challenge(client, provider):
    create_user("sam.sso@example.com", "Sam", "recruiter", "password-123")
    provider.set_user("sam-1", email="sam.sso@example.com", email_verified=True)
    authorize = urlsplit(client.get("/login/sso").location)
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}" == provider.url  # found by discovery
    assert query["client_id"] == [CLIENT_ID] and "openid" in query["scope"][0].split()
    assert query["redirect_uri"] == ["http://localhost/login/sso/callback"]
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert query["code_challenge_method"] == ["S256"]
    response = client.get(local(at_provider(authorize.geturl(), "sam-1")))
    assert response.status_code == 302
    [token_request] = provider.token_requests
    verifier = token_request["code_verifier"][0]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert digest == query["code_challenge"][0]


def test_a_new_user_is_refused_clearly_and_the_refusal_is_audited(client, provider):
    provider.set_user("newbie", email="new.colleague@example.com", email_verified=True)
    response = sso_sign_in(client, "newbie")
    assert response.status_code == 403
    assert "There is no Debrief account for new.colleague@example.com" in response.get_data(as_text=True)
    assert client.get("/interviews").status_code == 302
    [event] = audit("sign_in.sso_refused")
    assert event.details == {"reason": "no_account", "email": "new.colleague@example.com"}


def test_oidc_create_role_lets_a_new_colleague_in_with_that_role(make_sso_app, provider):
    app = make_sso_app(OIDC_CREATE_ROLE="hr")
    client = app.test_client()
    provider.set_user("newbie", email="new.colleague@example.com", email_verified=True, name="Nova Colleague")
    response = sso_sign_in(client, "newbie")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "new.colleague@example.com"))
    assert user.role == "hr" and user.name == "Nova Colleague" and user.active
    assert client.get("/reports").status_code == 200


def test_an_unverified_email_is_not_matched_to_an_account(client, provider):
    create_user("sam.sso@example.com", "Sam", "admin", "password-123")
    provider.set_user("mallory", email="sam.sso@example.com", email_verified=False)
    response = sso_sign_in(client, "mallory")
    assert response.status_code == 403
    assert "no verified email address" in response.get_data(as_text=True)
    assert client.get("/admin/users").status_code == 302
    assert audit("sign_in.sso_refused")[0].details["reason"] == "email_not_verified"


def test_a_deactivated_account_cannot_sign_in_through_the_provider(client, provider):
    admin = create_user("ada@example.com", "Ada", "admin", "password-123")
    user = create_user("sam.sso@example.com", "Sam", "recruiter", "password-123")
    set_active(user, False, admin)
    provider.set_user("sam-1", email="sam.sso@example.com", email_verified=True)
    response = sso_sign_in(client, "sam-1")
    assert response.status_code == 403 and "is deactivated" in response.get_data(as_text=True)


def test_a_callback_with_a_state_not_started_here_is_refused(client, provider):
    create_user("sam.sso@example.com", "Sam", "recruiter", "password-123")
    provider.set_user("sam-1", email="sam.sso@example.com", email_verified=True)
    # The attacker starts a sign-in in their own browser and sends the victim the callback link.
    attacker = client.application.test_client()
    callback = at_provider(attacker.get("/login/sso").location, "sam-1")
    response = client.get(local(callback))
    assert response.status_code == 400
    assert "not started here or has already been used" in response.get_data(as_text=True)
    assert client.get("/interviews").status_code == 302
    assert audit("sign_in.sso_refused")[0].details["reason"] == "mismatching_state"


def test_an_id_token_for_another_nonce_is_refused(client, provider):
    create_user("sam.sso@example.com", "Sam", "recruiter", "password-123")
    provider.set_user("sam-1", email="sam.sso@example.com", email_verified=True)
    response = sso_sign_in(
        client, "sam-1", rewrite=lambda url: with_query(url, nonce="replayed-nonce-from-elsewhere")
    )
    assert response.status_code == 400
    assert "could not be verified" in response.get_data(as_text=True)
    assert client.get("/interviews").status_code == 302


def test_the_callback_cannot_be_replayed(client, provider):
    create_user("sam.sso@example.com", "Sam", "recruiter", "password-123")
    provider.set_user("sam-1", email="sam.sso@example.com", email_verified=True)
    callback = at_provider(client.get("/login/sso").location, "sam-1")
    assert client.get(local(callback)).status_code == 302
    client.post("/logout", data={"csrf_token": session_csrf(client)})
    assert client.get(local(callback)).status_code == 400


def test_a_provider_that_cannot_be_reached_gets_a_clear_message(make_sso_app):
    app = make_sso_app(Provider(url=f"http://127.0.0.1:{free_port()}"))
    response = app.test_client().get("/login/sso")
    assert response.status_code == 503
    assert "could not be reached" in response.get_data(as_text=True)


def test_password_login_can_be_switched_off(make_sso_app):
    app = make_sso_app(PASSWORD_LOGIN_ENABLED=False)
    create_user("sam.sso@example.com", "Sam", "recruiter", "password-123")
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    assert "Sign in with SSO" in html and 'name="password"' not in html
    refused = sign_in_without_form(client, "sam.sso@example.com", "password-123")
    assert refused.status_code == 400
    assert "Password sign-in is switched off" in refused.get_data(as_text=True)


def sign_in_without_form(client, email: str, password: str):
    """A password POST crafted by hand (the page shows no form when passwords are off), CSRF-valid."""
    secret = "f" * 40
    with client.session_transaction() as session:
        session["csrf_token"] = secret
    token = URLSafeTimedSerializer(client.application.secret_key, salt="wtf-csrf-token").dumps(secret)
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


def test_passwords_off_without_sso_refuses_to_start(database_url):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        PASSWORD_LOGIN_ENABLED = False

    with pytest.raises(RuntimeError, match="PASSWORD_LOGIN_ENABLED=false needs single sign-on"):
        create_app(Config)


@pytest.mark.parametrize(
    ("issuer", "allowed"),
    [
        ("https://login.example.com", True),
        ("http://login.example.com", False),
        ("http://localhost:8080", True),
        ("http://127.0.0.1:8080", True),
        ("http://[::1]:8080", True),
        ("http://10.0.0.5", False),
        ("ftp://login.example.com", False),
    ],
)
def test_production_needs_an_https_issuer_unless_it_is_on_loopback(issuer, allowed):
    assert (oidc_issuer_problem(issuer) is None) is allowed


def test_password_sign_in_still_works_beside_sso(client):
    create_user("pat@example.com", "Pat", "recruiter", "password-123")
    assert sign_in(client, "pat@example.com", "password-123").status_code == 302
