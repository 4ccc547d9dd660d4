"""``/schema/openapi.json`` of a real app documents every operation: its 2xx body (a typed schema, or a declared
non-JSON media type), the event its streams carry, the error shape of every error answer, and how to log in."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from lexintel.api.errors import ErrorBody
from lexintel.auth.guard import SAFE_METHODS, SSE_ROUTES
from lexintel.events.model import ProgressEvent

Schema = dict[str, Any]
JSON = "application/json"


@pytest.fixture
def schema(client: TestClient) -> Schema:  # type: ignore[type-arg]
    resp = client.get("/schema/openapi.json")
    assert resp.status_code == 200, resp.text
    body: Schema = resp.json()
    return body


def operations(schema: Schema) -> list[tuple[str, str, Schema]]:
    return [(method.upper(), path, op) for path, item in schema["paths"].items() for method, op in item.items()]


def resolve(schema: Schema, node: Schema) -> Schema:
    ref = node.get("$ref")
    if ref is None:
        return node
    name = ref.removeprefix("#/components/schemas/")
    assert name in schema["components"]["schemas"], f"dangling $ref {ref}"
    resolved: Schema = schema["components"]["schemas"][name]
    return resolved


def is_typed(schema: Schema, node: Schema) -> bool:
    """A schema that says what is inside: not a bare ``object`` (no properties) nor ``{}``."""
    node = resolve(schema, node)
    if "oneOf" in node or "anyOf" in node:
        return all(is_typed(schema, n) for n in node.get("oneOf", node.get("anyOf", [])))
    kind = node.get("type")
    if kind == "array":
        return is_typed(schema, node.get("items", {}))
    if kind == "object":
        return bool(node.get("properties"))
    return kind is not None


def success_problems(schema: Schema, method: str, path: str, op: Schema) -> list[str]:
    label = f"{method} {path}"
    successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    if not successes:
        return [f"{label}: no 2xx response"]
    problems = []
    for code, response in successes.items():
        content = response.get("content")
        if not content:
            if code != "204":
                problems.append(f"{label} {code}: no body documented")
            continue
        for media_type, media in content.items():
            if media_type != JSON:
                if "schema" not in media:
                    problems.append(f"{label} {code} {media_type}: no schema")
            elif not is_typed(schema, media.get("schema", {})):
                problems.append(f"{label} {code}: bare JSON body {media.get('schema')}")
    return problems


def test_every_operation_documents_a_typed_2xx_body(schema: Schema) -> None:
    ops = operations(schema)
    assert len(ops) >= 34, [f"{m} {p}" for m, p, _ in ops]
    problems = [problem for method, path, op in ops for problem in success_problems(schema, method, path, op)]
    assert not problems, "\n".join(problems)


def test_the_schema_lists_every_route_of_the_app(client: TestClient, schema: Schema) -> None:  # type: ignore[type-arg]
    documented = {(method, path) for method, path, _ in operations(schema)}
    routed = {
        (method, route.path_format)
        for route in client.app.routes if isinstance(route, HTTPRoute)
        for handler in route.route_handlers if handler.resolve_include_in_schema()
        for method in handler.http_methods if method not in ("HEAD", "OPTIONS")
    }
    assert routed == documented


def test_the_streams_document_progress_events_as_event_stream(schema: Schema) -> None:
    components = schema["components"]["schemas"]
    event = components["ProgressEvent"]
    assert list(event["properties"]) == [f.name for f in msgspec.structs.fields(ProgressEvent)]
    assert "EventError" in components
    for path in SSE_ROUTES:
        responses = schema["paths"][path]["get"]["responses"]
        stream = responses["200"]["content"]["text/event-stream"]
        assert stream["schema"] == {"$ref": "#/components/schemas/ProgressEvent"}
        assert "204" in responses and not responses["204"].get("content")


def test_metrics_declares_its_text_media_type(schema: Schema) -> None:
    content = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert [media_type.split(";")[0] for media_type in content] == ["text/plain"]


def test_every_error_answer_documents_the_error_shape(schema: Schema) -> None:
    body = schema["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"status_code", "code", "detail"}
    assert set(body["properties"]) == {f.name for f in msgspec.structs.fields(ErrorBody)}
    problems = []
    for method, path, op in operations(schema):
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        if (method, path) == ("GET", "/ready"):
            assert errors["503"]["content"][JSON]["schema"] == {"$ref": "#/components/schemas/Readiness"}
            continue
        for code, response in errors.items():
            ref = response.get("content", {}).get(JSON, {}).get("schema")
            if ref != {"$ref": "#/components/schemas/ErrorBody"}:
                problems.append(f"{method} {path} {code}: {ref}")
        if "{" in path and "404" not in errors:
            problems.append(f"{method} {path}: names a thing but documents no 404")
    assert not problems, "\n".join(problems)


def test_security_schemes_and_which_operations_need_them(schema: Schema) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"] == {**schemes["sessionCookie"], "type": "apiKey", "in": "cookie",
                                        "name": "lexintel_session"}
    assert schemes["csrfToken"] == {**schemes["csrfToken"], "type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    assert schemes["streamToken"] == {**schemes["streamToken"], "type": "apiKey", "in": "query", "name": "token"}
    public = {("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/stages"), ("POST", "/auth/login"),
              ("GET", "/setup"), ("POST", "/setup")}  # webadmin: first run
    for method, path, op in operations(schema):
        security = op.get("security")
        if (method, path) in public:
            assert security is None, (method, path)
            continue
        assert security is not None and {"bearerToken": []} in security, (method, path, security)
        cookie = next(s for s in security if "sessionCookie" in s)
        assert ("csrfToken" in cookie) == (method not in SAFE_METHODS), (method, path, security)
        assert ({"streamToken": []} in security) == (path in SSE_ROUTES), (method, path, security)
        assert "401" in op["responses"], (method, path)
