"""Every error answer has the documented shape ``{"status_code", "code", "detail"}``, Litestar's own included; one
status per code; domain errors carry no HTTP and the modules below the API do not import Litestar."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import msgspec
from litestar.testing import TestClient

import lexintel
from lexintel import errors
from lexintel.api.errors import FRAMEWORK_CODES, STATUS_OF, ErrorBody, status_of
from lexintel.observability.shutdown import begin_shutdown
from tests.test_ingest import new_case

ROOT = Path(lexintel.__file__).parent


def error_body(resp: httpx.Response, status: int, code: str) -> ErrorBody:
    """The answer is ``status`` with the documented error body (no undocumented field) carrying ``code``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = msgspec.convert(resp.json(), ErrorBody)
    assert (body.status_code, body.code) == (status, code), resp.text
    assert body.detail
    return body


def test_unknown_route_is_404_not_found(client: TestClient) -> None:  # type: ignore[type-arg]
    error_body(client.get("/no/such/route"), 404, "not_found")
    error_body(client.put("/uploads/x/chunks/not-a-number"), 404, "not_found")  # the path does not match


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = client.put("/health")
    error_body(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["allow"]


def test_validation_errors_say_what_failed(client: TestClient) -> None:  # type: ignore[type-arg]
    body = error_body(client.post("/cases", json={"nom": "x"}), 400, "validation_error")
    assert isinstance(body.extra, list) and body.extra[0].key == "data" and "name" in body.extra[0].message
    body = error_body(client.get("/search", params={"q": "x", "limit": 1000}), 400, "validation_error")
    assert isinstance(body.extra, list) and body.extra[0].key == "limit" and body.extra[0].source == "query"
    error_body(client.get("/search"), 400, "validation_error")  # a required parameter missing
    error_body(client.post("/cases", content=b"{", headers={"content-type": "application/json"}),
               400, "validation_error")  # not JSON at all


def test_domain_errors_keep_their_code_and_extra_fields(client: TestClient) -> None:  # type: ignore[type-arg]
    error_body(client.get("/cases/nope"), 404, "case_not_found")
    case_id = new_case(client)
    upload = client.post(f"/cases/{case_id}/uploads", json={"filename": "a.txt", "total_size": 10, "chunk_size": 5})
    assert upload.status_code == 201, upload.text
    body = error_body(client.post(f"/uploads/{upload.json()['upload_id']}/complete"), 409, "chunks_missing")
    assert body.missing == [0, 1]


def test_shutting_down_is_503_with_retry_after_on_every_upload_route(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    upload = client.post(f"/cases/{case_id}/uploads", json={"filename": "a.txt", "total_size": 4})
    begin_shutdown(client.app.state.services)
    answers = [
        client.post(f"/cases/{case_id}/documents", files={"files": ("a.txt", b"some text")}),
        client.post("/documents/upload", data={"case_id": case_id}, files={"file": ("a.txt", b"some text")}),
        client.post(f"/cases/{case_id}/uploads", json={"filename": "b.txt", "total_size": 4}),
        client.put(f"/uploads/{upload.json()['upload_id']}/chunks/0", content=b"abcd"),
    ]
    for resp in answers:
        error_body(resp, 503, "shutting_down")
        assert int(resp.headers["retry-after"]) > 0


def _all_error_classes() -> set[type[errors.AppError]]:
    for module in pkgutil.walk_packages([str(ROOT)], "lexintel."):
        if not module.name.startswith("lexintel.__main__"):
            importlib.import_module(module.name)
    found: set[type[errors.AppError]] = set()
    todo = [errors.AppError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_domain_error_has_one_status_and_none_carries_one_itself() -> None:
    classes = _all_error_classes()
    for cls in classes - {errors.AppError}:
        assert status_of(cls) != 500, f"{cls.__module__}.{cls.__qualname__} has no status in lexintel.api.errors"
        assert "status_code" not in vars(cls), f"{cls.__qualname__} carries an HTTP status: map it in api/errors"
    assert set(STATUS_OF) <= classes


def _raised_codes() -> dict[str, set[int]]:
    """``code`` -> the statuses it is answered with, from every ``SomeError("code", ...)`` in the source."""
    by_name = {cls.__name__: cls for cls in _all_error_classes()}
    by_name.update({name: value for name, value in vars(errors).items()
                    if isinstance(value, type) and issubclass(value, errors.AppError)})
    codes: dict[str, set[int]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            cls = by_name.get(name or "")
            if cls is not None and isinstance(node.args[0].value, str):
                codes[node.args[0].value].add(status_of(cls))
    return codes


def test_one_status_per_code() -> None:
    codes = _raised_codes()
    assert {"shutting_down", "case_not_found", "invalid_token", "too_many_attempts"} <= codes.keys()
    for status, code in FRAMEWORK_CODES.items():
        codes[code].add(status)
    several = {code: statuses for code, statuses in codes.items() if len(statuses) > 1}
    assert not several, f"codes answered with more than one status: {several}"
    assert codes["shutting_down"] == {503}


def _imports_litestar(module: str) -> Any:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'litestar')[:3])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def test_domain_modules_do_not_import_litestar() -> None:
    for module in ("lexintel.errors", "lexintel.store.records", "lexintel.store.accounts", "lexintel.store.access",
                   "lexintel.store.search", "lexintel.auth.users", "lexintel.auth.tokens", "lexintel.auth.cli"):
        assert _imports_litestar(module) == "[]", module
