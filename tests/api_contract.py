"""Validate real API responses against the app's own OpenAPI document (JSON Schema 2020-12)."""

from __future__ import annotations

from functools import cache

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from survey.api.openapi import openapi_document

DOCUMENT_URI = "urn:debrief:openapi"


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT_URI, resource)


def operation(method: str, path: str) -> dict:
    """The document's operation for a method and path template."""
    return openapi_document()["paths"][path][method.lower()]


def assert_matches(response, method: str, path: str) -> dict:
    """Fail unless the response's status is documented for the operation and its body fits the schema."""
    responses = operation(method, path)["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method} {path} answered {status}, not in the document"
    content = responses[status].get("content", {})
    if "application/json" in content:
        assert response.is_json, f"{method} {path} {status} is not JSON"
        schema = content["application/json"]["schema"]
        if "$ref" in schema:
            schema = {"$ref": DOCUMENT_URI + schema["$ref"]}
        validator = Draft202012Validator(schema, registry=_registry(), format_checker=FormatChecker())
        errors = sorted(validator.iter_errors(response.get_json()), key=str)
        assert not errors, f"{method} {path} {status}: " + "; ".join(e.message for e in errors[:5])
    for header in responses[status].get("headers", {}):
        assert header in response.headers, f"{method} {path} {status} lacks the {header} header"
    return response.get_json() if response.is_json else {}
