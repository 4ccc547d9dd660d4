"""The core path over HTTP: create a case, upload real PDFs and text, wait for indexed, read text, search."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.support import corpus, corpus_pages
from tests.support.waiting import wait_json_status


def new_case(client: TestClient, name: str = "Smith v Jones") -> str:  # type: ignore[type-arg]
    resp = client.post("/cases", json={"name": name})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def wait_terminal(client: TestClient, document_id: str, timeout: float = 60) -> dict[str, Any]:  # type: ignore[type-arg]
    return wait_json_status(client, f"/documents/{document_id}/status", ("indexed", "failed"), timeout)


def upload(client: TestClient, case_id: str, *files: tuple[str, bytes]) -> dict[str, Any]:  # type: ignore[type-arg]
    resp = client.post(f"/cases/{case_id}/documents", files=[("files", (name, data)) for name, data in files])
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_pdf_upload_to_indexed_with_page_counts_text_and_search(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    pdf = corpus("pdflatex-4-pages")
    body = upload(client, case_id, (pdf.name, pdf.read_bytes()))
    assert body["batch_id"] is None and len(body["document_ids"]) == 1
    doc = body["documents"][0]
    assert doc["status"] == "pending" and doc["kind"] == "pdf"
    import hashlib

    assert doc["sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()

    status = wait_terminal(client, doc["id"])
    assert status["status"] == "indexed", status
    assert status["stage"] == "completed" and status["progress"] == 100
    assert status["pages_total"] == corpus_pages()[pdf.name] == 4
    assert status["pages_done"] == 4 and status["chunks"] > 0 and status["error_message"] is None
    # the compatibility path reads the same row
    assert client.get(f"/progress/documents/{doc['id']}/status").json()["status"] == "indexed"

    text = client.get(f"/documents/{doc['id']}/text").json()
    assert [p["page"] for p in text["pages"]] == [1, 2, 3, 4]
    assert "Hello, here is some text" in text["pages"][0]["text"]

    # the multi-column paper has its table on page 3 only: the hit must cite page 3
    paper = corpus("multicolumn")
    paper_id = upload(client, case_id, (paper.name, paper.read_bytes()))["document_ids"][0]
    assert wait_terminal(client, paper_id)["status"] == "indexed"
    pages = {p["page"]: p["text"] for p in client.get(f"/documents/{paper_id}/text").json()["pages"]}
    assert "Population" in pages[3] and all("Population" not in pages[n] for n in (1, 2))
    hits = client.get("/search", params={"q": "population", "case_id": case_id, "mode": "keyword"}).json()["hits"]
    assert [(h["document_id"], h["page"]) for h in hits] == [(paper_id, 3)]
    assert "population" in hits[0]["snippet"].lower() and "<mark>" in hits[0]["snippet_html"]
    # the PDF sets "Official" with an ffi ligature glyph: text is NFKC-normalised, so the plain word finds it
    assert "Official" in pages[3] and "\ufb03" not in pages[3]
    hits = client.get("/search", params={"q": "official", "case_id": case_id, "mode": "keyword"}).json()["hits"]
    assert [(h["document_id"], h["page"]) for h in hits] == [(paper_id, 3)]
    assert hits[0]["score"] > 0


def test_several_corpus_pdfs_match_ground_truth_page_counts(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    truth = corpus_pages()
    names = ["minimal-document", "pdflatex-outline", "google-doc-document", "multicolumn", "crazyones-pdfa"]
    files = [(p.name, p.read_bytes()) for p in map(corpus, names)]
    body = upload(client, case_id, *files)
    for doc in body["documents"]:
        status = wait_terminal(client, doc["id"])
        assert status["status"] == "indexed", status
        assert status["pages_total"] == truth[doc["filename"]], doc["filename"]


def test_plain_text_upload_pages_split_on_form_feed_and_latin1(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    utf8 = "Indemnification clause: the lessee shall hold harmless.\fSecond page mentions arbitration in Zürich."
    latin1 = "Déclaration sous serment, signée à Genève.".encode("latin-1")
    body = upload(client, case_id, ("notes.txt", utf8.encode()), ("old.txt", latin1))
    first, second = body["documents"]
    s1, s2 = wait_terminal(client, first["id"]), wait_terminal(client, second["id"])
    assert s1["status"] == "indexed" and s1["pages_total"] == 2
    assert s2["status"] == "indexed", s2
    pages = client.get(f"/documents/{first['id']}/text").json()["pages"]
    assert pages[1]["text"].startswith("Second page")
    hits = client.get("/search", params={"q": "arbitration", "case_id": case_id, "mode": "keyword"}).json()["hits"]
    assert [(h["document_id"], h["page"]) for h in hits] == [(first["id"], 2)]
    geneva = client.get("/search", params={"q": "Genève", "case_id": case_id, "mode": "keyword"}).json()
    assert geneva["hits"][0]["page"] == 1


def test_search_query_syntax_is_never_an_error(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    for q in ['"unbalanced', "AND OR NOT", "col:umn*", "((( lease", "NEAR(a b)"]:
        resp = client.get("/search", params={"q": q, "case_id": case_id, "mode": "keyword"})
        assert resp.status_code == 200, (q, resp.text)
    resp = client.get("/search", params={"q": "  ?! ", "case_id": case_id})
    assert resp.status_code == 400 and resp.json()["code"] == "empty_query"


def test_compat_upload_alias_with_case_id_field(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    pdf = corpus("minimal-document")
    resp = client.post("/documents/upload", data={"case_id": case_id}, files={"file": (pdf.name, pdf.read_bytes())})
    assert resp.status_code == 202, resp.text
    assert wait_terminal(client, resp.json()["document_ids"][0])["status"] == "indexed"
    missing = client.post("/documents/upload", files={"file": (pdf.name, pdf.read_bytes())})
    assert missing.status_code == 400 and missing.json()["code"] == "missing_case_id"


def test_unknown_ids_are_404_json(client: TestClient) -> None:  # type: ignore[type-arg]
    for path in ["/cases/nope", "/documents/nope", "/documents/nope/status", "/documents/nope/text",
                 "/progress/documents/nope/status", "/batches/nope", "/cases/nope/stream",
                 "/progress/documents/nope/stream"]:
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert "detail" in resp.json()
    pdf = corpus("minimal-document")
    resp = client.post("/cases/nope/documents", files={"files": (pdf.name, pdf.read_bytes())})
    assert resp.status_code == 404 and resp.json()["code"] == "case_not_found"
