"""Fuzz every operation of the OpenAPI schema (``/schema/openapi.json``) with a valid admin token: zero 5xx, and
every status an operation answers is one its schema documents.

A real uvicorn server with auth on; schemathesis generates requests from the schema (valid and invalid ones,
hypothesis-driven) for each operation, a bounded number of examples each so the run stays around a minute.
Path ids are drawn half the time from real objects (a case, indexed documents, a finished batch, an open upload),
so handlers run past their 404s; DELETEs and the open-ended case stream only get generated ids, and the case-list
stream (open-ended, without parameters) is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexintel.settings import Settings
from tests.auth_helpers import Account, add_account
from tests.live_server import LiveServer
from tests.support import wait_for

EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[LiveServer, Account]]:
    s = Settings(data_dir=tmp_path / "data", extraction_workers=1, document_timeout=30, progress_interval=0.0,
                 ping_interval=0.5, auth="on", max_request_bytes=1024 * 1024, max_file_bytes=512 * 1024)
    admin = add_account(s, "fuzzadmin", "admin")
    add_account(s, "carol")
    live = LiveServer(s, auth="on").start()
    yield live, admin
    live.stop()


def test_no_operation_answers_5xx(api: tuple[LiveServer, Account]) -> None:
    live, admin = api
    real = seed(live, admin)
    schema = schemathesis.openapi.from_url(f"{live.url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # the case-list stream has nothing to get wrong (no parameters) and never ends: its tests are
    # tests/test_web_case_lists.py and tests/test_access_revocation.py
    operations = [op for op in operations if op.path != "/case-list/stream"]
    assert len(operations) >= 20, [op.label for op in operations]  # the schema really lists the API
    session = requests.Session()
    server_errors: list[str] = []
    seen: dict[str, set[int]] = {}

    for operation in operations:
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), data=st.data())
        def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
            for name in list(case.path_parameters or {}):
                keep = case.method == "DELETE" or case.path == "/cases/{case_id}/stream"  # destructive / endless
                if name in real and not keep and data.draw(st.booleans()):
                    case.path_parameters[name] = data.draw(st.sampled_from(real[name]))  # type: ignore[index]
            response = case.call(base_url=live.url, session=session, headers=admin.headers, timeout=10)
            label = f"{case.method} {case.path}"
            seen.setdefault(label, set()).add(response.status_code)
            if response.status_code >= 500:
                server_errors.append(f"{label}: {response.status_code} {response.text[:300]}\n"
                                     f"  {case.as_curl_command()}")

        fuzz()

    assert not server_errors, "\n".join(server_errors)
    paths = requests.get(f"{live.url}/schema/openapi.json", timeout=10).json()["paths"]
    undocumented = {}
    for label, codes in seen.items():
        method, path = label.split(" ", 1)
        missing = codes - {int(code) for code in paths[path][method.lower()]["responses"]}
        if missing:
            undocumented[label] = sorted(missing)
    assert not undocumented, f"statuses answered but not in the schema: {undocumented}"
    assert any(code < 300 for codes in seen.values() for code in codes)  # the token was accepted somewhere
    assert live.services.pipeline.alive
    assert requests.get(f"{live.url}/health", timeout=5).status_code == 200


def seed(live: LiveServer, admin: Account) -> dict[str, list[str]]:
    """Real objects whose ids the fuzzer mixes into path parameters."""
    http = requests.Session()
    http.headers.update(admin.headers)
    case_id = http.post(f"{live.url}/cases", json={"name": "Fuzz"}, timeout=10).json()["id"]
    files = [("files", (f"f{n}.txt", f"fuzz text {n}".encode(), "text/plain")) for n in range(2)]
    batch = http.post(f"{live.url}/cases/{case_id}/documents", files=files, timeout=10).json()
    upload = http.post(f"{live.url}/cases/{case_id}/uploads", json={"filename": "u.txt", "total_size": 10},
                       timeout=10).json()

    def finished() -> bool:
        body = http.get(f"{live.url}/batches/{batch['batch_id']}", timeout=10).json()
        return bool(body["status"] in ("completed", "failed"))

    wait_for(finished, timeout=60, what="seed batch finished")
    return {"case_id": [case_id], "document_id": list(batch["document_ids"]), "batch_id": [batch["batch_id"]],
            "upload_id": [upload["upload_id"]]}
