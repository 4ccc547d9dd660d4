"""The OCR stage through the real pipeline: real Tesseract, real process pool, real SQLite, scans built here.

A scanned PDF becomes searchable with page citations (and says "Reading scanned page" on its document stream);
a mixed PDF is read by OCR on its scanned pages only; without OCR (turned off, or no Tesseract) a scan ends
``needs_ocr`` with the reason, counted as such by batches, the case filter and /ready; an email's attachments
become documents of their own; a worker that hits its memory cap ends ``too_large``.
"""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import anyio
import anyio.to_process
import httpx
import pytest
from litestar.testing import TestClient

from lexintel.formats import ExtractOptions
from lexintel.pipeline.extract import extract_pages
from lexintel.pipeline.ocring import startup_check
from lexintel.pipeline.workerdeath import WorkerNotes, worker_death
from lexintel.settings import Settings, SettingsError
from tests.batch_helpers import wait_batch
from tests.support import ServerProcess, corpus
from tests.support.pdfs import make_pdf, text_page, text_pdf
from tests.support.sse import read_stream
from tests.support.waiting import wait_json_status
from tests.test_ingest import new_case, upload
from tests.test_pdf_defects import image_pdf, mixed_pdf, scan_image

LEASE = ("The lessee shall pay the rent on the first day of each month.",
         "Either party may terminate this agreement with sixty days notice.")
SECOND = ("Exhibit B: the deposition of the harbour master.",)
TERMINAL = ("indexed", "needs_ocr", "failed")


def finished(client: TestClient, document_id: str, timeout: float = 120) -> dict[str, Any]:  # type: ignore[type-arg]
    return wait_json_status(client, f"/documents/{document_id}/status", TERMINAL, timeout)


def hits(client: TestClient, case_id: str, word: str) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    found = client.get("/search", params={"q": word, "case_id": case_id, "mode": "keyword"}).json()["hits"]
    return [(h["document_id"], h["page"]) for h in found]


def test_a_scanned_pdf_is_read_page_by_page_on_its_stream_and_searchable_by_page(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        case_id = http.post("/cases", json={"name": "Scans"}).json()["id"]
        scan = image_pdf(scan_image(*LEASE), scan_image(*SECOND))
        resp = http.post(f"/cases/{case_id}/documents", files={"files": ("scan.pdf", scan)})
        assert resp.status_code == 202, resp.text
        doc_id = resp.json()["document_ids"][0]
        events = [e.data for e in read_stream(f"{server.url}/progress/documents/{doc_id}/stream", timeout=180)
                  if isinstance(e.data, dict)]
        ocr = [e for e in events if e["stage"] == "ocr"]
        assert [e["message"] for e in ocr][:1] == ["Reading scanned page 1/2 of scan.pdf"]
        assert any(e["message"] == "Reading scanned page 2/2 of scan.pdf" for e in ocr), ocr
        assert all(e["items_total"] == 2 for e in ocr) and ocr[-1]["items_done"] == 2
        assert any(e["eta_seconds"] is not None for e in ocr[1:])  # paced by this document's own OCR
        progress = [e["progress"] for e in events]
        assert progress == sorted(progress) and events[-1]["status"] == "completed" and events[-1]["error"] is None

        status = http.get(f"/documents/{doc_id}/status").json()
        assert status["status"] == "indexed" and status["chunks"] >= 2, status
        pages = http.get(f"/documents/{doc_id}/text").json()["pages"]
        assert [p["page"] for p in pages] == [1, 2]
        assert "lessee shall pay the rent" in pages[0]["text"] and "harbour master" in pages[1]["text"]
        assert all(p["ocr_confidence"] is not None and 80 <= p["ocr_confidence"] <= 100 for p in pages), pages
        for word, page in (("sixty", 1), ("harbour", 2)):
            found = http.get("/search", params={"q": word, "case_id": case_id, "mode": "keyword"}).json()["hits"]
            assert [(h["document_id"], h["page"]) for h in found] == [(doc_id, page)], (word, found)


def test_a_mixed_pdf_reads_only_its_scanned_pages(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    doc_id = upload(client, case_id, ("decision.pdf", mixed_pdf()))["document_ids"][0]
    assert finished(client, doc_id)["status"] == "indexed"
    pages = {p["page"]: p for p in client.get(f"/documents/{doc_id}/text").json()["pages"]}
    assert [n for n, p in pages.items() if p["ocr_confidence"] is not None] == [2, 4]  # 1 has text, 3 is blank
    assert pages[1]["text"].startswith("Opinion of the court") and pages[3]["text"] == ""
    assert "ACME-000123" in pages[4]["text"] and "employer" in pages[4]["text"]  # OCR text, then the stamp
    assert hits(client, case_id, "affidavit") == [(doc_id, 2)]
    assert hits(client, case_id, "ACME-000123") == [(doc_id, 4)]
    assert hits(client, case_id, "dismiss") == [(doc_id, 1)]


def test_with_ocr_off_a_scan_needs_ocr_and_is_counted_so(make_client: Any) -> None:
    client: TestClient = make_client(ocr="off")  # type: ignore[type-arg]
    case_id = new_case(client)
    body = upload(client, case_id, ("scan.pdf", image_pdf(scan_image(*LEASE))),
                  ("decision.pdf", mixed_pdf()), ("notes.txt", b"Settlement notes for the lessee."))
    batch = wait_batch(client, body["batch_id"])
    assert batch["status"] == "completed"
    assert batch["counts"] | {"skipped": 0} == {"total": 3, "pending": 0, "processing": 0, "indexed": 1,
                                                "needs_ocr": 2, "failed": 0, "skipped": 0}
    scan_id, mixed_id, notes_id = body["document_ids"]
    off = "needs OCR: OCR is turned off (LEXINTEL_OCR=off)"
    for doc_id in (scan_id, mixed_id):
        status = client.get(f"/documents/{doc_id}/status").json()
        assert (status["status"], status["error_code"], status["error_message"]) == ("needs_ocr", "needs_ocr", off)
    mixed = client.get(f"/documents/{mixed_id}").json()
    assert mixed["message"].startswith(f"decision.pdf: {off} (2 of 4 pages are scans without text; ")
    assert mixed["message"].endswith(f" {mixed['chunks']} passages from the others are searchable)")
    assert hits(client, case_id, "dismiss") == [(mixed_id, 1)]  # the pages with text are searchable anyway
    listed = client.get(f"/cases/{case_id}/documents", params={"status": "needs_ocr"}).json()
    assert sorted(d["id"] for d in listed) == sorted([scan_id, mixed_id])
    assert client.get(f"/cases/{case_id}/documents", params={"status": "ready"}).status_code == 400
    assert client.get(f"/cases/{case_id}").json()["documents_by_status"] == {"indexed": 1, "needs_ocr": 2}
    assert client.get(f"/documents/{notes_id}/status").json()["status"] == "indexed"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["ocr"] is False
    assert ready.json()["ocr"] == {"mode": "off", "languages": "eng", "problem": off}
    metrics = client.get("/metrics").text
    assert 'lexintel_documents{status="needs_ocr"} 2.0' in metrics, metrics[:2000]


def test_without_tesseract_a_scan_needs_ocr_and_ready_says_why(
        make_client: Any, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", extraction_workers=2, document_timeout=60, progress_interval=0.0,
                        auth="off", shutdown_grace=0, tesseract="/nonexistent/tesseract")
    client: TestClient = make_client(settings)  # type: ignore[type-arg]
    case_id = new_case(client)
    doc_id = upload(client, case_id, ("scan.pdf", image_pdf(scan_image(*LEASE))))["document_ids"][0]
    status = finished(client, doc_id)
    assert (status["status"], status["error_message"]) == ("needs_ocr", "needs OCR: tesseract is not installed")
    assert status["stage"] == "completed" and status["error_code"] == "needs_ocr"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["ocr"]["problem"] == "needs OCR: tesseract is not installed"
    assert hits(client, case_id, "lessee") == []


def test_with_ocr_forced_a_missing_tesseract_makes_the_instance_unready(make_client: Any) -> None:
    client: TestClient = make_client(ocr="force", tesseract="/nonexistent/tesseract")  # type: ignore[type-arg]
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["ocr"] is False


def test_forced_ocr_reads_pages_that_have_a_text_layer_too(make_client: Any) -> None:
    client: TestClient = make_client(ocr="force")  # type: ignore[type-arg]
    case_id = new_case(client)
    doc_id = upload(client, case_id, ("typed.pdf", make_pdf([text_page(*LEASE)])))["document_ids"][0]
    assert finished(client, doc_id)["status"] == "indexed"
    [page] = client.get(f"/documents/{doc_id}/text").json()["pages"]
    assert page["ocr_confidence"] is not None and "sixty days" in page["text"]


def email_with(*attachments: tuple[str, bytes, str, str]) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"], message["To"] = "alice@example.com", "bob@example.com"
    message["Subject"] = "Lease papers"
    message.set_content("Dear Bob,\n\nThe signed lease and the ledger are attached.\n\nAlice")
    for name, data, maintype, subtype in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def test_an_email_with_two_attachments_makes_three_linked_documents(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    mail = email_with(("lease.pdf", text_pdf(2, "harbourlease"), "application", "pdf"),
                      ("ledger.txt", b"Ledger: the July rent is unpaid.\n", "text", "plain"))
    body = upload(client, case_id, ("papers.eml", mail), ("other.txt", b"An unrelated memo."))
    batch = wait_batch(client, body["batch_id"])
    assert batch["status"] == "completed" and batch["counts"]["total"] == 4 and batch["counts"]["indexed"] == 4
    email_id = body["document_ids"][0]
    documents = client.get(f"/cases/{case_id}/documents").json()
    children = {d["filename"]: d for d in documents if d["parent_id"] == email_id}
    assert sorted(children) == ["lease.pdf", "ledger.txt"] and len(documents) == 4
    assert all(d["batch_id"] == body["batch_id"] and d["status"] == "indexed" for d in children.values())
    assert children["lease.pdf"]["pages_total"] == 2 and children["lease.pdf"]["kind"] == "pdf"
    assert hits(client, case_id, "harbourlease")[0] == (children["lease.pdf"]["id"], 1)
    assert hits(client, case_id, "unpaid") == [(children["ledger.txt"]["id"], 1)]
    assert hits(client, case_id, "attached") == [(email_id, 1)]
    assert client.get(f"/documents/{email_id}").json()["parent_id"] is None


def test_an_email_over_the_attachment_cap_fails_with_a_reason(make_client: Any) -> None:
    client: TestClient = make_client(max_attachments=1)  # type: ignore[type-arg]
    case_id = new_case(client)
    mail = email_with(("a.txt", b"first", "text", "plain"), ("b.txt", b"second", "text", "plain"))
    doc_id = upload(client, case_id, ("two.eml", mail))["document_ids"][0]
    status = finished(client, doc_id)
    assert (status["status"], status["error_code"]) == ("failed", "too_many_attachments")
    assert status["error_message"] == ("The email has 2 attachments; LexIntel reads at most 1 per email "
                                       "(each becomes a document of its own).")
    assert [d["id"] for d in client.get(f"/cases/{case_id}/documents").json()] == [doc_id]


def test_an_email_with_a_thousand_attachments_fails_and_makes_no_document(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    mail = email_with(*[(f"part-{i}.txt", f"part {i}".encode(), "text", "plain") for i in range(1000)])
    doc_id = upload(client, case_id, ("flood.eml", mail))["document_ids"][0]
    status = finished(client, doc_id)
    assert (status["status"], status["error_code"]) == ("failed", "too_many_attachments")
    assert status["error_message"].startswith("The email has 1,000 attachments; LexIntel reads at most 100")
    assert len(client.get(f"/cases/{case_id}/documents").json()) == 1
    leftovers = list((client.app.state.services.settings.data_dir / "incoming").iterdir())
    assert leftovers == []  # nothing left behind in the incoming area


def test_a_worker_at_its_memory_cap_fails_the_document_as_too_large(make_client: Any) -> None:
    client: TestClient = make_client(worker_memory_mb=40, extraction_workers=1)  # type: ignore[type-arg]
    case_id = new_case(client)
    pdf = corpus("pdflatex-4-pages")
    doc_id = upload(client, case_id, (pdf.name, pdf.read_bytes()))["document_ids"][0]
    status = finished(client, doc_id)
    assert (status["status"], status["error_code"]) == ("failed", "too_large"), status
    assert status["error_message"] == ("Reading this PDF needed more memory than the 40 MB a worker may use "
                                       "(LEXINTEL_WORKER_MEMORY_MB).")


def test_a_dead_worker_is_judged_by_the_memory_it_was_using(tmp_path: Path) -> None:
    notes = WorkerNotes(str(tmp_path / "worker.log"))
    pdf = corpus("pdflatex-4-pages")

    async def run() -> None:
        await anyio.to_process.run_sync(extract_pages, str(pdf), "pdf", 0, 30.0, 0, ExtractOptions(), notes.path,
                                        cancellable=True)
        await anyio.sleep(0.3)  # the worker's sampler writes its address space every 50 ms

    anyio.run(run)
    _, used_kb = notes.read()
    assert used_kb > 10_000, used_kb  # a Python worker with pdfminer loaded: tens of MB at least
    near = int(used_kb / 1024 / 0.9)  # a cap the worker was within 10 % of
    code, detail = worker_death(notes, near, "extraction")
    assert code == "too_large" and f"the {near:,} MB a worker may use" in detail
    assert worker_death(notes, near * 10, "extraction")[0] == "worker_crashed"
    assert worker_death(notes, 0, "OCR") == (
        "worker_crashed", "The OCR worker process crashed on this file; other documents are unaffected.")
    Path(notes.path).write_text("Fatal Python error: Cannot allocate memory\n")
    assert worker_death(notes, near * 10, "extraction")[0] == "too_large"
    notes.remove()
    assert not Path(notes.path).exists() and not Path(notes.path + ".mem").exists()


def test_ocr_settings_are_checked_by_name_and_against_the_installed_languages(tmp_path: Path) -> None:
    for env, says in [({"LEXINTEL_OCR": "sometimes"}, "LEXINTEL_OCR: must be 'auto', 'off' or 'force'"),
                      ({"LEXINTEL_OCR_LANGUAGES": "eng;rm"}, "LEXINTEL_OCR_LANGUAGES: must be Tesseract"),
                      ({"LEXINTEL_OCR_DPI": "20"}, "LEXINTEL_OCR_DPI: must be 70-600"),
                      ({"LEXINTEL_OCR_PAGE_TIMEOUT": "0"}, "LEXINTEL_OCR_PAGE_TIMEOUT: must be positive")]:
        with pytest.raises(SettingsError, match=says):
            Settings.from_env(env)
    settings = Settings.from_env({"LEXINTEL_OCR": "FORCE", "LEXINTEL_OCR_LANGUAGES": "eng",
                                  "LEXINTEL_MAX_ATTACHMENTS": "7", "LEXINTEL_TESSERACT": "tesseract"})
    assert (settings.ocr, settings.max_attachments) == ("force", 7)
    assert startup_check(settings) == (None, None)  # Tesseract with English is installed here
    fatal, _ = startup_check(Settings(data_dir=tmp_path, ocr_languages="zzz"))
    assert fatal == ("LEXINTEL_OCR_LANGUAGES='zzz' / LEXINTEL_OCR=auto: needs OCR: Tesseract has no language data "
                     "for zzz (install tesseract-ocr-zzz)")
    missing = Settings(data_dir=tmp_path, tesseract="/nonexistent/tesseract")
    fatal, warning = startup_check(missing)
    assert fatal is None and warning is not None and warning.startswith("needs OCR: tesseract is not installed")
    assert startup_check(Settings(data_dir=tmp_path, tesseract="/nonexistent/tesseract", ocr="force"))[0]
    assert startup_check(Settings(data_dir=tmp_path, tesseract="/nonexistent/tesseract", ocr="off")) == (None, None)
