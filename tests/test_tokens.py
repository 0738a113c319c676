"""Signed survey links: tampering, salts, key rotation and revocation."""

import pytest

from survey.tokens import (
    InvalidToken,
    load_opt_out_token,
    load_survey_token,
    make_opt_out_token,
    make_survey_token,
)


def test_token_round_trips_id_and_version(app):
    claims = load_survey_token(make_survey_token(42, 3))
    assert (claims.invitation_id, claims.version) == (42, 3)


def test_tampered_token_is_rejected(app):
    token = make_survey_token(42, 1)
    payload, signature = token.split(".")
    forged = make_survey_token(43, 1).split(".")[0] + "." + signature
    flipped = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (forged, flipped, token[:-1], "", "x" * 500, "not-a-token"):
        with pytest.raises(InvalidToken):
            load_survey_token(bad)


def test_survey_and_opt_out_tokens_are_not_interchangeable(app):
    with pytest.raises(InvalidToken):
        load_opt_out_token(make_survey_token(7, 1))
    with pytest.raises(InvalidToken):
        load_survey_token(make_opt_out_token(7, 1))


def test_rotated_key_keeps_old_links_while_listed_as_fallback(app):
    old_token = make_survey_token(9, 1)
    app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = "brand-new-key", ["testing-secret-key"]
    assert load_survey_token(old_token).invitation_id == 9
    assert make_survey_token(9, 1) != old_token  # new links are signed with the new key

    app.config["SECRET_KEY_FALLBACKS"] = []
    with pytest.raises(InvalidToken):
        load_survey_token(old_token)


def test_a_signed_payload_of_the_wrong_shape_is_rejected(app):
    from itsdangerous import URLSafeSerializer

    from survey.tokens import SURVEY_SALT

    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt=SURVEY_SALT)
    for payload in ({"id": 1}, [1], [1, "2"], [True, 1], "1"):
        with pytest.raises(InvalidToken):
            load_survey_token(serializer.dumps(payload))
