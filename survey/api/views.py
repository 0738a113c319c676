"""`/api/v1`: interviews in, survey status out. Bearer API key on every call."""

from __future__ import annotations

from functools import wraps

from flask import g, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from ..extensions import csrf, db
from ..models import Interview
from ..services.accounts import authenticate_api_key
from ..services.intake import create_interview, intake_warnings, validate_interview
from ..services.interviews import interview_details
from . import bp

csrf.exempt(bp)


def require_api_key(view):
    """Answer 401 unless the request carries a live API key as a bearer token."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        api_key = authenticate_api_key(key.strip()) if scheme.lower() == "bearer" else None
        if api_key is None:
            response = jsonify(error="A valid API key is required: Authorization: Bearer <key>.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="debrief"'
            return response, 401
        g.api_key = api_key
        return view(*args, **kwargs)

    return wrapped


def interview_json(interview: Interview) -> dict:
    """The API's view of an interview and its survey."""
    invitation = interview.invitation
    return {
        "id": interview.id,
        "external_id": interview.external_id,
        "candidate": {
            "name": interview.candidate.name,
            "email": interview.candidate.email,
            "external_id": interview.candidate.external_id,
        },
        "position": {
            "title": interview.position.title,
            "department": interview.position.department,
            "location": interview.position.location,
        },
        "stage": interview.stage,
        "hiring_manager": interview.hiring_manager,
        "interviewers": interview.interviewers or [],
        "recruiter_email": interview.recruiter.email,
        "starts_at": _iso(interview.starts_at),
        "ends_at": _iso(interview.ends_at),
        "outcome": interview.outcome,
        "language": interview.language,
        "timezone": interview.timezone,
        "survey": {
            "status": invitation.status if invitation else None,
            "send_after": _iso(invitation.send_after) if invitation else None,
            "sent_at": _iso(invitation.sent_at) if invitation else None,
            "completed_at": _iso(invitation.completed_at) if invitation else None,
            "expires_at": _iso(invitation.expires_at) if invitation else None,
        },
    }


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@bp.post("/interviews")
@require_api_key
def create_interview_endpoint():
    """Create an interview and schedule its survey; idempotent on external_id."""
    payload = request.get_json(silent=True)
    if payload is None:
        return jsonify(errors={"_body": "Send a JSON object with Content-Type: application/json."}), 400
    data, errors = validate_interview(payload)
    if errors:
        return jsonify(errors=errors), 400
    interview, created = create_interview(data)
    body = interview_json(interview)
    warnings = intake_warnings(data)
    if warnings:
        body["warnings"] = warnings
    response = jsonify(body)
    response.headers["Location"] = url_for("api.get_interview", interview_id=interview.id)
    return response, 201 if created else 200


@bp.get("/interviews/<int:interview_id>")
@require_api_key
def get_interview(interview_id: int):
    """One interview with its survey status."""
    interview = db.session.scalar(interview_details(interview_id))
    if interview is None:
        return jsonify(error="No interview with this id."), 404
    return jsonify(interview_json(interview))


@bp.errorhandler(HTTPException)
def api_http_error(exc: HTTPException):
    """Errors under /api as JSON, never HTML."""
    return jsonify(error=exc.description), exc.code
