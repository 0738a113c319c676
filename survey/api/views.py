"""`/api/v1`: interviews in, survey status and outcomes out. Bearer API key on every call
except the OpenAPI document and its rendered docs, which are public."""

from __future__ import annotations

from functools import wraps

from flask import g, jsonify, render_template, request, url_for
from markupsafe import Markup, escape

from ..extensions import csrf, db
from ..models import ApiKey, Interview
from ..services.accounts import authenticate_api_key
from ..services.api_interviews import (
    Conflict,
    Forbidden,
    apply_changes,
    list_interviews,
    parse_list_query,
    require_visible,
    validate_changes,
    visible_to,
    with_details,
)
from ..services.intake import create_interview, find_duplicate, intake_warnings, validate_api_interview
from ..services.webhooks import iso
from . import bp
from .openapi import docs_schemas, docs_sections, docs_webhooks, openapi_document

csrf.exempt(bp)


@bp.app_template_filter("code_spans")
def code_spans(text: str) -> Markup:
    """Escape text and show its `backticked` parts as code (the CommonMark of OpenAPI descriptions)."""
    parts = str(escape(text)).split("`")
    return Markup("".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)))


def require_api_key(*scopes: str):
    """Answer 401 without a live API key as a bearer token, 403 if the key lacks a scope."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, key = header.partition(" ")
            api_key = authenticate_api_key(key.strip()) if scheme.lower() == "bearer" else None
            if api_key is None:
                response = jsonify(error="A valid API key is required: Authorization: Bearer <key>.")
                response.headers["WWW-Authenticate"] = 'Bearer realm="debrief"'
                return response, 401
            missing = [scope for scope in scopes if not api_key.has_scope(scope)]
            if missing:
                return jsonify(error=f"This API key lacks the {missing[0]} scope needed here."), 403
            g.api_key = api_key
            return view(*args, **kwargs)

        return wrapped

    return decorator


def interview_json(interview: Interview, api_key: ApiKey) -> dict:
    """The API's view of an interview and its survey; names and emails only with interviews:read."""
    invitation = interview.invitation
    candidate = {"external_id": interview.candidate.external_id}
    if api_key.has_scope("interviews:read"):
        candidate = {"name": interview.candidate.name, "email": interview.candidate.email, **candidate}
    return {
        "id": interview.id,
        "external_id": interview.external_id,
        "candidate": candidate,
        "position": {
            "title": interview.position.title,
            "department": interview.position.department,
            "location": interview.position.location,
        },
        "stage": interview.stage,
        "hiring_manager": interview.hiring_manager,
        "interviewers": interview.interviewers or [],
        "recruiter_email": interview.recruiter.email,
        "starts_at": iso(interview.starts_at),
        "ends_at": iso(interview.ends_at),
        "outcome": interview.outcome,
        "language": interview.language,
        "timezone": interview.timezone,
        "updated_at": iso(interview.updated_at),
        "survey": {
            "status": invitation.status if invitation else None,
            "send_after": iso(invitation.send_after) if invitation else None,
            "sent_at": iso(invitation.sent_at) if invitation else None,
            "completed_at": iso(invitation.completed_at) if invitation else None,
            "expires_at": iso(invitation.expires_at) if invitation else None,
        },
    }


def errors_response(errors: dict[str, str], status: int = 400):
    """Validation errors by field, as the whole API reports them."""
    return jsonify(errors=errors), status


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document: the contract of this API."""
    return jsonify(openapi_document())


@bp.get("/docs")
def docs():
    """The API's documentation, rendered here from the OpenAPI document (no scripts, no CDN)."""
    document = openapi_document()
    return render_template(
        "api/docs.html",
        document=document,
        sections=docs_sections(document),
        schemas=docs_schemas(document),
        webhooks=docs_webhooks(document),
    )


@bp.post("/interviews")
@require_api_key("interviews:write")
def create_interview_endpoint():
    """Create an interview and schedule its survey; idempotent on external_id."""
    payload = request.get_json(silent=True)
    if payload is None:
        return errors_response({"_body": "Send a JSON object with Content-Type: application/json."})
    data, errors = validate_api_interview(payload)
    if errors:
        return errors_response(errors)
    data.api_key_id = g.api_key.id
    existing = find_duplicate(data)
    if existing is not None and not visible_to(existing, g.api_key):
        return jsonify(error="Another API key already created an interview with this external_id."), 409
    interview, created = create_interview(data)
    body = interview_json(interview, g.api_key)
    warnings = intake_warnings(data)
    if warnings:
        body["warnings"] = warnings
    response = jsonify(body)
    response.headers["Location"] = url_for("api.get_interview", interview_id=interview.id)
    return response, 201 if created else 200


@bp.get("/interviews")
@require_api_key("interviews:read")
def list_interviews_endpoint():
    """The interviews this key may read, in order of their last change, a page at a time."""
    query, errors = parse_list_query(request.args)
    if errors:
        return errors_response(errors)
    page, next_cursor = list_interviews(g.api_key, query)
    return jsonify(data=[interview_json(i, g.api_key) for i in page], next_cursor=next_cursor)


def _interview_or_error(interview_id: int):
    interview = db.session.scalar(with_details(db.select(Interview).where(Interview.id == interview_id)))
    if interview is None:
        return None, (jsonify(error="No interview with this id."), 404)
    try:
        require_visible(interview, g.api_key)
    except Forbidden as exc:
        return None, (jsonify(error=str(exc)), 403)
    return interview, None


@bp.get("/interviews/<int:interview_id>")
@require_api_key("interviews:read")
def get_interview(interview_id: int):
    """One interview with its survey status."""
    interview, error = _interview_or_error(interview_id)
    return error or jsonify(interview_json(interview, g.api_key))


@bp.patch("/interviews/<int:interview_id>")
@require_api_key("interviews:write")
def patch_interview(interview_id: int):
    """Set the outcome, move the times before the survey goes out, or cancel the survey."""
    payload = request.get_json(silent=True)
    if payload is None:
        return errors_response({"_body": "Send a JSON object with Content-Type: application/json."})
    interview, error = _interview_or_error(interview_id)
    if error:
        return error
    changes, errors = validate_changes(payload)
    if errors:
        return errors_response(errors)
    try:
        apply_changes(interview, changes, g.api_key)
    except Conflict as exc:
        db.session.rollback()
        return errors_response(exc.errors, exc.status)
    return jsonify(interview_json(interview, g.api_key))
