"""Fuzzing the public surfaces: never a 5xx, never a stored row that breaks the rules.

The normal suite runs the "suite" profile (over 2,000 examples in all); `make fuzz` runs the
"fuzz" profile with many more. Each test reuses one app and database across its examples.
"""

from __future__ import annotations

import csv
import io
import os
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, func, select, update

from helpers import csrf_token, interview_payload
from survey.extensions import db
from survey.models import CONSENT_CHOICES, Interview, Invitation, Response
from survey.questions import TEXT_MAX_CHARS
from survey.services.imports import CSV_COLUMNS, REQUIRED_COLUMNS, ImportFileError, import_interviews
from survey.services.question_sets import shipped_default
from survey.tokens import load_survey_token, make_survey_token

# The default set (version id 1), which every interview here gets.
CURRENT = shipped_default()

settings.register_profile(
    "suite",
    max_examples=500,
    deadline=None,
    # One app per test function on purpose: a fresh database per example would be far too slow.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("fuzz", settings.get_profile("suite"), max_examples=10_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


def share(fraction: float) -> settings:
    """This test's share of the profile's examples (cheap surfaces get more)."""
    return settings(max_examples=int(settings.default.max_examples * fraction))


# Any text a browser or client could send (lone surrogates cannot be encoded at all).
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
any_json = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)


def assert_fits_columns(*rows) -> None:
    """Every string of these rows fits its column (SQLite would not complain; PostgreSQL would)."""
    for row in rows:
        for column in row.__table__.columns:
            value = getattr(row, column.key)
            if isinstance(column.type, String) and column.type.length and value is not None:
                assert len(value) <= column.type.length, (column, value)


def assert_interviews_fit_columns(interview_ids) -> None:
    """The interviews, with their candidates and positions, fit their columns."""
    for interview in db.session.scalars(select(Interview).where(Interview.id.in_(interview_ids))):
        assert_fits_columns(interview, interview.candidate, interview.position)


def assert_follows_question_set(response: Response) -> None:
    """A stored response holds only what the question set allows."""
    assert response.question_set_version == CURRENT.version
    assert response.consent in CONSENT_CHOICES
    if response.consent == "anonymous":
        assert response.invitation_id is None and response.submitted_at is None
    keys = {q.key for q in CURRENT.questions}
    assert set(response.answers) <= keys, response.answers
    for key, value in response.answers.items():
        question = CURRENT.get(key)
        if question.numeric:
            assert type(value) is int and value in question.values, (key, value)
        else:
            assert isinstance(value, str) and 0 < len(value) <= TEXT_MAX_CHARS and "\x00" not in value


# --- survey links -----------------------------------------------------------------------------

url_safe = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))


@share(1)
@given(token=any_text | url_safe, method=st.sampled_from(["GET", "POST"]), opt_out=st.booleans())
def test_random_tokens_never_fail_the_server(client, app, token, method, opt_out):
    path = f"/s/{quote(token, safe='')}" + ("/opt-out" if opt_out else "")
    response = client.open(path, method=method, data={"consent": "named"})
    # 308: an empty token leaves "//", which the router merges; never 200, never 5xx.
    assert response.status_code in (308, 400, 404, 405), response.status_code


@share(1)
@given(
    position=st.integers(0, 10_000),
    edit=st.sampled_from(["replace", "delete", "insert", "truncate", "swap"]),
    char=st.sampled_from("ABCabc019-_.~"),
)
def test_tampered_tokens_are_refused(client, make_interview, position, edit, char):
    # One invitation for every example: opening a link never spends it.
    invitation = db.session.scalar(select(Invitation)) or make_interview().invitation
    token = make_survey_token(invitation.id, invitation.version)
    position %= len(token)
    tampered = {
        "replace": token[:position] + char + token[position + 1 :],
        "delete": token[:position] + token[position + 1 :],
        "insert": token[:position] + char + token[position:],
        "truncate": token[:position],
        "swap": ".".join(reversed(token.split(".", 1))),
    }[edit]
    response = client.get(f"/s/{quote(tampered, safe='')}")
    assert response.status_code in (200, 400, 404)
    if response.status_code == 200:
        # Base64 has spare bits in its last character: only an equivalent token may open.
        assert load_survey_token(tampered) == load_survey_token(token)


# --- the survey form --------------------------------------------------------------------------

QUESTION_KEYS = [q.key for q in CURRENT.questions]
field_names = st.sampled_from([*QUESTION_KEYS, "consent", "csrf_token"]) | any_text
field_values = (
    any_text
    | st.integers(-5, 15).map(str)
    | st.sampled_from([*CONSENT_CHOICES, "", " ", "1.5", "True", "x" * (TEXT_MAX_CHARS + 1)])
)
# Mostly answers a candidate could give, sometimes anything at all.
answer_pairs = st.sampled_from(CURRENT.questions).flatmap(
    lambda q: st.tuples(
        st.just(q.key),
        st.one_of(*[st.sampled_from(q.values).map(str) if q.numeric else any_text] * 4, field_values),
    )
)


@share(0.8)
@given(
    fields=st.lists(st.tuples(field_names, field_values), max_size=3),
    answers=st.lists(answer_pairs, max_size=14),
    consent=st.sampled_from([*CONSENT_CHOICES, *CONSENT_CHOICES, None, "both"]),
    with_csrf=st.sampled_from([True, True, True, False]),
)
def test_random_survey_forms_never_store_a_bad_response(
    app, client, make_interview, fields, answers, consent, with_csrf
):
    invitation = reopened_invitation(make_interview)
    path = f"/s/{make_survey_token(invitation.id, invitation.version)}"
    pairs = answers + fields
    if consent is not None:
        pairs.append(("consent", consent))
    if with_csrf:
        pairs.append(("csrf_token", session_csrf_token(app, client, path)))
    body = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 303, 400), response.status_code
    event(f"survey form answered {response.status_code}")
    checked = app.extensions.setdefault("fuzz_checked_responses", set())
    for saved in db.session.scalars(select(Response).where(Response.id.not_in(checked))):
        assert_follows_question_set(saved)
        checked.add(saved.id)
    completed = db.session.get(Invitation, invitation.id).status == "completed"
    assert completed == (response.status_code == 303 and "/thanks" in response.headers["Location"])


def reopened_invitation(make_interview) -> Invitation:
    """One invitation for every example, opened again after each answer (cheaper than a new one)."""
    invitation = db.session.scalar(select(Invitation)) or make_interview().invitation
    # Its earlier named answer keeps its place but lets go of the invitation, so a new one can link.
    db.session.execute(
        update(Response).where(Response.invitation_id == invitation.id).values(invitation_id=None)
    )
    invitation.status, invitation.completed_at = "sent", None
    db.session.commit()
    return invitation


def session_csrf_token(app, client, path: str) -> str:
    """The CSRF token of the test client's session, read from the first form it was shown."""
    if "fuzz_csrf" not in app.extensions:
        app.extensions["fuzz_csrf"] = csrf_token(client.get(path).get_data(as_text=True))
    return app.extensions["fuzz_csrf"]


# --- the JSON API -----------------------------------------------------------------------------

VALID = interview_payload()


@st.composite
def mutated_payload(draw):
    """A valid payload with a few fields (nested ones too) replaced by random JSON or dropped."""
    payload = {**VALID, "candidate": dict(VALID["candidate"]), "position": dict(VALID["position"])}
    paths = [(key,) for key in VALID] + [("candidate", k) for k in ("name", "email", "external_id")]
    paths += [("position", k) for k in ("title", "department", "location")]
    for path in draw(st.lists(st.sampled_from(paths), max_size=3, unique=True)):
        parent = payload if len(path) == 1 else payload.get(path[0])
        if not isinstance(parent, dict):
            continue
        value = draw(any_json | st.just(...))
        if value is ...:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return payload


@share(0.6)
@given(payload=any_json | mutated_payload(), external_id=st.uuids().map(str))
def test_random_json_to_the_api_is_answered_without_5xx(client, api_key, recruiter, payload, external_id):
    if isinstance(payload, dict) and payload.get("external_id") == VALID["external_id"]:
        payload["external_id"] = external_id  # fresh ids, so valid payloads really create
    response = client.post("/api/v1/interviews", json=payload, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code in (200, 201, 400), (response.status_code, payload)
    event(f"API answered {response.status_code}")
    body = response.get_json()
    assert ("errors" in body) if response.status_code == 400 else ("id" in body)
    if response.status_code != 400:
        assert_interviews_fit_columns([body["id"]])


@share(0.2)
@given(body=st.binary(max_size=300))
def test_random_bytes_to_the_api_are_answered_without_5xx(client, api_key, body):
    response = client.post(
        "/api/v1/interviews",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code in (200, 201, 400)


# --- the CSV import ---------------------------------------------------------------------------

# A plausible value per column, so that some random rows are valid and get created.
PLAUSIBLE_CELL = {
    "candidate_name": "Ann Example",
    "candidate_email": "ann@example.org",
    "candidate_external_id": "cand-1",
    "position_title": "Data Engineer",
    "department": "Engineering",
    "location": "Berlin",
    "stage": "Onsite",
    "hiring_manager": "Harriet Manager",
    "interviewers": "Ivo; Ines",
    "recruiter_email": "rita.recruiter@example.com",
    "starts_at": "2026-11-20T09:00:00Z",
    "ends_at": "2026-11-20T10:00:00Z",
    "external_id": "ats-1",
}
edge_cells = any_text | st.sampled_from(["", " ", "a@b.org", "=1+1", "2026-13-40T99:00:00Z", "x" * 300])


@st.composite
def csv_header(draw) -> list[str]:
    """Every required column, some optional ones and perhaps an unknown one, in any order."""
    optional = [name for name in CSV_COLUMNS if name not in REQUIRED_COLUMNS]
    extras = draw(st.lists(st.sampled_from([*optional, "extra"]), unique=True))
    return draw(st.permutations([*REQUIRED_COLUMNS, *extras]))


@st.composite
def csv_file(draw) -> tuple[list[str], list[list[str]]]:
    """A header the importer accepts, and rows of plausible cells with a few replaced by anything."""
    header = draw(csv_header())

    @st.composite
    def row(draw) -> list[str]:
        cells = [PLAUSIBLE_CELL.get(name, "") for name in header]
        for index in draw(st.lists(st.integers(0, len(header) - 1), max_size=3)):
            cells[index] = draw(edge_cells)
        return cells

    # Rows that are too short or too long, as spreadsheets export them.
    def cut_or_padded(cells: list[str]):
        return st.integers(0, len(cells) + 2).map(lambda n: (cells + ["x"] * 2)[:n])

    ragged = row().flatmap(cut_or_padded)
    rows = draw(st.lists(row() | ragged, min_size=1, max_size=6))
    for number, cells in enumerate(rows):
        # Distinct external ids, so valid rows create interviews rather than match earlier ones.
        if "external_id" in header and len(cells) > header.index("external_id"):
            cells[header.index("external_id")] += f"-{draw(st.uuids())}-{number}"
    return header, rows


@share(0.6)
@given(csv_file())
def test_random_csv_rows_are_imported_or_reported(app, recruiter, file):
    header, rows = file
    handle = io.StringIO()
    writer = csv.writer(handle)
    writer.writerow(header)
    writer.writerows(rows)
    handle.seek(0)
    report = import_interviews(handle)
    event("a row was accepted" if report.created + report.existing else "every row was refused")
    assert report.created + report.existing + len(report.errors) >= len([r for r in rows if any(r)])
    assert all(isinstance(line, int) and reason for line, reason in report.errors)
    db.session.expire_all()
    assert_interviews_fit_columns(select(Interview.id).order_by(Interview.id.desc()).limit(6))


@given(columns=st.lists(st.sampled_from([*CSV_COLUMNS, "extra"]) | any_text, max_size=15))
def test_a_csv_without_a_required_column_is_refused_whole(app, recruiter, columns):
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    assume(missing)
    handle = io.StringIO()
    csv.writer(handle).writerow(columns)
    handle.write(",".join(PLAUSIBLE_CELL[name] for name in REQUIRED_COLUMNS) + "\n")
    handle.seek(0)
    with pytest.raises(ImportFileError, match="missing column"):
        import_interviews(handle)
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 0


@share(0.2)
@given(content=st.binary(max_size=400))
def test_random_files_to_the_import_command_never_crash_it(runner, recruiter, tmp_path, content):
    path = tmp_path / "interviews.csv"
    path.write_bytes(
        b"candidate_name,candidate_email,position_title,stage,recruiter_email,ends_at\n" + content
    )
    result = runner.invoke(args=["interviews", "import", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
