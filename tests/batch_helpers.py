"""Helpers shared by the batch, ZIP and chunked-upload tests: building archives, waiting for batches."""

from __future__ import annotations

import io
import warnings
import zipfile
from typing import Any

from litestar.testing import TestClient

from tests.support import SSEEvent, iter_sse
from tests.support.waiting import wait_json_status
from tests.test_ingest import new_case as new_case  # one helper for every test module


def make_zip(entries: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An archive with these (name, data) entries; a name ending in '/' is a directory."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are on purpose in some tests
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, data in entries:
                zf.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data)
    return buf.getvalue()


def wait_batch(client: TestClient, batch_id: str, timeout: float = 120) -> dict[str, Any]:  # type: ignore[type-arg]
    """Poll GET /batches/{id} until the batch is completed or failed."""
    return wait_json_status(client, f"/batches/{batch_id}", ("completed", "failed"), timeout)


def batch_events(client: TestClient, batch_id: str) -> list[SSEEvent]:  # type: ignore[type-arg]
    """The whole log of a finished batch's stream (it replays and closes)."""
    resp = client.get(f"/batches/{batch_id}/stream")
    assert resp.status_code == 200, resp.text
    return [e for e in iter_sse(iter(resp.text.splitlines())) if isinstance(e, SSEEvent)]


def batch_level(events: list[SSEEvent]) -> list[dict[str, Any]]:
    """The batch's own events (document_id null), in order."""
    return [e.data for e in events if isinstance(e.data, dict) and e.data["document_id"] is None]


def assert_batch_event_contract(events: list[SSEEvent]) -> None:
    """Every batch event has elapsed/eta, progress never decreases, stages never go back, one terminal last."""
    order = ["uploading", "unpacking", "extracting", "chunking", "indexing", "embedding", "completed", "failed"]
    mine = batch_level(events)
    assert mine, "no batch-level events"
    last_progress, last_rank = -1.0, -1
    for body in mine:
        assert isinstance(body["elapsed_seconds"], float | int) and body["elapsed_seconds"] >= 0
        assert "eta_seconds" in body
        assert body["eta_seconds"] is None or body["eta_seconds"] >= 0
        assert body["progress"] >= last_progress, (body, last_progress)
        rank = order.index(body["stage"])
        assert rank >= last_rank, body
        last_progress, last_rank = body["progress"], rank
    assert events[-1].event in ("complete", "error") and events[-1].data["document_id"] is None  # type: ignore[index]
    assert sum(1 for e in events if e.event in ("complete", "error")) == 1
