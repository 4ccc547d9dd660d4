"""Resume, not restart (issue 16 item 1): a long extraction interrupted by SIGTERM or by ``kill -9`` continues
in the same run at its first unstored page after the restart, no page is extracted twice, progress never goes
back within the run, and the interruption is an event clients can show.

Real servers in subprocesses and a real PDF of a few hundred pages. "No page extracted twice" is counted two
ways: the extraction events' ``items_done`` never repeat a value across both processes, and the second
process's ``lexintel_pages_extracted_total`` is exactly the pages the first one had not stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support import ServerProcess, SSEEvent, StreamFollower, read_stream, scrape_metrics, wait_for
from tests.support.pdfs import text_pdf
from tests.test_ingest import new_case, upload, wait_terminal

PAGES = 240  # a few hundred pages: many seconds of extraction on this machine


def _upload_long(server: ServerProcess, pages: int = PAGES) -> str:
    url = server.url
    case_id = httpx.post(f"{url}/cases", json={"name": "resume"}, timeout=10).json()["id"]
    resp = httpx.post(f"{url}/cases/{case_id}/documents", timeout=60,
                      files={"files": ("deposition.pdf", text_pdf(pages, "resume"))})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["document_ids"][0])


def _status(url: str, document_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{url}/documents/{document_id}/status", timeout=10).json()
    return body


def _stored_pages(data: Path, document_id: str) -> int:
    conn = sqlite3.connect(data / "lexintel.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM pages WHERE document_id = ?", (document_id,)).fetchone()[0])
    finally:
        conn.close()


def _finish_after_restart(server: ServerProcess, document_id: str, kept: int) -> list[SSEEvent]:
    """The restarted server completes the document; returns the run's whole event history."""
    url = server.url
    final = wait_for(lambda: (s := _status(url, document_id))["status"] in ("indexed", "failed") and s,
                     timeout=300, what="the interrupted document to finish after the restart")
    assert final["status"] == "indexed" and final["pages_done"] == PAGES, final
    # the second process extracted exactly the pages the first had not stored
    assert scrape_metrics(url)["lexintel_pages_extracted_total"] == PAGES - kept
    text = httpx.get(f"{url}/documents/{document_id}/text", timeout=30).json()["pages"]
    assert [p["page"] for p in text] == list(range(1, PAGES + 1))
    assert all(f"resume page {p['page']} clause" in p["text"] for p in text)  # every page's own text
    hits = httpx.get(f"{url}/search", params={"q": "indemnify"}, timeout=10).json()["hits"]
    assert hits and {h["document_id"] for h in hits} == {document_id}  # passages rebuilt over all pages

    history = read_stream(f"{url}/progress/documents/{document_id}/stream?events=named", timeout=30)
    assert history[-1].event == "complete"
    data = [e.data for e in history if isinstance(e.data, dict)]
    assert {d["run"] for d in data} == {1}  # one run, however it was interrupted
    progress = [d["progress"] for d in data]
    assert progress == sorted(progress), progress  # never goes back within the run
    extracted = [d["items_done"] for d in data if str(d["message"]).startswith("Extracting page")]
    assert extracted == sorted(set(extracted)), extracted  # no page count repeated: no page extracted twice
    assert kept in extracted  # the first process's last report is where the second one went on
    assert extracted[-1] == PAGES
    interrupted = [d for d in data if d["stage"] == "queued" and "interrupted" in str(d["message"])]
    assert len(interrupted) == 1
    event = interrupted[0]
    assert event["message"] == f"deposition.pdf was interrupted by a server restart; resuming at page {kept + 1}"
    assert (event["items_done"], event["items_total"]) == (kept, PAGES)
    assert event["progress"] > 0  # the requeue carries the progress reached, not 0
    resumed = data[data.index(event) + 1]
    assert resumed["stage"] == "extracting" and resumed["items_done"] == kept
    assert resumed["message"] == f"Resuming deposition.pdf at page {kept + 1}"
    return history


def test_sigterm_mid_extraction_keeps_streams_open_through_the_grace_and_resumes_at_the_next_page(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = {"LEXINTEL_SHUTDOWN_GRACE": "2", "LEXINTEL_EXTRACTION_WORKERS": "1"}
    server = server_factory(data, **env)
    document_id = _upload_long(server)
    wait_for(lambda: _status(server.url, document_id)["pages_done"] >= 5, timeout=120, what="extraction under way")

    stream = StreamFollower(f"{server.url}/progress/documents/{document_id}/stream?events=named", timeout=60).start()
    events, comments = stream.events, stream.comments
    wait_for(lambda: events, timeout=20, what="the stream's first events")
    at_signal = max(e.data["items_done"] for e in events if isinstance(e.data, dict))
    assert server.stop() == 0  # SIGTERM; the graceful path ran to its end
    assert stream.join(30) and not stream.errors, stream.errors
    assert comments[-2:] == [": closed (shutdown)", "retry:3000"]

    kept = _stored_pages(data, document_id)
    assert 0 < kept < PAGES
    live = [e.data for e in events if isinstance(e.data, dict)]
    # the stream stayed open through the grace: it reported pages extracted after the signal...
    assert max(d["items_done"] for d in live if d["stage"] == "extracting") > at_signal
    # ...and, last, the interruption, with the pages kept
    assert live[-1]["stage"] == "queued" and live[-1]["items_done"] == kept
    assert live[-1]["message"].endswith(f"resuming at page {kept + 1}")

    restarted = server_factory(data, **env)
    history = _finish_after_restart(restarted, document_id, kept)
    by_id = {e.id: e.raw for e in history}
    assert all(by_id[e.id] == e.raw for e in events)  # what the first instance sent is the run's history


def test_kill_9_mid_extraction_resumes_at_the_first_unstored_page_in_the_same_run(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = {"LEXINTEL_EXTRACTION_WORKERS": "1"}
    server = server_factory(data, **env)
    document_id = _upload_long(server)
    wait_for(lambda: _status(server.url, document_id)["pages_done"] >= 5, timeout=120, what="extraction under way")
    server.stop("kill")

    kept = _stored_pages(data, document_id)
    assert 0 < kept < PAGES
    restarted = server_factory(data, **env)
    _finish_after_restart(restarted, document_id, kept)


def test_a_retry_of_a_failed_document_is_a_new_run_from_page_1(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = server_factory(data, LEXINTEL_EXTRACTION_WORKERS="1")
    document_id = _upload_long(server, pages=4)
    wait_for(lambda: _status(server.url, document_id)["status"] == "indexed", timeout=120, what="indexed")
    server.stop()
    # a failure after some pages were stored (what a worker crash leaves)
    conn = sqlite3.connect(data / "lexintel.db")
    with conn:
        conn.execute("UPDATE documents SET status = 'failed', stage = 'failed' WHERE id = ?", (document_id,))
        conn.execute("DELETE FROM pages WHERE document_id = ? AND page > 2", (document_id,))
    conn.close()

    restarted = server_factory(data, LEXINTEL_EXTRACTION_WORKERS="1")
    before = scrape_metrics(restarted.url)["lexintel_pages_extracted_total"]
    resp = httpx.post(f"{restarted.url}/documents/{document_id}/retry", timeout=10)
    assert resp.status_code in (200, 202), resp.text
    final = wait_for(lambda: (s := _status(restarted.url, document_id))["status"] in ("indexed", "failed") and s,
                     timeout=120, what="the retried document")
    assert final["status"] == "indexed" and final["run"] == 2
    assert scrape_metrics(restarted.url)["lexintel_pages_extracted_total"] - before == 4  # all pages again
    current = read_stream(f"{restarted.url}/progress/documents/{document_id}/stream?events=named", timeout=30)
    extracting = [e.data for e in current if isinstance(e.data, dict) and e.data["stage"] == "extracting"]
    assert extracting[0]["message"] == "Extracting text from deposition.pdf"


def test_a_batch_of_one_big_and_several_small_documents_reports_progress_by_pages(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(LEXINTEL_EXTRACTION_WORKERS="2")
    url = server.url
    case_id = httpx.post(f"{url}/cases", json={"name": "batch by work"}, timeout=10).json()["id"]
    files = [("files", ("big.pdf", text_pdf(120, "big")))]
    files += [("files", (f"small-{i}.pdf", text_pdf(1, f"small{i}"))) for i in range(4)]
    resp = httpx.post(f"{url}/cases/{case_id}/documents", files=files, timeout=60)
    assert resp.status_code == 202, resp.text
    batch_id = resp.json()["batch_id"]
    events = read_stream(f"{url}/batches/{batch_id}/stream", timeout=300)
    assert events[-1].event == "complete" and events[-1].data["progress"] == 100
    assert events[0].data["items_done"] == 0  # files received is not documents done ("5/5 · 10%")

    latest: dict[str, dict[str, Any]] = {}  # document id -> its last event
    pages: dict[str, int] = {}  # document id -> its page count, once extraction said it
    checked = discriminating = 0
    for event in events:
        body = event.data
        if not isinstance(body, dict):
            continue
        if body["document_id"] is not None:
            latest[body["document_id"]] = body
            if body["stage"] == "extracting" and body["items_total"]:
                pages[body["document_id"]] = body["items_total"]
            continue
        if body["status"] != "processing" or body["stage"] not in ("extracting", "chunking", "indexing"):
            continue
        if len(pages) < 5:
            continue  # before every page count is known the weights are estimated from bytes
        done = sum(pages[d] * (100.0 if b["status"] != "processing" else b["progress"]) for d, b in latest.items())
        expected = 20.0 + 80.0 * done / (100.0 * sum(pages.values()))
        assert abs(body["progress"] - expected) < 3.0, (body, expected)
        checked += 1
        # counted by documents, four finished of five would be at least 84 %: by pages it is far less
        by_count = 20.0 + 80.0 * sum(100.0 if b["status"] != "processing" else b["progress"]
                                     for b in latest.values()) / 500.0
        if by_count - expected > 6:  # the two measures tell apart: the batch follows the pages
            assert body["progress"] < by_count - 6, (body, by_count)
            discriminating += 1
    assert checked >= 3 and discriminating >= 1
    report = httpx.get(f"{url}/batches/{batch_id}", timeout=10).json()
    assert report["counts"]["indexed"] == 5 and report["counts"]["failed"] == 0


def test_interrupted_after_its_last_page_a_document_is_not_extracted_again(make_client: Any) -> None:
    """A crash during chunking or indexing: every page is stored, so the resumed run only rebuilds the passages
    (also for a format that cannot start mid-file, like plain text)."""
    client = make_client()
    case_id = new_case(client)
    doc_id = upload(client, case_id, ("notes.txt", b"the lessee shall indemnify the lessor\n" * 50))["document_ids"][0]
    assert wait_terminal(client, doc_id)["status"] == "indexed"
    db_path = client.app.state.services.settings.db_path
    client.__exit__(None, None, None)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE documents SET status='processing', stage='indexing', progress=90 WHERE id=?", (doc_id,))
        conn.execute("DELETE FROM chunks WHERE document_id=?", (doc_id,))

    again = make_client()
    final = wait_terminal(again, doc_id)
    assert final["status"] == "indexed" and final["pages_done"] == final["pages_total"] == 1 and final["chunks"] > 0
    assert again.app.state.services.pipeline.stats.pages_extracted == 0  # nothing extracted a second time
    hits = again.get("/search", params={"q": "indemnify", "case_id": case_id}).json()["hits"]
    assert {h["document_id"] for h in hits} == {doc_id}
    assert len(again.get(f"/documents/{doc_id}/text").json()["pages"]) == 1
    with sqlite3.connect(db_path) as conn:
        messages = [r[0] for r in conn.execute("SELECT data FROM events WHERE stream=? ORDER BY id",
                                               (f"document:{doc_id}",))]
    assert any("interrupted by a server restart; resuming after its last page" in m for m in messages)
    assert any("notes.txt: every page was extracted before the restart (1/1)" in m for m in messages)
