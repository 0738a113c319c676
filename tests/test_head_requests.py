"""HEAD answers every route as GET does, and changes nothing (mail scanners and link previews send it)."""

import pytest

from helpers import opt_out_link, sign_in, survey_link
from survey.extensions import db


def test_head_on_an_open_survey_link_is_200_and_does_not_open_it(client, sent_invitation):
    invitation, message = sent_invitation
    path = survey_link(message)
    head = client.head(path)
    assert head.status_code == 200
    assert head.get_data() == b""
    db.session.refresh(invitation)
    assert (invitation.status, invitation.opened_at) == ("sent", None)
    assert client.get(path).status_code == 200
    db.session.refresh(invitation)
    assert invitation.status == "opened"


def test_head_on_the_opt_out_link_asks_nothing_and_opts_nobody_out(client, sent_invitation):
    invitation, message = sent_invitation
    path = opt_out_link(message)
    assert client.head(path).status_code == 200
    db.session.refresh(invitation)
    assert invitation.interview.candidate.opted_out_at is None


def _static_get_paths(app) -> list[str]:
    """Every GET route that takes no argument."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )


@pytest.mark.parametrize("role", [None, "owner", "hr", "admin"])
def test_every_route_answers_head_as_it_answers_get(app, client, staff, make_interview, role):
    interview = make_interview()
    if role:
        sign_in(client, staff[role].email)
    paths = [*_static_get_paths(app), f"/interviews/{interview.id}", f"/interviews/{interview.id}/debrief"]
    for path in paths:
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == got.status_code, path
        assert head.status_code < 500, path
        assert head.headers.get("Content-Type") == got.headers.get("Content-Type"), path
