"""Documents left ``processing`` by a crash are requeued at the next start, exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.support import ServerProcess, corpus, read_stream, wait_for
from tests.test_ingest import new_case, upload, wait_terminal


def test_start_on_a_database_with_a_processing_row_requeues_it(make_client: Any, tmp_path: Path) -> None:
    client = make_client()
    case_id = new_case(client)
    pdf = corpus("pdflatex-4-pages")
    doc_id = upload(client, case_id, (pdf.name, pdf.read_bytes()))["document_ids"][0]
    assert wait_terminal(client, doc_id)["status"] == "indexed"
    db_path = client.app.state.services.settings.db_path
    client.__exit__(None, None, None)

    # What a crash mid-extraction leaves behind: a processing row with half its pages.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE documents SET status='processing', stage='extracting', progress=40, pages_done=2 "
                     "WHERE id=?", (doc_id,))
        conn.execute("DELETE FROM chunks WHERE document_id=?", (doc_id,))
        conn.execute("DELETE FROM pages WHERE document_id=? AND page > 2", (doc_id,))

    again = make_client()
    final = wait_terminal(again, doc_id)
    assert final["status"] == "indexed" and final["pages_done"] == 4 and final["chunks"] > 0
    hits = again.get("/search", params={"q": "information", "case_id": case_id}).json()["hits"]
    assert {h["document_id"] for h in hits} == {doc_id}
    assert again.get(f"/documents/{doc_id}/text").json()["pages"][3]["page"] == 4

    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT id, data FROM events WHERE stream=? ORDER BY id", (f"document:{doc_id}",)
        ).fetchall()
    ids = [r[0] for r in rows]
    assert ids == list(range(1, len(ids) + 1))  # ids continue, never reused
    requeued = [r for r in rows if "interrupted by a server restart; resuming at page 3" in r[1]]
    assert len(requeued) == 1  # the same run resumes after the pages it had stored
    # exactly one completion per pass through the pipeline: the original run and the requeued one
    assert sum('"stage":"completed"' in r[1] for r in rows) == 2

    # starting again on a clean database requeues nothing
    again.__exit__(None, None, None)
    third = make_client()
    assert third.app.state.services.pipeline.recover() == 0
    assert third.get(f"/documents/{doc_id}/status").json()["status"] == "indexed"


def test_kill_9_mid_extraction_then_restart_finishes_the_document(server_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "killed"
    server: ServerProcess = server_factory(data_dir, LEXINTEL_EXTRACTION_WORKERS="1")
    base = server.url
    case_id = httpx.post(f"{base}/cases", json={"name": "Kill test"}).json()["id"]
    big = corpus("GeoTopo")  # 117 pages: several seconds of extraction
    small = corpus("minimal-document")
    with big.open("rb") as fb, small.open("rb") as fs:
        resp = httpx.post(f"{base}/cases/{case_id}/documents", timeout=30,
                          files=[("files", (big.name, fb)), ("files", (small.name, fs))])
    assert resp.status_code == 202, resp.text
    big_id, small_id = resp.json()["document_ids"]

    def extracting_some_pages() -> bool:
        body = httpx.get(f"{base}/documents/{big_id}/status").json()
        return body["stage"] == "extracting" and body["pages_done"] >= 3

    wait_for(extracting_some_pages, timeout=60, what="extraction under way")
    before = read_stream(f"{base}/progress/documents/{big_id}/stream?events=named",
                         until=lambda e: isinstance(e.data, dict) and e.data["stage"] == "extracting"
                         and e.data["items_done"] >= 3)
    server.stop("kill")

    server.start()
    def terminal(doc_id: str) -> dict[str, Any] | None:
        body: dict[str, Any] = httpx.get(f"{base}/documents/{doc_id}/status").json()
        return body if body["status"] in ("indexed", "failed") else None

    assert wait_for(lambda: terminal(big_id), timeout=120)["status"] == "indexed"
    assert wait_for(lambda: terminal(small_id), timeout=60)["status"] == "indexed"
    events = read_stream(f"{base}/progress/documents/{big_id}/stream?events=named", headers={"Last-Event-ID": "0"})
    ids = [e.id for e in events]
    assert ids == list(range(1, len(ids) + 1)), ids  # no id reused across the crash
    assert [e.id for e in before] == ids[: len(before)]  # what a client saw before the crash is still history
    assert any("interrupted by a server restart; resuming at page" in e.data["message"]
               for e in events if isinstance(e.data, dict))
    assert events[-1].event == "complete" and events[-1].data["progress"] == 100
    # a crash keeps the run (as a shutdown does): a client without a cursor gets the whole run, the
    # interruption included, and its progress never goes back
    current = read_stream(f"{base}/progress/documents/{big_id}/stream?events=named")
    assert current[-1].event == "complete"
    assert any("interrupted by a server restart" in e.data["message"] for e in current)
    assert {e.data["run"] for e in current} == {1}
    progress = [e.data["progress"] for e in current]
    assert progress == sorted(progress)


def test_a_pending_document_missing_from_the_queue_is_picked_up_by_the_rescan(
    make_client: Any, monkeypatch: Any
) -> None:
    from lexintel.pipeline import runner

    monkeypatch.setattr(runner, "RESCAN_SECONDS", 0.2)
    client = make_client()
    case_id = new_case(client)
    pdf = corpus("minimal-document")
    doc_id = upload(client, case_id, (pdf.name, pdf.read_bytes()))["document_ids"][0]
    assert wait_terminal(client, doc_id)["status"] == "indexed"
    services = client.app.state.services
    # what a claim that failed on a full disk leaves: a pending row that nothing has queued
    with services.db.transaction() as conn:
        conn.execute("UPDATE documents SET status='pending', stage='queued' WHERE id=?", (doc_id,))
    assert wait_terminal(client, doc_id, timeout=30)["status"] == "indexed"
    # enqueue is idempotent: repeated rescans never pile up copies
    for _ in range(5):
        services.pipeline.enqueue(doc_id)
    assert len(services.pipeline.queue) <= 1
