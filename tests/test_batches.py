"""Batches over HTTP: multi-file uploads, polling fallback, throttled progress, resume by Last-Event-ID."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from litestar.testing import TestClient

from tests.batch_helpers import assert_batch_event_contract, batch_events, make_zip, new_case, wait_batch
from tests.support import ServerProcess, SSEEvent, corpus, corpus_pages, read_stream


def _files(*names: str) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (p.name, p.read_bytes())) for p in map(corpus, names)]


def test_multi_file_upload_is_a_batch_with_counts_and_polling_fallback(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    files = _files("minimal-document", "pdflatex-outline", "google-doc-document")
    files.append(("files", ("photo.bin", bytes(range(256)) * 16)))  # refused at intake: a failed document
    resp = client.post(f"/cases/{case_id}/documents", files=files)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    batch_id = body["batch_id"]
    assert batch_id and len(body["document_ids"]) == 4 and body["stage"] == "extracting"
    assert [d["status"] for d in body["documents"]] == ["pending", "pending", "pending", "failed"]

    batch = wait_batch(client, batch_id)
    assert batch["status"] == "completed" and batch["kind"] == "files" and batch["progress"] == 100
    assert batch["counts"] == {"total": 4, "pending": 0, "processing": 0, "indexed": 3, "needs_ocr": 0, "failed": 1,
                               "skipped": 0}
    assert batch["document_ids"] == body["document_ids"] and batch["eta_seconds"] == 0
    assert batch["finished_at"] and batch["elapsed_seconds"] > 0

    progress = client.get(f"/batches/{batch_id}/progress").json()
    assert progress["stage"] == "completed" and progress["items_done"] == progress["items_total"] == 4
    truth = corpus_pages()
    for doc in progress["documents"]:
        if doc["filename"] == "photo.bin":
            assert doc["status"] == "failed" and doc["error_code"] == "unsupported_type"
        else:
            assert doc["status"] == "indexed" and doc["pages_total"] == truth[doc["filename"]]

    events = batch_events(client, batch_id)
    assert_batch_event_contract(events)
    assert progress["last_event_id"] == events[-1].id
    # the batch stream carries its documents' events too, each document ending in its own terminal state
    doc_events = [e.data for e in events if isinstance(e.data, dict) and e.data["document_id"] is not None]
    assert {d["document_id"] for d in doc_events} == set(body["document_ids"])
    assert events[-1].data["message"].startswith("Batch complete: 4 documents, 3 indexed, 1 failed")  # type: ignore[index]
    assert client.get("/batches/nope/progress").status_code == 404


def _ts(body: dict[str, Any]) -> float:
    return datetime.fromisoformat(body["timestamp"]).timestamp()


def test_progress_is_throttled_per_document_and_per_batch(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(LEXINTEL_PROGRESS_INTERVAL="0.25")
    http = httpx.Client(base_url=server.url, timeout=60)
    case_id = new_case(http)  # type: ignore[arg-type]
    resp = http.post(f"/cases/{case_id}/documents", files=_files("GeoTopo-komprimiert", "pdflatex-4-pages",
                                                                  "multicolumn"))
    assert resp.status_code == 202, resp.text
    batch_id = resp.json()["batch_id"]
    events = read_stream(f"{server.url}/batches/{batch_id}/stream", timeout=300)
    assert_batch_event_contract(events)
    bodies = [e.data for e in events if isinstance(e.data, dict)]

    previous: dict[str | None, dict[str, Any]] = {}
    page_events = 0
    for body in bodies:
        key = body["document_id"]
        before = previous.get(key)
        previous[key] = body
        if before is None or body["status"] != "processing" or body["stage"] != before["stage"]:
            continue  # first event, stage changes and terminal events are always sent
        if key is not None and body["items_total"] and body["items_done"] >= body["items_total"]:
            continue  # a stage's last page (or passage: embedding) is always sent
        if key is None and body["error"]:
            continue
        page_events += key is not None
        assert _ts(body) - _ts(before) >= 0.24, (body["stage"], before, body)
    assert page_events >= 3  # the 117-page document did report page progress
    geotopo = [b for b in bodies if b["filename"] == corpus("GeoTopo-komprimiert").name and b["document_id"]]
    assert max(b["items_done"] for b in geotopo if b["stage"] == "extracting") == 117
    # the batch's ETA became known once pages were being extracted
    assert any(b["eta_seconds"] is not None and b["document_id"] is None and b["stage"] == "extracting"
               for b in bodies)


def test_reconnect_mid_batch_with_last_event_id_resumes_exactly(server: ServerProcess) -> None:
    names = ["GeoTopo-komprimiert", "minimal-document", "pdflatex-4-pages", "multicolumn", "crazyones-pdfa"]
    archive = make_zip([(p.name, p.read_bytes()) for p in map(corpus, names)])
    http = httpx.Client(base_url=server.url, timeout=60)
    case_id = new_case(http)  # type: ignore[arg-type]
    resp = http.post(f"/cases/{case_id}/documents", files=[("files", ("set.zip", archive))])
    assert resp.status_code == 202, resp.text
    batch_id = resp.json()["batch_id"]
    url = f"{server.url}/batches/{batch_id}/stream"

    first = read_stream(url, timeout=120, until=lambda e: e.id is not None and e.id >= 6)
    assert first[-1].id == 6 and first[-1].event == "progress"
    status = http.get(f"/batches/{batch_id}/progress").json()
    assert status["status"] == "processing", "the batch finished before the client reconnected"
    rest = read_stream(url, headers={"Last-Event-ID": str(first[-1].id)}, timeout=300)
    assert rest[0].id == 7 and rest[-1].event == "complete"

    everything = read_stream(url, timeout=60)  # a late joiner replays the whole log
    assert [e.id for e in first + rest] == [e.id for e in everything] == list(range(1, len(everything) + 1))
    assert [e.raw for e in first + rest] == [e.raw for e in everything]
    assert_batch_event_contract(everything)
    # a client that already has the terminal event is told to stop reconnecting
    done = httpx.get(url, headers={"Last-Event-ID": str(everything[-1].id)}, timeout=30)
    assert done.status_code == 204
    assert http.get(f"/batches/{batch_id}").json()["counts"]["indexed"] == len(names)


def test_batch_survives_a_restart(server_factory: Callable[..., ServerProcess], tmp_path: Any) -> None:
    data_dir = tmp_path / "restart-data"
    server = server_factory(data_dir)
    http = httpx.Client(base_url=server.url, timeout=60)
    case_id = new_case(http)  # type: ignore[arg-type]
    resp = http.post(f"/cases/{case_id}/documents", files=_files("GeoTopo-komprimiert", "minimal-document"))
    batch_id = resp.json()["batch_id"]
    read_stream(f"{server.url}/batches/{batch_id}/stream", timeout=120,
                until=lambda e: isinstance(e.data, dict) and e.data["stage"] == "extracting"
                and e.data["items_done"] > 0)
    server.stop(sig="kill")
    server = server_factory(data_dir)
    events: list[SSEEvent] = read_stream(f"{server.url}/batches/{batch_id}/stream", timeout=300)
    assert events[-1].event == "complete"
    assert_batch_event_contract(events)  # progress did not go back although a document was requeued
    batch = httpx.get(f"{server.url}/batches/{batch_id}", timeout=30).json()
    assert batch["status"] == "completed" and batch["counts"]["indexed"] == 2
