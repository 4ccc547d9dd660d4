"""What the page's table, viewer and uploads need from the API (issue 17), against a real app and database:
paged/sorted/filtered document lists, a case's batches, page pictures and downloads, duplicate uploads, and the
case stream's ``deleted`` notice."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import httpx
from litestar.testing import TestClient
from PIL import Image

from tests.support import ServerProcess, read_stream, wait_for
from tests.support.pdfs import make_pdf, text_page

Client = TestClient | httpx.Client  # type: ignore[type-arg]


def _case(client: Client, name: str = "Smith v Jones") -> str:
    resp = client.post("/cases", json={"name": name})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _upload(client: Client, case_id: str, files: list[tuple[str, bytes]], query: str = "") -> dict[str, Any]:
    resp = client.post(f"/cases/{case_id}/documents{query}",
                       files=[("files", (name, data, "application/octet-stream")) for name, data in files])
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _settled(client: Client, case_id: str, n: int) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        docs: list[dict[str, Any]] = client.get(f"/cases/{case_id}/documents").json()
        return docs if len(docs) == n and all(d["status"] in ("indexed", "failed") for d in docs) else None
    return wait_for(done, 60, "documents to finish")


def test_documents_page_sort_filter_and_total(client: Client) -> None:
    case_id = _case(client)
    files = [(f"note-{i:02d}.txt", ("word " * (i + 1)).encode()) for i in range(12)]
    _upload(client, case_id, files[:6])
    _upload(client, case_id, files[6:])
    _upload(client, case_id, [("empty.txt", b""), ("also-empty.txt", b"")])  # two refused files: failed rows
    _settled(client, case_id, 14)

    everything = client.get(f"/cases/{case_id}/documents")
    assert everything.headers["x-total-count"] == "14" and len(everything.json()) == 14  # unchanged default

    page = client.get(f"/cases/{case_id}/documents?limit=5&offset=5&sort=filename&order=desc")
    assert page.status_code == 200 and page.headers["x-total-count"] == "14"
    names = [d["filename"] for d in page.json()]
    all_names = sorted((d["filename"] for d in everything.json()), key=str.lower, reverse=True)
    assert names == all_names[5:10]

    failed = client.get(f"/cases/{case_id}/documents?limit=50&status=failed").json()
    assert {d["filename"] for d in failed} == {"empty.txt", "also-empty.txt"}
    both = client.get(f"/cases/{case_id}/documents?limit=50&status=failed,indexed")
    assert both.headers["x-total-count"] == "14"
    named = client.get(f"/cases/{case_id}/documents?limit=50&name=NOTE-1")
    assert sorted(d["filename"] for d in named.json()) == ["note-10.txt", "note-11.txt"]
    assert client.get(f"/cases/{case_id}/documents?limit=50&name=%25").headers["x-total-count"] == "0"  # literal %
    assert client.get(f"/cases/{case_id}/documents?limit=50&kind=pdf").headers["x-total-count"] == "0"
    assert client.get(f"/cases/{case_id}/documents?limit=50&min_pages=1").headers["x-total-count"] == "12"
    assert client.get(f"/cases/{case_id}/documents?limit=50&since=2999-01-01").headers["x-total-count"] == "0"
    assert client.get(f"/cases/{case_id}/documents?limit=50&until=2999-01-01").headers["x-total-count"] == "14"

    for bad, code in (("sort=size;drop", "bad_sort"), ("order=up", "bad_order"), ("status=lost", "bad_status"),
                      ("since=yesterday", "bad_date")):
        resp = client.get(f"/cases/{case_id}/documents?{bad}")
        assert resp.status_code == 400 and resp.json()["code"] == code, resp.text
    assert client.get(f"/cases/{case_id}/documents?limit=0").status_code == 400

    batches = client.get(f"/cases/{case_id}/batches").json()
    assert len(batches) == 3 and all(b["status"] == "completed" for b in batches)
    assert batches[0]["counts"]["failed"] == 2  # newest first, with its outcome
    assert client.get("/cases/nope/batches").status_code == 404


def test_page_image_download_and_deleted_notice(server: ServerProcess) -> None:
    client = httpx.Client(base_url=server.url, timeout=60)
    case_id = _case(client)
    pdf = make_pdf([text_page("first page words"), text_page("second page words")])
    body = _upload(client, case_id, [("deposition.pdf", pdf), ("plain.txt", b"some plain text")])
    pdf_id, text_id = body["document_ids"]
    _settled(client, case_id, 2)

    image = client.get(f"/documents/{pdf_id}/pages/2/image?width=700")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    picture = Image.open(io.BytesIO(image.content))
    assert picture.width == 800  # snapped up to the next cached size
    again = client.get(f"/documents/{pdf_id}/pages/2/image?width=800")
    assert again.content == image.content  # from the cache
    missing = client.get(f"/documents/{pdf_id}/pages/3/image")
    assert missing.status_code == 404 and "has 2 pages" in missing.json()["detail"]
    not_pdf = client.get(f"/documents/{text_id}/pages/1/image")
    assert not_pdf.status_code == 404 and not_pdf.json()["code"] == "no_page_image"

    download = client.get(f"/documents/{pdf_id}/file")
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-disposition"].startswith("attachment")
    assert "deposition.pdf" in download.headers["content-disposition"]
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]

    last = client.get(f"/cases/{case_id}").json()["last_event_id"]
    assert client.delete(f"/documents/{pdf_id}").status_code == 204
    events = read_stream(f"{server.url}/cases/{case_id}/stream?last_event_id={last}", until=lambda e: True)
    assert events[0].event == "deleted" and isinstance(events[0].data, dict)
    assert events[0].data["document_id"] == pdf_id and events[0].data["message"] == "Deleted deposition.pdf"
    assert client.get(f"/documents/{pdf_id}/file").status_code == 404
    assert not any((server.data_dir / "previews").rglob("*.png"))  # its pictures went with it


def test_duplicates_are_flagged_and_skipped_unless_allowed(client: Client) -> None:
    case_id = _case(client)
    data = b"the same bytes twice"
    first = _upload(client, case_id, [("original.txt", data)])
    original = first["document_ids"][0]
    assert first["duplicates"] == []

    again = _upload(client, case_id, [("copy.txt", data)])
    assert again["document_ids"] == [] and len(again["duplicates"]) == 1
    dupe = again["duplicates"][0]
    assert dupe["document_id"] == original and dupe["existing_filename"] == "original.txt"
    assert dupe["sha256"] == hashlib.sha256(data).hexdigest() and "already in this case" in dupe["message"]

    mixed = _upload(client, case_id, [("copy2.txt", data), ("new.txt", b"new words"), ("new-again.txt", b"new words")])
    assert len(mixed["document_ids"]) == 1 and mixed["batch_id"]
    assert [d["filename"] for d in mixed["duplicates"]] == ["copy2.txt", "new-again.txt"]
    assert mixed["duplicates"][1]["document_id"] == mixed["document_ids"][0]  # the copy earlier in this upload
    batch = wait_for(lambda: (b := client.get(f"/batches/{mixed['batch_id']}").json())["status"] != "processing"
                     and b, 60, "the batch")
    assert batch["counts"]["skipped"] == 2 and {e["code"] for e in batch["log"]} == {"duplicate"}

    allowed = _upload(client, case_id, [("copy3.txt", data)], "?duplicates=allow")
    assert len(allowed["document_ids"]) == 1 and allowed["duplicates"] == []
    bad = client.post(f"/cases/{case_id}/documents?duplicates=maybe", files=[("files", ("x.txt", b"x"))])
    assert bad.status_code == 400

    # in a ZIP, a copy is a skipped entry and the rest goes through
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("inside/copy-in-zip.txt", data)
        z.writestr("inside/fresh.txt", b"fresh words in the archive")
    zipped = _upload(client, case_id, [("bundle.zip", archive.getvalue())])
    zbatch = wait_for(lambda: (b := client.get(f"/batches/{zipped['batch_id']}").json())["status"] != "processing"
                      and b, 60, "the ZIP batch")
    assert zbatch["counts"]["total"] == 1 and zbatch["counts"]["skipped"] == 1
    assert "already in this case as original.txt" in zbatch["log"][0]["message"]

    # a chunked upload of the same bytes ends its batch naming the document it duplicates
    session = client.post(f"/cases/{case_id}/uploads", json={"filename": "big-copy.txt",
                                                              "total_size": len(data)}).json()
    assert client.put(f"/uploads/{session['upload_id']}/chunks/0", content=data).status_code == 200
    done = client.post(f"/uploads/{session['upload_id']}/complete")
    assert done.status_code == 202 and done.json()["duplicates"][0]["document_id"] == original
    assert client.get(f"/batches/{session['batch_id']}").json()["error_code"] == "duplicate"
