"""Graceful shutdown: uploads refused with 503, open streams ended cleanly, running extractions given a grace
period, the rest requeued and resumed by the next start with no event id reused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from litestar.testing import TestClient

from lexintel.observability.shutdown import begin_shutdown
from tests.support import ServerProcess, StreamFollower, corpus, read_stream, wait_for
from tests.test_ingest import new_case

BIG = "geotopo_GeoTopo-komprimiert"  # 117 pages: several seconds of extraction


def test_uploads_during_shutdown_are_503_json_and_nothing_is_kept(client: TestClient, tmp_path: Path) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    begin_shutdown(client.app.state.services)
    pdf = corpus("minimal-document")
    resp = client.post(f"/cases/{case_id}/documents", files={"files": (pdf.name, pdf.read_bytes())})
    assert resp.status_code == 503, resp.text
    body = resp.json()
    assert body["code"] == "shutting_down" and "retry" in body["detail"]
    alias = client.post("/documents/upload", data={"case_id": case_id}, files={"file": (pdf.name, pdf.read_bytes())})
    assert alias.status_code == 503 and alias.json()["code"] == "shutting_down"
    assert client.get(f"/cases/{case_id}").status_code == 200  # reads keep working while draining
    assert not list((tmp_path / "data" / "files").rglob("*"))


def _post(url: str, case_id: str, name: str, data: bytes) -> str:
    resp = httpx.post(f"{url}/cases/{case_id}/documents", files={"files": (name, data)}, timeout=30)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["document_ids"][0])


def _status(url: str, document_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{url}/documents/{document_id}/status", timeout=10).json()
    return body


def _row(data_dir: Path, document_id: str) -> sqlite3.Row:
    conn = sqlite3.connect(data_dir / "lexintel.db")
    conn.row_factory = sqlite3.Row
    try:
        row: sqlite3.Row = conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        return row
    finally:
        conn.close()


def _start_extracting(server: ServerProcess) -> tuple[str, str]:
    url = server.url
    case_id = httpx.post(f"{url}/cases", json={"name": "shutdown"}, timeout=10).json()["id"]
    pdf = corpus(BIG)
    document_id = _post(url, case_id, pdf.name, pdf.read_bytes())
    wait_for(lambda: _status(url, document_id)["pages_done"] >= 1, timeout=60, what="extraction under way")
    return case_id, document_id


def test_sigterm_ends_streams_requeues_running_work_and_the_next_start_resumes_it(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = {"LEXINTEL_SHUTDOWN_GRACE": "0", "LEXINTEL_EXTRACTION_WORKERS": "1"}
    server = server_factory(data, **env)
    _, document_id = _start_extracting(server)

    stream = StreamFollower(f"{server.url}/progress/documents/{document_id}/stream?events=named").start()
    events, comments = stream.events, stream.comments
    wait_for(lambda: events, timeout=20, what="the stream's first events")
    assert server.stop() == 0  # SIGTERM; exit status 0 = the graceful path ran to its end
    assert stream.join(20) and not stream.errors, stream.errors  # the stream must end cleanly
    assert comments[-2:] == [": closed (shutdown)", "retry:3000"]  # the final frame every open stream gets
    assert "shutdown.begin" in server.log()

    row = _row(data, document_id)
    assert (row["status"], row["stage"]) == ("pending", "queued") and row["progress"] > 0  # progress is kept
    assert "interrupted by a server restart; resuming at page" in row["message"]
    assert events[-1].data["stage"] == "queued" and events[-1].data["message"] == row["message"]  # seen live

    restarted = server_factory(data, **env)
    final = wait_for(lambda: (s := _status(restarted.url, document_id))["status"] in ("indexed", "failed") and s,
                     timeout=120, what="the requeued document to finish after the restart")
    assert final["status"] == "indexed" and final["pages_total"] == 117, final

    replay = read_stream(f"{restarted.url}/progress/documents/{document_id}/stream?events=named", timeout=30)
    ids = [e.id for e in replay]
    assert ids == list(range(1, len(ids) + 1))  # one history, no id reused or skipped across the restart
    by_id = {e.id: e.raw for e in replay}
    assert all(by_id[e.id] == e.raw for e in events)  # what the first instance sent is what the log holds
    messages = [e.data["message"] for e in replay if isinstance(e.data, dict) and e.data["stage"] == "queued"]
    assert any("interrupted by a server restart" in str(m) for m in messages)
    assert replay[-1].event == "complete"


def test_sigterm_lets_running_extraction_finish_within_the_grace_period(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = server_factory(data, LEXINTEL_SHUTDOWN_GRACE="300", LEXINTEL_EXTRACTION_WORKERS="1")
    case_id, running = _start_extracting(server)
    small = corpus("minimal-document")
    waiting = _post(server.url, case_id, small.name, small.read_bytes())  # queued behind the running one
    assert _status(server.url, waiting)["status"] == "pending"

    assert server.stop(timeout=300) == 0
    finished = _row(data, running)
    assert finished["status"] == "indexed" and finished["pages_done"] == 117  # given the time to finish
    left = _row(data, waiting)
    assert (left["status"], left["stage"]) == ("pending", "queued")  # not started during the drain

    restarted = server_factory(data, LEXINTEL_EXTRACTION_WORKERS="1")
    wait_for(lambda: _status(restarted.url, waiting)["status"] == "indexed", timeout=60, what="queued doc resumes")
