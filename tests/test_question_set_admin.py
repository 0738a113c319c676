"""The admin pages for question sets: hr reads, admins change, everything audited, CSRF needed."""

from __future__ import annotations

from sqlalchemy import select

from helpers import csrf_token, session_csrf, sign_in
from survey.extensions import db
from survey.models import AuditEvent, QuestionSet, QuestionSetVersion
from survey.services.question_sets import version_for_stage


def default_set():
    return db.session.scalar(select(QuestionSet).where(QuestionSet.is_default.is_(True)))


def draft_form(client, set_id):
    """The editor's fields as a browser would post them back."""
    import re

    page = client.get(f"/admin/question-sets/{set_id}/draft").get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', page))
    fields.update(dict(re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', page)))
    for name, body in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', page):
        fields[name] = body
    for name, value in re.findall(
        r'<select id="[^"]+" name="([^"]+)"[^>]*>(?:(?!</select>).)*?<option value="([^"]*)" selected',
        page,
        re.S,
    ):
        fields[name] = value
    fields["csrf_token"] = csrf_token(page)
    return fields


def test_hr_reads_the_pages_but_cannot_change_anything(client, staff):
    sign_in(client, staff["hr"].email)
    listing = client.get("/admin/question-sets")
    assert listing.status_code == 200
    assert "Default" in listing.get_data(as_text=True)
    assert "Copy into draft" not in listing.get_data(as_text=True)
    one = client.get(f"/admin/question-sets/{default_set().id}")
    assert "I was treated fairly and with respect." in one.get_data(as_text=True)
    token = session_csrf(client)
    assert (
        client.post(f"/admin/question-sets/{default_set().id}/copy", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        client.post(
            f"/admin/question-sets/{default_set().id}/stages",
            data={"csrf_token": token, "stages": "default, Onsite"},
        ).status_code
        == 404
    )
    assert db.session.scalar(select(QuestionSetVersion).where(QuestionSetVersion.status == "draft")) is None


def test_recruiters_and_strangers_see_nothing(client, staff):
    assert client.get("/admin/question-sets").status_code in (302, 401)
    sign_in(client, staff["owner"].email)
    assert client.get("/admin/question-sets").status_code == 404


def test_admin_copies_edits_previews_and_publishes_a_new_set_for_a_stage(client, staff):
    sign_in(client, staff["admin"].email)
    token = session_csrf(client)
    copied = client.post(
        f"/admin/question-sets/{default_set().id}/copy", data={"csrf_token": token, "name": "Onsite set"}
    )
    assert copied.status_code == 302
    onsite = db.session.scalar(select(QuestionSet).where(QuestionSet.name == "Onsite set"))

    # Reword the first item, drop the second, add a scale item, move it up.
    fields = draft_form(client, onsite.id)
    fields["q-0-text-en"] = "Would you tell a friend to apply to {company}?"
    fields["action"] = "remove-1"
    assert client.post(f"/admin/question-sets/{onsite.id}/draft", data=fields).status_code == 302
    fields = draft_form(client, onsite.id)
    fields["action"] = "add-scale"
    client.post(f"/admin/question-sets/{onsite.id}/draft", data=fields)
    fields = draft_form(client, onsite.id)
    last = int(fields["count"]) - 1
    assert fields[f"q-{last}-key"] == "new_scale_1"
    fields[f"q-{last}-key"] = "onsite_room"
    for language, text, labels in (
        ("en", "The room was <quiet> enough.", "Not at all | Completely"),
        ("de", "Der Raum war ruhig genug.", "Überhaupt nicht | Völlig"),
        ("fr", "La salle était assez calme.", "Pas du tout | Tout à fait"),
        ("es", "La sala era lo bastante tranquila.", "Nada | Totalmente"),
    ):
        fields[f"q-{last}-text-{language}"] = text
        fields[f"q-{last}-labels-{language}"] = labels
    fields["action"] = f"up-{last}"
    client.post(f"/admin/question-sets/{onsite.id}/draft", data=fields)

    draft = db.session.scalar(
        select(QuestionSetVersion).where(QuestionSetVersion.question_set_id == onsite.id)
    )
    keys = [item["key"] for item in draft.document["questions"]]
    assert "on_time" not in keys and keys.index("onsite_room") == len(keys) - 2
    assert draft.document["questions"][0]["text"]["en"] == "Would you tell a friend to apply to {company}?"

    preview = client.get(f"/admin/question-sets/{onsite.id}/versions/{draft.number}/preview?language=de")
    assert "Der Raum war ruhig genug." in preview.get_data(as_text=True)
    english = client.get(f"/admin/question-sets/{onsite.id}/versions/{draft.number}/preview?language=en")
    assert "The room was &lt;quiet&gt; enough." in english.get_data(as_text=True)

    fields = draft_form(client, onsite.id)
    fields["action"] = "publish"
    published = client.post(f"/admin/question-sets/{onsite.id}/draft", data=fields)
    assert published.status_code == 302
    db.session.expire_all()
    assert db.session.get(QuestionSetVersion, draft.id).status == "published"

    stages = client.post(
        f"/admin/question-sets/{onsite.id}/stages", data={"csrf_token": token, "stages": "Onsite"}
    )
    assert stages.status_code == 302
    assert version_for_stage("onsite").question_set.name == "Onsite set"
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {
        "question_sets.draft",
        "question_sets.edit",
        "question_sets.publish",
        "question_sets.stages",
    } <= actions


def test_an_incomplete_draft_is_not_published_and_says_why(client, staff):
    sign_in(client, staff["admin"].email)
    token = session_csrf(client)
    client.post(f"/admin/question-sets/{default_set().id}/copy", data={"csrf_token": token})
    fields = draft_form(client, default_set().id)
    fields["action"] = "add-choice"
    client.post(f"/admin/question-sets/{default_set().id}/draft", data=fields)
    fields = draft_form(client, default_set().id)
    fields["action"] = "publish"
    refused = client.post(f"/admin/question-sets/{default_set().id}/draft", data=fields)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "questions[13].text.en</code>: missing" in text and "questions[13].options</code>" in text
    versions = db.session.scalars(
        select(QuestionSetVersion.status).where(QuestionSetVersion.question_set_id == default_set().id)
    )
    assert sorted(versions) == ["draft", "published"]


def test_changes_need_the_csrf_token(client, staff):
    sign_in(client, staff["admin"].email)
    assert client.post(f"/admin/question-sets/{default_set().id}/copy", data={}).status_code == 400
    assert db.session.scalar(select(QuestionSetVersion).where(QuestionSetVersion.status == "draft")) is None


def test_a_published_version_cannot_be_edited_through_the_service(app):
    import pytest

    from survey.services.question_sets import QuestionSetError, save_draft

    published = db.session.get(QuestionSetVersion, 1)
    with pytest.raises(QuestionSetError):
        save_draft(published, {"languages": ["en"], "questions": []})
    db.session.expire_all()
    assert len(db.session.get(QuestionSetVersion, 1).document["questions"]) == 13
