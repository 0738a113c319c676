"""Rotating SECRET_KEY: old links keep working while the old key is a fallback, then stop."""

from survey.tokens import load_opt_out_token, make_opt_out_token, make_survey_token


def test_old_link_opens_while_old_key_is_a_fallback_and_stops_when_removed(app, client, make_interview):
    invitation = make_interview().invitation
    old_key = app.config["SECRET_KEY"]
    path = f"/s/{make_survey_token(invitation.id, invitation.version)}"
    assert client.get(path).status_code == 200

    app.config.update(SECRET_KEY="a-brand-new-secret-key-after-rotation", SECRET_KEY_FALLBACKS=[old_key])
    assert client.get(path).status_code == 200
    # New links are signed with the new key, and differ from the old ones.
    new_path = f"/s/{make_survey_token(invitation.id, invitation.version)}"
    assert new_path != path

    app.config["SECRET_KEY_FALLBACKS"] = []
    gone = client.get(path)
    assert gone.status_code == 404
    assert "not valid" in gone.get_data(as_text=True)
    assert client.get(new_path).status_code == 200


def test_opt_out_links_follow_the_same_rotation(app, make_interview):
    invitation = make_interview().invitation
    old_key = app.config["SECRET_KEY"]
    token = make_opt_out_token(invitation.id, invitation.version)
    app.config.update(SECRET_KEY="another-new-secret-key-after-rotation", SECRET_KEY_FALLBACKS=[old_key])
    assert load_opt_out_token(token).invitation_id == invitation.id


def test_a_token_reveals_nothing_but_the_invitation_id_and_version(app, make_interview):
    import base64

    interview = make_interview()
    token = make_survey_token(interview.invitation.id, interview.invitation.version)
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert decoded == f"[{interview.invitation.id},{interview.invitation.version}]"
    assert interview.candidate.email not in decoded
