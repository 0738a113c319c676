"""Sessions that end: a copied cookie stops working after sign-out, deactivation, a role change or a
password change; staff sessions expire after PERMANENT_SESSION_LIFETIME without a request; the CSRF
secret is new at each sign-in; "Sign out everywhere"."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner
from processes import Gunicorn
from sqlalchemy import select

from helpers import ANY_CSRF_PATTERN, STAFF_PASSWORD, csrf_token, session_csrf, sign_in
from survey.extensions import db
from survey.models import AuditEvent


def stolen_cookie(client) -> str:
    """The session cookie as an attacker would copy it from the browser."""
    return client.get_cookie("session").value


def cookie_of_another_browser(app, user) -> str:
    """The session cookie of `user` signed in through the form in a browser of their own."""
    browser = app.test_client()
    sign_in(browser, user.email)
    return stolen_cookie(browser)


def replay(app, cookie: str, path: str = "/interviews"):
    """A request from another machine carrying a copied cookie."""
    attacker = app.test_client()
    attacker.set_cookie("session", cookie)
    return attacker.get(path)


def assert_sent_to_sign_in(response) -> None:
    assert response.status_code == 302
    assert response.location.startswith("/login")


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": session_csrf(client), **data})


def test_a_cookie_replayed_after_logout_gets_the_sign_in_page(app, client, staff):
    sign_in(client, staff["owner"].email)
    cookie = stolen_cookie(client)
    assert replay(app, cookie).status_code == 200  # the copy works while the session lives
    post(client, "/logout")
    assert_sent_to_sign_in(replay(app, cookie))


def test_a_cookie_replayed_after_deactivation_stays_dead_after_reactivation(app, client, staff):
    cookie = cookie_of_another_browser(app, staff["other"])
    sign_in(client, staff["admin"].email)
    post(client, f"/admin/users/{staff['other'].id}/deactivate")
    assert_sent_to_sign_in(replay(app, cookie))
    post(client, f"/admin/users/{staff['other'].id}/reactivate")
    db.session.refresh(staff["other"])
    assert staff["other"].active
    assert_sent_to_sign_in(replay(app, cookie))


def test_a_cookie_replayed_after_a_role_change_gets_the_sign_in_page(app, client, staff):
    cookie = cookie_of_another_browser(app, staff["other"])
    sign_in(client, staff["admin"].email)
    post(client, f"/admin/users/{staff['other'].id}/role", role="hr")
    db.session.refresh(staff["other"])
    assert staff["other"].role == "hr"
    assert_sent_to_sign_in(replay(app, cookie, "/reports"))


def test_changing_the_password_ends_other_sessions_and_keeps_this_one(app, client, staff):
    old_cookie = cookie_of_another_browser(app, staff["owner"])
    sign_in(client, staff["owner"].email)
    response = post(client, "/account/password", current=STAFF_PASSWORD, new="a-brand-new-passphrase")
    assert response.status_code == 302
    assert_sent_to_sign_in(replay(app, old_cookie))
    assert replay(app, stolen_cookie(client)).status_code == 200
    post(client, "/logout")
    assert sign_in(client, staff["owner"].email, STAFF_PASSWORD).status_code == 400
    assert sign_in(client, staff["owner"].email, "a-brand-new-passphrase").status_code == 302


def test_a_wrong_current_password_changes_nothing(client, staff):
    sign_in(client, staff["owner"].email)
    response = post(client, "/account/password", current="not-it", new="a-brand-new-passphrase")
    assert response.status_code == 400
    assert "The current password is not right." in response.get_data(as_text=True)
    assert staff["owner"].check_password(STAFF_PASSWORD)


def test_sign_out_everywhere_ends_every_session_and_is_audited(app, client, staff):
    phone_cookie = cookie_of_another_browser(app, staff["hr"])
    sign_in(client, staff["hr"].email)
    page = client.get("/account").get_data(as_text=True)
    assert "Sign out everywhere" in page
    response = post(client, "/account/sign-out-everywhere")
    assert response.location == "/login"
    assert_sent_to_sign_in(replay(app, phone_cookie))
    assert_sent_to_sign_in(client.get("/interviews"))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.signed_out_everywhere"))
    assert event.actor_id == staff["hr"].id


def test_the_account_page_needs_a_signed_in_user(client):
    assert_sent_to_sign_in(client.get("/account"))
    assert client.post("/account/sign-out-everywhere").status_code in (302, 400)


def test_sign_in_starts_a_new_csrf_secret(client, staff):
    before = csrf_token(client.get("/login").get_data(as_text=True))
    with client.session_transaction() as session:
        secret_before = session["csrf_token"]
    sign_in(client, staff["owner"].email)
    with client.session_transaction() as session:
        assert session.get("csrf_token") != secret_before
    # A token planted before sign-in (say, by someone who set the visitor's cookie) is refused after it.
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400


def signed_session_cookie(app, values: dict, age_seconds: int, monkeypatch) -> str:
    """A session cookie as Flask would have signed it `age_seconds` ago."""
    serializer = app.session_interface.get_signing_serializer(app)
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - age_seconds)
        return serializer.dumps(values)


@pytest.mark.parametrize(("hours", "signed_in"), [(11, True), (13, False)])
def test_staff_session_ends_after_12_hours_without_a_request(
    app, client, staff, monkeypatch, hours, signed_in
):
    assert app.permanent_session_lifetime.total_seconds() == 12 * 3600
    sign_in(client, staff["owner"].email)
    with client.session_transaction() as session:
        values = dict(session)
    assert values["_permanent"] is True
    cookie = signed_session_cookie(app, values, hours * 3600, monkeypatch)
    response = replay(app, cookie)
    if signed_in:
        assert response.status_code == 200
        # Each request re-signs the cookie: the 12 hours count from the last request, not from sign-in.
        assert "session=" in response.headers["Set-Cookie"]
    else:
        assert_sent_to_sign_in(response)


@pytest.mark.slow
def test_logout_ends_a_copied_cookie_on_a_real_server(app, staff):
    with Gunicorn(app, workers=1, threads=2) as server:
        _, headers, body = server.get("/login")
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        form = f"csrf_token={csrf_token(body)}&email={staff['owner'].email}&password={STAFF_PASSWORD}"
        content = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        status, headers, _ = server.request("POST", "/login", form, content)
        assert status == 302
        signed_in = {"Cookie": headers["Set-Cookie"].split(";", 1)[0]}
        status, headers, page = server.get("/interviews", headers=signed_in)
        assert status == 200
        # The page's forms put a CSRF secret in the session: the browser keeps the newer cookie.
        signed_in = {"Cookie": headers["Set-Cookie"].split(";", 1)[0]}
        logout_form = f"csrf_token={ANY_CSRF_PATTERN.search(page).group(1)}"
        status, _, _ = server.request("POST", "/logout", logout_form, {**content, **signed_in})
        assert status == 302
        status, headers, _ = server.get("/interviews", headers=signed_in)
        assert status == 302 and headers["Location"].startswith("/login")
