"""Resumable chunked uploads: out of order, dropped and re-sent chunks, checks, finish, expiry, cancel."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from litestar.testing import TestClient

from tests.batch_helpers import assert_batch_event_contract, batch_events, make_zip, new_case, wait_batch
from tests.support import ServerProcess, corpus, corpus_pages, read_stream, wait_for


def start_upload(client: Any, case_id: str, data: bytes, name: str, chunk: int, **extra: Any) -> dict[str, Any]:
    resp = client.post(f"/cases/{case_id}/uploads",
                       json={"filename": name, "total_size": len(data), "chunk_size": chunk, **extra})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    assert body["status"] == "open" and body["received"] == []
    assert body["chunk_count"] == -(-len(data) // chunk) and body["batch_id"]
    return body


def put(client: Any, upload_id: str, index: int, data: bytes, chunk: int, **headers: str) -> Any:
    part = data[index * chunk:(index + 1) * chunk]
    return client.put(f"/uploads/{upload_id}/chunks/{index}", content=part, headers=headers)


def drop_chunk_midway(url: str, path: str, part: bytes) -> None:
    """Announce the whole chunk, send half of it, and hang up: a connection lost mid-chunk."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(part)}\r\n\r\n").encode()
        sock.sendall(head + part[: len(part) // 2])


def test_out_of_order_dropped_and_resent_chunks_assemble_exactly(server: ServerProcess) -> None:
    pdf = corpus("multicolumn")
    data = pdf.read_bytes()
    chunk = 16 * 1024  # 5 chunks, the last one short
    http = httpx.Client(base_url=server.url, timeout=30)
    case_id = new_case(http)  # type: ignore[arg-type]
    session = start_upload(http, case_id, data, pdf.name, chunk, sha256=hashlib.sha256(data).hexdigest())
    upload_id, batch_id = session["upload_id"], session["batch_id"]

    for index in (3, 0, 4):  # out of order
        part = data[index * chunk:(index + 1) * chunk]
        resp = put(http, upload_id, index, data, chunk, **{"X-Chunk-SHA256": hashlib.sha256(part).hexdigest()})
        assert resp.status_code == 200, resp.text
        assert resp.json()["size"] == len(part)
    drop_chunk_midway(server.url, f"/uploads/{upload_id}/chunks/1", data[chunk:2 * chunk])

    def chunk_1_not_kept() -> bool:
        state = http.get(f"/uploads/{upload_id}").json()
        folder = server.data_dir / "uploads" / upload_id
        return state["missing"] == [1, 2] and not list(folder.glob("*.tmp"))

    wait_for(chunk_1_not_kept, timeout=20, what="the dropped chunk to be discarded")
    state = http.get(f"/uploads/{upload_id}").json()
    assert state["received"] == [0, 3, 4] and state["received_bytes"] == 2 * chunk + len(data) - 4 * chunk

    for index in (2, 2, 1):  # chunk 2 twice: idempotent
        resp = put(http, upload_id, index, data, chunk)
        assert resp.status_code == 200, resp.text
    assert resp.json()["complete"] is True

    done = http.post(f"/uploads/{upload_id}/complete")
    assert done.status_code == 202, done.text
    body = done.json()
    assert body["batch_id"] == batch_id and len(body["document_ids"]) == 1
    assert body["documents"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    again = http.post(f"/uploads/{upload_id}/complete")  # a client that lost the answer asks again
    assert again.status_code == 202 and again.json()["document_ids"] == body["document_ids"]
    assert not (server.data_dir / "uploads" / upload_id).exists()

    events = read_stream(f"{server.url}/batches/{batch_id}/stream", timeout=120)
    assert_batch_event_contract(events)
    uploading = [e.data for e in events if isinstance(e.data, dict) and e.data["stage"] == "uploading"
                 and e.data["document_id"] is None]
    per_chunk = [u for u in uploading if u["message"].startswith("Uploading")]
    assert len(per_chunk) == 6  # one per accepted chunk (3 + 3; the dropped one sent nothing)
    assert all(" MB (" in u["message"] and "%)" in u["message"] for u in per_chunk)
    assert per_chunk[-1]["stage_progress"] == 100 and per_chunk[-1]["items_done"] == 5
    assert events[-1].event == "complete"
    status = http.get(f"/documents/{body['document_ids'][0]}/status").json()
    assert status["status"] == "indexed" and status["pages_total"] == corpus_pages()[pdf.name]


def test_chunk_checks_and_finish_errors(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    data = b"Deposition transcript, page one.\n" * 200  # text, 6.6 KB
    chunk = 2048
    s = start_upload(client, case_id, data, "deposition.txt", chunk, sha256="0" * 64)
    uid = s["upload_id"]
    bad = [
        (client.put(f"/uploads/{uid}/chunks/0", content=data[:100]), 400, "chunk_size_mismatch"),
        (client.put(f"/uploads/{uid}/chunks/0", content=data[: chunk + 1]), 413, "chunk_too_large"),
        (client.put(f"/uploads/{uid}/chunks/9", content=data[:chunk]), 400, "bad_chunk_index"),
        (put(client, uid, 0, data, chunk, **{"X-Chunk-SHA256": "ab" * 32}), 400, "chunk_checksum_mismatch"),
        (client.post(f"/uploads/{uid}/complete"), 409, "chunks_missing"),
        (client.get("/uploads/nope"), 404, "upload_not_found"),
        (client.post(f"/cases/{case_id}/uploads", json={"filename": "x", "total_size": 0}), 400, "bad_total_size"),
        (client.post("/cases/nope/uploads", json={"filename": "x", "total_size": 5}), 404, "case_not_found"),
    ]
    for resp, status, code in bad:
        assert resp.status_code == status, resp.text
        assert resp.json()["code"] == code
    assert client.post(f"/uploads/{uid}/complete").json()["missing"] == [0, 1, 2, 3]
    assert client.get(f"/uploads/{uid}").json()["received"] == []
    for index in range(4):
        assert put(client, uid, index, data, chunk).status_code == 200
    # the whole-file sha256 given at the start does not match: refused, session stays open for a re-send
    resp = client.post(f"/uploads/{uid}/complete")
    assert resp.status_code == 400 and resp.json()["code"] == "checksum_mismatch"
    assert client.get(f"/uploads/{uid}").json()["status"] == "open"


def test_chunked_zip_is_unpacked_into_the_same_batch(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    pdfs = [corpus("minimal-document"), corpus("pdflatex-4-pages")]
    data = make_zip([(p.name, p.read_bytes()) for p in pdfs])
    s = start_upload(client, case_id, data, "set.zip", 8192)
    for index in reversed(range(s["chunk_count"])):
        assert put(client, s["upload_id"], index, data, 8192).status_code == 200
    body = client.post(f"/uploads/{s['upload_id']}/complete").json()
    assert body["batch_id"] == s["batch_id"] and body["stage"] == "unpacking"
    batch = wait_batch(client, s["batch_id"])
    assert batch["status"] == "completed" and batch["kind"] == "zip" and batch["counts"]["indexed"] == 2
    events = batch_events(client, s["batch_id"])
    assert_batch_event_contract(events)
    stages = [e.data["stage"] for e in events if isinstance(e.data, dict) and e.data["document_id"] is None]
    assert stages.index("uploading") < stages.index("unpacking") < stages.index("extracting")


def test_unsupported_file_through_chunks_is_refused_and_fails_its_batch(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    data = bytes(range(256)) * 40
    s = start_upload(client, case_id, data, "blob.bin", 4096)
    for index in range(s["chunk_count"]):
        assert put(client, s["upload_id"], index, data, 4096).status_code == 200
    resp = client.post(f"/uploads/{s['upload_id']}/complete")
    assert resp.status_code == 415 and resp.json()["code"] == "unsupported_type"
    batch = client.get(f"/batches/{s['batch_id']}").json()
    assert batch["status"] == "failed" and batch["error_code"] == "unsupported_type"


def test_abandoned_session_expires_and_frees_disk(make_client: Callable[..., TestClient]) -> None:  # type: ignore[type-arg]
    client = make_client(upload_ttl=0.5, upload_sweep_interval=0.1)
    case_id = new_case(client)
    data = b"x" * 5000
    s = start_upload(client, case_id, data, "notes.txt", 1000)
    assert put(client, s["upload_id"], 0, data, 1000).status_code == 200
    folder = Path(client.app.state.services.settings.data_dir) / "uploads" / s["upload_id"]
    assert folder.exists()
    wait_for(lambda: client.get(f"/uploads/{s['upload_id']}").json()["status"] == "expired", timeout=20,
             what="upload expiry")
    assert not folder.exists()
    resp = put(client, s["upload_id"], 1, data, 1000)
    assert resp.status_code == 410 and resp.json()["code"] == "upload_expired"
    batch = client.get(f"/batches/{s['batch_id']}").json()
    assert batch["status"] == "failed" and batch["error_code"] == "upload_expired"


def test_cancel_deletes_chunks_and_fails_batch(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    data = b"y" * 3000
    s = start_upload(client, case_id, data, "draft.txt", 1000)
    assert put(client, s["upload_id"], 2, data, 1000).status_code == 200
    assert client.delete(f"/uploads/{s['upload_id']}").status_code == 204
    folder = Path(client.app.state.services.settings.data_dir) / "uploads" / s["upload_id"]
    assert not folder.exists()
    assert client.get(f"/uploads/{s['upload_id']}").json()["status"] == "cancelled"
    assert client.post(f"/uploads/{s['upload_id']}/complete").status_code == 410
    events = batch_events(client, s["batch_id"])
    assert events[-1].event == "error" and events[-1].data["error"]["code"] == "upload_cancelled"  # type: ignore[index]
