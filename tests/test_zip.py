"""ZIP uploads: a real archive becomes a batch; hostile archives are refused or their entries skipped."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.batch_helpers import assert_batch_event_contract, batch_events, make_zip, new_case, wait_batch
from tests.support import corpus, corpus_pages

PDFS = ["minimal-document", "pdflatex-4-pages", "multicolumn", "crazyones-pdfa"]
CORRUPT_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> this is not really a PDF\n%%EOF\n"


def upload_zip(client: TestClient, case_id: str, data: bytes, name: str = "production.zip") -> dict[str, Any]:  # type: ignore[type-arg]
    resp = client.post(f"/cases/{case_id}/documents", files=[("files", (name, data, "application/zip"))])
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    assert body["batch_id"] and body["stage"] == "unpacking"
    return body


def test_zip_of_real_pdfs_plus_bad_files_completes_with_counts(client: TestClient, settings: Any) -> None:  # type: ignore[type-arg]
    pdfs = [corpus(n) for n in PDFS]
    entries = [(f"production/{p.name}", p.read_bytes()) for p in pdfs]
    entries += [
        ("production/notes.txt", b"Privileged and confidential: settlement notes.\n"),
        ("production/broken.pdf", CORRUPT_PDF),  # a PDF by content that pdfminer cannot read -> failed document
        ("production/", b""),  # directory -> skipped
        ("production/scan.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),  # unsupported -> skipped
        ("production/inner.zip", make_zip([("x.txt", b"hello")])),  # nested archive -> skipped
        (f"production/{pdfs[0].name}", b"duplicate name, second copy"),  # duplicate -> skipped
    ]
    case_id = new_case(client)
    batch_id = upload_zip(client, case_id, make_zip(entries))["batch_id"]

    batch = wait_batch(client, batch_id)
    assert batch["status"] == "completed" and batch["stage"] == "completed" and batch["progress"] == 100
    assert batch["kind"] == "zip" and batch["filename"] == "production.zip"
    assert batch["counts"] == {"total": 6, "pending": 0, "processing": 0, "indexed": 5, "failed": 1,
                               "skipped": 4, "needs_ocr": 0}
    assert sorted(entry["code"] for entry in batch["log"]) == sorted(
        ["directory", "unsupported_type", "nested_archive", "duplicate_name"])
    assert all(entry["message"].startswith("Skipped production/") for entry in batch["log"])

    progress = client.get(f"/batches/{batch_id}/progress").json()
    by_name = {d["filename"]: d for d in progress["documents"]}
    assert by_name["broken.pdf"]["status"] == "failed" and by_name["broken.pdf"]["error_message"]
    truth = corpus_pages()
    for pdf in pdfs:
        assert by_name[pdf.name]["status"] == "indexed"
        assert by_name[pdf.name]["pages_total"] == truth[pdf.name]
    assert progress["last_event_id"] > 0 and progress["eta_seconds"] == 0

    events = batch_events(client, batch_id)
    assert_batch_event_contract(events)
    stages = [e["stage"] for e in (ev.data for ev in events) if isinstance(e, dict) and e["document_id"] is None]
    assert stages[0] == "uploading" and "unpacking" in stages and stages[-1] == "completed"
    skips = [ev.data for ev in events if isinstance(ev.data, dict) and ev.data["error"] and ev.event == "progress"
             and ev.data["document_id"] is None]
    assert len(skips) == 4 and all(s["status"] == "processing" for s in skips)
    # the extracted copies went to storage and the archive itself is gone
    assert not list((Path(settings.data_dir) / "incoming").iterdir())


def _refused(client: TestClient, data: bytes) -> dict[str, Any]:  # type: ignore[type-arg]
    case_id = new_case(client)
    batch_id = upload_zip(client, case_id, data)["batch_id"]
    batch = wait_batch(client, batch_id, timeout=60)
    assert batch["status"] == "failed" and batch["stage"] == "failed", batch
    assert batch["counts"]["total"] == 0
    events = batch_events(client, batch_id)
    assert events[-1].event == "error"
    last = events[-1].data
    assert isinstance(last, dict) and last["error"]["code"] == batch["error_code"]
    assert_batch_event_contract(events)
    return batch


def _with_null_name() -> bytes:
    data = make_zip([("evilXname.pdf", corpus("minimal-document").read_bytes())])
    return data.replace(b"evilXname.pdf", b"evil\x00name.pdf")


def _lying_size() -> bytes:
    """An entry whose central directory claims 100 bytes for 10 KB of text."""
    data = bytearray(make_zip([("big.txt", b"lorem ipsum " * 900), ("ok.txt", b"fine")]))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)
    return bytes(data)


HOSTILE: list[tuple[str, Callable[[], bytes], dict[str, Any], str]] = [
    ("too_many_entries", lambda: make_zip([(f"f{i}.txt", b"text") for i in range(4)]), {"zip_max_entries": 3},
     "zip_too_many_entries"),
    ("too_large", lambda: make_zip([("a.txt", b"a" * 3000), ("b.txt", b"b" * 3000)], zipfile.ZIP_STORED),
     {"zip_max_total_bytes": 5000}, "zip_too_large"),
    ("ratio_bomb", lambda: make_zip([("zeros.txt", b"\0" * (2 * 1024 * 1024))]), {}, "zip_ratio_exceeded"),
    ("dot_dot", lambda: make_zip([("docs/../../etc/evil.pdf", b"%PDF-1.4")]), {}, "zip_unsafe_name"),
    ("absolute", lambda: make_zip([("/etc/evil.pdf", b"%PDF-1.4")]), {}, "zip_unsafe_name"),
    ("drive_letter", lambda: make_zip([("C:\\Windows\\evil.pdf", b"%PDF-1.4")]), {}, "zip_unsafe_name"),
    ("nul_byte", _with_null_name, {}, "zip_unsafe_name"),
    ("not_a_zip", lambda: b"PK\x03\x04" + b"\x00garbage" * 100, {}, "bad_archive"),
    ("only_skipped", lambda: make_zip([("dir/", b""), ("blob.bin", bytes(range(256)) * 4)]), {}, "no_documents"),
]


@pytest.mark.parametrize(("case", "build", "limits", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_archive_is_refused_with_a_clear_error(
    make_client: Callable[..., TestClient], case: str, build: Callable[[], bytes], limits: dict[str, Any],  # type: ignore[type-arg]
    code: str,
) -> None:
    client = make_client(**limits)
    batch = _refused(client, build())
    assert batch["error_code"] == code, batch
    assert batch["error_message"]
    if code != "no_documents":
        assert [e["level"] for e in batch["log"]] == ["refused"]
    data_dir = Path(client.app.state.services.settings.data_dir)
    assert not list((data_dir / "incoming").iterdir()), "partial extraction left behind"
    assert not any(p.is_file() for p in (data_dir / "files").rglob("*"))


def test_small_compressible_entry_within_grace_and_lying_size_entry(client: TestClient) -> None:  # type: ignore[type-arg]
    # 60 KB of one repeated sentence compresses ~500:1 but is under the 100 KB grace: accepted.
    text = b"The lessee shall indemnify the lessor. " * 1500
    case_id = new_case(client)
    batch_id = upload_zip(client, case_id, make_zip([("repetitive.txt", text)]))["batch_id"]
    batch = wait_batch(client, batch_id)
    assert batch["status"] == "completed" and batch["counts"]["indexed"] == 1

    # an entry that inflates past its declared size is never trusted: it is skipped as corrupt
    batch_id = upload_zip(client, case_id, _lying_size())["batch_id"]
    batch = wait_batch(client, batch_id)
    assert batch["status"] == "completed" and batch["counts"]["indexed"] == 1
    assert [(e["code"], e["name"]) for e in batch["log"]] == [("corrupt_entry", "big.txt")]


def test_zip_inside_a_multi_file_upload_is_a_failed_document(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    pdf = corpus("minimal-document")
    resp = client.post(f"/cases/{case_id}/documents", files=[
        ("files", (pdf.name, pdf.read_bytes())), ("files", ("bundle.zip", make_zip([("a.txt", b"hi")])))])
    assert resp.status_code == 202, resp.text
    batch = wait_batch(client, resp.json()["batch_id"])
    assert batch["counts"]["indexed"] == 1 and batch["counts"]["failed"] == 1
