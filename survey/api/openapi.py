"""The OpenAPI 3.1 document of `/api/v1`: the contract, and the source of the rendered docs.

The API's tests validate real responses against these schemas and Schemathesis fuzzes the app
with them, so a change to the API that is not made here too fails the suite.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..models import OUTCOMES, WEBHOOK_EVENTS, InvitationStatus

DATE_TIME = {"type": "string", "format": "date-time", "examples": ["2026-11-20T10:00:00Z"]}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
SURVEY_STATUSES = [status.value for status in InvitationStatus]


# One line of printable text (names, titles and ids end up in email headers and spreadsheets).
SINGLE_LINE = "^[^\\u0000-\\u001f\\u007f]*$"


def _text(max_length: int, description: str = "", nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": ["string", "null"] if nullable else "string",
        "maxLength": max_length,
        "pattern": SINGLE_LINE,
    }
    if not nullable:
        schema["minLength"] = 1
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(
    schema: dict[str, Any], description: str, headers: dict | None = None, links: dict | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    if links:
        response["links"] = links
    return response


# A complete request, shown in the docs and sent first by Schemathesis (the recruiter is a demo user).
EXAMPLE_INTERVIEW = {
    "candidate": {"name": "Cara Candidate", "email": "cara@example.org", "external_id": "cand-981"},
    "position": {"title": "Backend Engineer", "department": "Engineering", "location": "Berlin"},
    "stage": "Technical",
    "hiring_manager": "Hugo Manager",
    "interviewers": ["Ines Interviewer"],
    "recruiter_email": "alex.morgan@example.com",
    "starts_at": "2026-11-20T09:00:00Z",
    "ends_at": "2026-11-20T10:00:00Z",
    "external_id": "gh-interview-4711",
    "language": "de",
    "timezone": "Europe/Berlin",
}
# After a create, the id leads to reading and changing the same interview (OpenAPI links).
INTERVIEW_LINKS = {
    "GetInterview": {"operationId": "getInterview", "parameters": {"interview_id": "$response.body#/id"}},
    "ChangeInterview": {
        "operationId": "changeInterview",
        "parameters": {"interview_id": "$response.body#/id"},
    },
}

SCHEMAS: dict[str, Any] = {
    "NewInterview": {
        "type": "object",
        "description": "An interview from the ATS. Times without an offset are taken as UTC.",
        "required": ["candidate", "position", "stage", "recruiter_email", "ends_at"],
        "properties": {
            "candidate": {
                "type": "object",
                "required": ["name", "email"],
                "properties": {
                    "name": _text(200),
                    "email": {"type": "string", "format": "email", "maxLength": 254},
                    "external_id": _text(100, "The candidate's id in the ATS.", nullable=True),
                },
            },
            "position": {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "title": _text(200),
                    "department": _text(120, nullable=True),
                    "location": _text(120, nullable=True),
                },
            },
            "stage": _text(100, "Free text, e.g. Phone screen, Technical, Onsite."),
            "hiring_manager": _text(200, nullable=True),
            "interviewers": {
                "type": ["array", "null"],
                "maxItems": 20,
                "items": {"type": "string", "maxLength": 200, "pattern": SINGLE_LINE},
                "description": "Names; blank ones are left out.",
            },
            "recruiter_email": {
                "type": "string",
                "maxLength": 254,
                "description": "An active staff user's email: the interview's owner.",
            },
            "starts_at": {**NULLABLE_DATE_TIME, "maxLength": 40},
            "ends_at": {
                **DATE_TIME,
                "maxLength": 40,
                "description": "The survey goes out a set delay after.",
            },
            "external_id": _text(100, "The interview's id in the ATS; sending it again is idempotent.", True),
            "language": _text(
                20,
                "The candidate's language (e.g. de, fr-CA); the survey and its emails use it when the "
                "stage's question set speaks it. Default: the DEFAULT_LANGUAGE setting.",
                nullable=True,
            ),
            "timezone": _text(
                64,
                "The candidate's IANA time zone (e.g. Europe/Berlin) for every time they read. "
                "Default: the DEFAULT_TIMEZONE setting.",
                nullable=True,
            ),
        },
    },
    "InterviewChanges": {
        "type": "object",
        "description": (
            "Any of: the outcome (any time); new times (only while the survey has not gone out: "
            "it is rescheduled from the new end); cancel the survey (stops its email; not once answered)."
        ),
        "minProperties": 1,
        "additionalProperties": False,
        "not": {"anyOf": [{"required": ["cancel", "starts_at"]}, {"required": ["cancel", "ends_at"]}]},
        "properties": {
            "outcome": {"type": "string", "enum": list(OUTCOMES)},
            "starts_at": DATE_TIME,
            "ends_at": DATE_TIME,
            "cancel": {"const": True},
        },
    },
    "Survey": {
        "type": "object",
        "required": ["status", "send_after", "sent_at", "completed_at", "expires_at"],
        "properties": {
            "status": {"type": ["string", "null"], "enum": [*SURVEY_STATUSES, None]},
            "send_after": NULLABLE_DATE_TIME,
            "sent_at": NULLABLE_DATE_TIME,
            "completed_at": NULLABLE_DATE_TIME,
            "expires_at": NULLABLE_DATE_TIME,
        },
    },
    "Interview": {
        "type": "object",
        "required": [
            "id",
            "external_id",
            "candidate",
            "position",
            "stage",
            "hiring_manager",
            "interviewers",
            "recruiter_email",
            "starts_at",
            "ends_at",
            "outcome",
            "language",
            "timezone",
            "updated_at",
            "survey",
        ],
        "properties": {
            "id": {"type": "integer"},
            "external_id": {"type": ["string", "null"]},
            "candidate": {
                "type": "object",
                "description": "name and email only for a key with the interviews:read scope.",
                "required": ["external_id"],
                "properties": {
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                    "external_id": {"type": ["string", "null"]},
                },
            },
            "position": {
                "type": "object",
                "required": ["title", "department", "location"],
                "properties": {
                    "title": {"type": "string"},
                    "department": {"type": "string"},
                    "location": {"type": "string"},
                },
            },
            "stage": {"type": "string"},
            "hiring_manager": {"type": "string"},
            "interviewers": {"type": "array", "items": {"type": "string"}},
            "recruiter_email": {"type": "string"},
            "starts_at": NULLABLE_DATE_TIME,
            "ends_at": DATE_TIME,
            "outcome": {"type": "string", "enum": list(OUTCOMES)},
            "language": {"type": "string", "description": "The candidate's language code."},
            "timezone": {"type": "string", "description": "The candidate's IANA time zone."},
            "updated_at": {**DATE_TIME, "description": "The last change to the interview itself."},
            "survey": _ref("Survey"),
            "warnings": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": (
                    "Only in a create's answer, by field, when something was accepted but will not work "
                    "as sent: e.g. language, when the stage's question set does not speak it (the "
                    "candidate then reads the set's first language)."
                ),
            },
        },
    },
    "InterviewPage": {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {
            "data": {"type": "array", "items": _ref("Interview")},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
    },
    "ValidationErrors": {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "object",
                "description": "One message per bad field (nested fields dotted, _body for the body).",
                "additionalProperties": {"type": "string"},
            }
        },
    },
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
}

UNAUTHORIZED = _json(
    _ref("Error"),
    "No valid API key (missing, wrong or revoked).",
    {"WWW-Authenticate": {"schema": {"type": "string"}}},
)
FORBIDDEN = _json(_ref("Error"), "The key lacks a scope, or the interview was created by another key.")
NOT_FOUND = _json(_ref("Error"), "No interview with this id.")
INVALID = _json(_ref("ValidationErrors"), "Invalid input, one message per field.")
TOO_LARGE = _json(_ref("Error"), "The body is larger than 1 MiB.")
TOO_MANY = _json(
    _ref("Error"),
    "Too many requests; retry after Retry-After seconds.",
    {"Retry-After": {"schema": {"type": "string"}}},
)
URI_TOO_LONG = {
    "description": "The URL is too long: the HTTP server refuses it before the app sees it.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}
INTERVIEW_ID = {
    "name": "interview_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}
SECURED = [{"bearer": []}]


def _operation(summary: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "description": description, "responses": responses, **extra}


def _paths() -> dict[str, Any]:
    interview = _json(_ref("Interview"), "The interview.")
    return {
        "/api/v1/interviews": {
            "post": _operation(
                "Create an interview",
                "Creates the interview and schedules its survey. Sending the same external_id again "
                "returns the interview already stored (200). Needs interviews:write.",
                {
                    "201": _json(
                        _ref("Interview"),
                        "Created.",
                        {"Location": {"schema": {"type": "string"}}},
                        INTERVIEW_LINKS,
                    ),
                    "200": _json(
                        _ref("Interview"), "Already here under this external_id.", links=INTERVIEW_LINKS
                    ),
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "409": _json(_ref("Error"), "Another key created an interview with this external_id."),
                    "413": TOO_LARGE,
                    "414": URI_TOO_LONG,
                    "429": TOO_MANY,
                },
                operationId="createInterview",
                security=SECURED,
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("NewInterview"), "example": EXAMPLE_INTERVIEW}
                    },
                },
            ),
            "get": _operation(
                "Find or page through interviews",
                "The interviews this key may read (its own, or all with interviews:read-all), ordered "
                "by updated_at then id. Filter by external_id or updated_since; follow next_cursor for "
                "the next page. Needs interviews:read.",
                {
                    "200": _json(_ref("InterviewPage"), "One page."),
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "414": URI_TOO_LONG,
                    "429": TOO_MANY,
                },
                operationId="listInterviews",
                security=SECURED,
                parameters=[
                    {"name": "external_id", "in": "query", "schema": {"type": "string", "maxLength": 100}},
                    {
                        "name": "updated_since",
                        "in": "query",
                        "description": "Only interviews changed at or after this time.",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "description": "next_cursor from the previous page.",
                        "schema": {"type": "string", "maxLength": 200},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                ],
            ),
        },
        "/api/v1/interviews/{interview_id}": {
            "get": _operation(
                "Read an interview",
                "The interview with its survey status. Needs interviews:read; a key without "
                "interviews:read-all reads only the interviews it created.",
                {
                    "200": interview,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                    "414": URI_TOO_LONG,
                    "429": TOO_MANY,
                },
                operationId="getInterview",
                security=SECURED,
                parameters=[INTERVIEW_ID],
            ),
            "patch": _operation(
                "Change an interview",
                "Set the outcome (sends interview.outcome), move the times while the survey has not gone "
                "out, or cancel the survey. Needs interviews:write, on an interview the key may use.",
                {
                    "200": _json(_ref("Interview"), "The interview after the change."),
                    "400": INVALID,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "404": NOT_FOUND,
                    "409": _json(_ref("ValidationErrors"), "The survey's state forbids this change."),
                    "413": TOO_LARGE,
                    "414": URI_TOO_LONG,
                    "429": TOO_MANY,
                },
                operationId="changeInterview",
                security=SECURED,
                parameters=[INTERVIEW_ID],
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("InterviewChanges")}},
                },
            ),
        },
        "/api/v1/openapi.json": {
            "get": _operation(
                "This document",
                "The OpenAPI 3.1 description of the API (public).",
                {"200": _json({"type": "object"}, "The document.")},
                operationId="getOpenApi",
                security=[],
            )
        },
        "/api/v1/docs": {
            "get": _operation(
                "Documentation",
                "This document rendered as a page (public).",
                {"200": {"description": "HTML.", "content": {"text/html": {"schema": {"type": "string"}}}}},
                operationId="getDocs",
                security=[],
            )
        },
    }


WEBHOOKS_TEXT = (
    "Webhooks: register an endpoint with `flask --app wsgi webhooks create URL --events ...` or on "
    "/admin/webhooks. Each event is POSTed as JSON `{type, timestamp, data}` with the Standard Webhooks "
    "headers `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "
    "id.timestamp.body>` keyed with the `whsec_` secret); verify it with a Standard Webhooks library. "
    "Answer 2xx within 10 seconds; anything else is retried with exponential backoff. The same "
    "`webhook-id` may arrive more than once: treat it as already handled."
)
DESCRIPTION = "\n\n".join(
    (
        "Interviews in from the ATS; survey status, outcomes and events out.",
        "Authenticate with `Authorization: Bearer <api key>`. An admin makes keys with "
        "`flask --app wsgi api-keys create NAME --scopes interviews:write,interviews:read` "
        "or on /admin/api-keys.",
        "Scopes: `interviews:write` creates and changes interviews; `interviews:read` reads them back, with "
        "candidates' names and emails; `interviews:read-all` reaches every interview, "
        "not only the key's own.",
        'Errors are JSON: `{"error": message}`, or `{"errors": {field: message}}` '
        "for invalid input (400) and "
        "for a change the survey's state forbids (409). Times are RFC 3339, e.g. `2026-11-20T10:00:00Z`.",
        WEBHOOKS_TEXT,
    )
)


def _webhook(summary: str, data: dict[str, Any]) -> dict[str, Any]:
    event_type = summary.split()[0]
    body = {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {"type": {"const": event_type}, "timestamp": DATE_TIME, "data": data},
    }
    return {
        "post": {
            "summary": summary,
            "requestBody": {"content": {"application/json": {"schema": body}}},
            "responses": {"200": {"description": "Any 2xx: received."}},
        }
    }


def _interview_ref(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["interview_id", "external_id", *required],
        "properties": {
            "interview_id": {"type": "integer"},
            "external_id": {"type": ["string", "null"]},
            **extra,
        },
    }


def _webhooks() -> dict[str, Any]:
    answer = {
        "type": "object",
        "required": ["key", "question", "value"],
        "properties": {
            "key": {"type": "string"},
            "question": {"type": "string"},
            "value": {"type": ["integer", "string"]},
        },
    }
    return {
        "survey.completed": _webhook(
            "survey.completed: a candidate answered by name (anonymous answers send nothing).",
            _interview_ref(
                {
                    "completed_at": DATE_TIME,
                    "question_set_version": {"type": "integer"},
                    "answers": {"type": "array", "items": answer},
                },
                ["completed_at", "question_set_version", "answers"],
            ),
        ),
        "alert.raised": _webhook(
            "alert.raised: a detractor, an unfair experience or a debrief's red flag.",
            _interview_ref(
                {
                    "source": {"enum": ["survey", "debrief"]},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                },
                ["source", "reasons"],
            ),
        ),
        "debrief.recorded": _webhook(
            "debrief.recorded: the recruiter saved the debrief-call notes (structured fields only).",
            _interview_ref(
                {"recorded_at": DATE_TIME, "expected_outcome": {"type": ["string", "null"]}}, ["recorded_at"]
            ),
        ),
        "interview.outcome": _webhook(
            "interview.outcome: the outcome changed.",
            _interview_ref(
                {"outcome": {"enum": list(OUTCOMES)}, "previous_outcome": {"enum": list(OUTCOMES)}},
                ["outcome", "previous_outcome"],
            ),
        ),
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process; it never changes while running)."""
    assert set(_webhooks()) == set(WEBHOOK_EVENTS)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Debrief API",
            "version": "1.1.0",
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "security": SECURED,
        "paths": _paths(),
        "webhooks": _webhooks(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key made with `api-keys create` or on /admin/api-keys.",
                }
            },
        },
    }


def docs_sections(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's operations flattened for the docs page, schemas resolved to field lists."""
    sections = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            sections.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "operation": operation,
                    "anchor": operation["operationId"],
                    "body_fields": schema_fields(body.get("schema"), document),
                    "responses": [
                        (status, response["description"], _schema_name(response))
                        for status, response in operation["responses"].items()
                    ],
                }
            )
    return sections


def docs_schemas(document: dict[str, Any]) -> list[tuple[str, list[dict]]]:
    """Every named schema as field rows, for the docs page."""
    return [
        (name, schema_fields(schema, document)) for name, schema in document["components"]["schemas"].items()
    ]


def docs_webhooks(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every webhook event with the fields of its `data`, for the docs page."""
    hooks = []
    for name, item in document["webhooks"].items():
        body = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        fields = schema_fields(body["properties"]["data"], document)
        hooks.append((name, {"summary": item["post"]["summary"], "fields": fields}))
    return hooks


def _schema_name(response: dict[str, Any]) -> str | None:
    for content in response.get("content", {}).values():
        ref = content.get("schema", {}).get("$ref")
        if ref:
            return ref.rsplit("/", 1)[-1]
    return None


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """A schema with its $ref followed."""
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def schema_fields(schema: dict[str, Any] | None, document: dict[str, Any], prefix: str = "") -> list[dict]:
    """(name, type, required, description) rows of an object schema, nested objects dotted."""
    if not schema:
        return []
    schema = resolve(schema, document)
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(prop, document)
        kind = prop.get("type", "any")
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        if "enum" in prop:
            kind = "one of " + ", ".join(str(v) for v in prop["enum"] if v is not None)
        if "const" in prop:
            kind = f"exactly {str(prop['const']).lower()}"
        rows.append(
            {
                "name": prefix + name,
                "type": kind,
                "required": name in required,
                "description": prop.get("description", ""),
            }
        )
        if prop.get("type") == "object" and "properties" in prop:
            rows.extend(schema_fields(prop, document, f"{prefix}{name}."))
    return rows
