"""The format registry: detection from real bytes, refusals that name the type, extraction through the pool.

Every file here is built for real (zipfile for Office and OpenDocument packages, the corpus for PDFs), and
extraction runs in anyio's real process pool, as the pipeline runs it.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_process
import pytest
from litestar.testing import TestClient

from lexintel import formats
from lexintel.formats.pdf import PDF
from lexintel.formats.zipdir import member_names
from lexintel.pipeline.extract import extract_step
from tests.batch_helpers import make_zip, wait_batch
from tests.helpers import corpus, corpus_pages
from tests.support.pdfs import assemble, make_pdf, text_page
from tests.test_failures import encrypted_pdf
from tests.test_formats_documents import email_message, html_page, image_bytes, word_document
from tests.test_ingest import new_case, upload, wait_terminal

# A Python exception name in a sentence meant for people ("AttributeError: ...", "PDFSyntaxError").
PYTHON_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Incorrect|NotFound)\b|\bobjid\b|Traceback")

_CT = "application/vnd.openxmlformats-officedocument."
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="{main}"/></Relationships>')
_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/{main}" ContentType="{ctype}"/></Types>')
_WORD_BODY = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
              '<w:p><w:r><w:t>The lessee shall pay the rent on the first of each month.</w:t></w:r></w:p>'
              '</w:body></w:document>')
_OOXML = {
    "docx": ("word/document.xml", _CT + "wordprocessingml.document.main+xml", _WORD_BODY),
    "xlsx": ("xl/workbook.xml", _CT + "spreadsheetml.sheet.main+xml",
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets/></workbook>'),
    "pptx": ("ppt/presentation.xml", _CT + "presentationml.presentation.main+xml",
             '<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>'),
}


def ooxml(kind: str, *, types_first: bool = True) -> bytes:
    """A minimal valid Office Open XML package (what Word, Excel or PowerPoint would open)."""
    main, ctype, body = _OOXML[kind]
    parts = [("[Content_Types].xml", _TYPES.format(main=main, ctype=ctype)),
             ("_rels/.rels", _RELS.format(main=main)), (main, body)]
    if not types_first:  # the package format does not fix the order: detection must not depend on it
        parts.reverse()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            zf.writestr(name, data)
    return buf.getvalue()


def odf(subtype: str) -> bytes:
    """A minimal OpenDocument package: ``mimetype`` first and stored, as the standard requires."""
    media = f"application/vnd.oasis.opendocument.{subtype}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), media, compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:'
                                   'xmlns:office:1.0" office:version="1.3"><office:body/></office:document-content>',
                    compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("META-INF/manifest.xml",
                    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{media}"/>'
                    "</manifest:manifest>", compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def stored_zip_holding_a_pdf() -> bytes:
    return make_zip([("a.pdf", corpus("minimal-document").read_bytes())], zipfile.ZIP_STORED)


def broken_page_tree_pdf() -> bytes:
    """A page tree whose kid is a dictionary, not a reference: pdfminer fails on it with an AttributeError
    ("'dict' object has no attribute 'objid'"), the raw message issue 15 saw reach users."""
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [<< /Type /Page >>] /Count 1 >>"])


SAMPLES: dict[str, Callable[[], bytes]] = {
    "pdf": lambda: corpus("minimal-document").read_bytes(),
    "text": lambda: "Schriftsatz über Räumung\f2. Seite\n".encode(),
    "zip": stored_zip_holding_a_pdf,
    "docx": lambda: ooxml("docx"),
    "html": html_page,
    "eml": lambda: email_message(1),
    "png": lambda: image_bytes("PNG"),
    "jpeg": lambda: image_bytes("JPEG"),
    "tiff": lambda: image_bytes("TIFF", frames=2),
    "xlsx": lambda: ooxml("xlsx"),
    "pptx": lambda: ooxml("pptx"),
    "odt": lambda: odf("text"),
    "ods": lambda: odf("spreadsheet"),
    "odp": lambda: odf("presentation"),
}


def detect_file(tmp_path: Path, data: bytes, name: str = "upload") -> str | None:
    path = tmp_path / name
    path.write_bytes(data)
    found = formats.detect(data[:8192], path)
    return found.kind if found else None


# detection


def test_every_registered_format_is_detected_from_a_real_file(tmp_path: Path) -> None:
    assert sorted(SAMPLES) == sorted(f.kind for f in formats.FORMATS), "add a real sample for each new format"
    for kind, build in SAMPLES.items():
        assert detect_file(tmp_path, build(), kind) == kind, kind
        assert formats.by_kind(kind) is not None


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("junk before %PDF-", b"\x00\x01junk\r\n" + corpus("minimal-document").read_bytes(), "pdf"),
    ("stored zip holding a PDF", stored_zip_holding_a_pdf(), "zip"),
    ("docx whose first entry is not [Content_Types].xml", ooxml("docx", types_first=False), "docx"),
    ("a ZIP of XML files that is no Office package", make_zip([("word/document.xml", b"<x/>")]), "zip"),
    ("a PDF with a ZIP appended", make_pdf([text_page("poly")]) + ooxml("docx"), "pdf"),
    ("a GIF with a ZIP appended", b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + ooxml("docx"), None),
    ("PNG signature without its IHDR chunk", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, None),
    ("a Word document written by python-docx", word_document(), "docx"),
])
def test_detection_edge_cases(tmp_path: Path, name: str, data: bytes, kind: str | None) -> None:
    assert detect_file(tmp_path, data) == kind, name


def test_without_the_file_a_word_document_is_only_a_zip() -> None:
    found = formats.detect(ooxml("docx")[:8192])  # the names are in the central directory, at the end
    assert found is not None and found.kind == "zip"


def test_central_directory_reader_matches_zipfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"dir/entry-{i}.txt" for i in range(50)] + ["ünïcödé.txt"]
    plain = make_zip([(n, b"x" * 10) for n in names])
    path = tmp_path / "plain.zip"
    path.write_bytes(plain)
    assert member_names(path) == frozenset(zipfile.ZipFile(path).namelist()) == frozenset(names)

    # a stub before the archive (self-extractors) and a long comment after it
    buf = io.BytesIO(plain)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.comment = b"c" * 60_000
    shifted = tmp_path / "shifted.zip"
    shifted.write_bytes(b"MZ stub " * 500 + buf.getvalue())
    assert member_names(shifted) == frozenset(names)

    # ZIP64 end records (written for > 65,535 entries; the writer's threshold lowered to get them small)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
    zip64 = tmp_path / "zip64.zip"
    with zipfile.ZipFile(zip64, "w") as zf:
        for n in names[:5]:
            zf.writestr(n, b"y")
    assert b"PK\x06\x06" in zip64.read_bytes()
    assert member_names(zip64) == frozenset(names[:5])

    # within a byte budget: some names, never an error; garbage: no names
    assert 0 < len(member_names(path, budget=500)) < len(names)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04" + b"\xff" * 100 + b"PK\x05\x06" + b"\xff" * 18)
    assert member_names(junk) == frozenset()


# refusals


def test_refusal_sentences_name_the_type() -> None:
    excel, zip_format = formats.by_kind("xlsx"), formats.by_kind("zip")
    assert formats.refusal("damages.xlsx", 10, excel) == (
        "unsupported_type",
        "damages.xlsx is an Excel workbook; LexIntel cannot read Excel files yet "
        "(save it as a PDF and upload the PDF instead).")
    assert formats.refusal("bundle.zip", 10, zip_format) == (
        "unsupported_type", "bundle.zip is a ZIP archive; upload it on its own to unpack it.")
    assert formats.refusal("blob.bin", 10, None) == (
        "unsupported_type", "blob.bin is not a PDF or plain-text file, Word document, image, HTML page or email "
                            "(judged by its content, not its name).")
    assert formats.refusal("empty.pdf", 0, PDF) == ("empty_file", "empty.pdf is empty.")
    for kind in ("pdf", "text", "docx", "html", "eml", "png", "jpeg", "tiff"):
        assert formats.refusal(f"a.{kind}", 10, formats.by_kind(kind)) is None, kind


@pytest.mark.parametrize(("kind", "name", "says"), [
    ("xlsx", "damages.xlsx", "damages.xlsx is an Excel workbook; LexIntel cannot read Excel files yet"),
    ("pptx", "deck.pptx", "deck.pptx is a PowerPoint presentation; LexIntel cannot read PowerPoint files yet"),
    ("odt", "brief.odt", "brief.odt is an OpenDocument text document; LexIntel cannot read OpenDocument files"),
])
def test_a_lone_office_file_is_refused_with_415_naming_the_type(
    client: TestClient, kind: str, name: str, says: str,  # type: ignore[type-arg]
) -> None:
    case_id = new_case(client)
    resp = client.post(f"/cases/{case_id}/documents", files={"files": (name, SAMPLES[kind](), "application/zip")})
    assert resp.status_code == 415, resp.text
    body = resp.json()
    assert body["status_code"] == 415 and body["code"] == "unsupported_type"
    assert body["detail"].startswith(says), body["detail"]
    assert client.get(f"/cases/{case_id}/documents").json() == []  # not unpacked, nothing kept
    assert list((Path(client.app.state.services.settings.data_dir) / "incoming").iterdir()) == []


def test_an_excel_file_among_several_is_a_failed_document_and_a_word_file_is_read(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    case_id = new_case(client)
    pdf = corpus("minimal-document")
    body = upload(client, case_id, ("damages.xlsx", ooxml("xlsx")), ("report.docx", ooxml("docx")),
                  (pdf.name, pdf.read_bytes()))
    by_name = {d["filename"]: d for d in body["documents"]}
    assert set(by_name) == {"damages.xlsx", "report.docx", pdf.name}
    excel = by_name["damages.xlsx"]
    assert excel["status"] == "failed" and excel["kind"] == "xlsx" and excel["error_code"] == "unsupported_type"
    assert "is an Excel workbook; LexIntel cannot read Excel files yet" in excel["error_message"]
    assert wait_terminal(client, by_name[pdf.name]["id"])["status"] == "indexed"
    word = wait_terminal(client, by_name["report.docx"]["id"])
    assert word["status"] == "indexed"
    pages = client.get(f"/documents/{by_name['report.docx']['id']}/text").json()["pages"]
    assert [p["text"] for p in pages] == ["The lessee shall pay the rent on the first of each month."]


def test_a_zip_holding_office_files_skips_the_unreadable_and_never_unpacks_their_xml(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    case_id = new_case(client)
    archive = make_zip([("production/damages.xlsx", ooxml("xlsx")), ("production/notes.txt", b"Settlement notes."),
                        ("production/sheet.ods", odf("spreadsheet"))])
    resp = client.post(f"/cases/{case_id}/documents", files={"files": ("production.zip", archive)})
    assert resp.status_code == 202, resp.text
    batch = wait_batch(client, resp.json()["batch_id"])
    assert batch["status"] == "completed"
    assert batch["counts"]["total"] == 1 and batch["counts"]["indexed"] == 1 and batch["counts"]["skipped"] == 2
    log = {e["name"]: e for e in batch["log"]}
    assert set(log) == {"production/damages.xlsx", "production/sheet.ods"}
    assert all(e["code"] == "unsupported_type" and e["level"] == "skipped" for e in log.values())
    assert log["production/damages.xlsx"]["message"] == (
        "Skipped production/damages.xlsx: an Excel workbook; LexIntel cannot read Excel files yet "
        "(save it as a PDF and upload the PDF instead)")
    assert "OpenDocument spreadsheet" in log["production/sheet.ods"]["message"]
    names = [d["filename"] for d in client.get(f"/cases/{case_id}/documents").json()]
    assert names == ["notes.txt"]  # no "[Content_Types].xml", ".rels" or "workbook.xml" documents


def test_a_chunked_excel_file_is_refused_and_its_batch_fails(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    data = ooxml("xlsx")
    session = client.post(f"/cases/{case_id}/uploads",
                          json={"filename": "damages.xlsx", "total_size": len(data), "chunk_size": len(data)}).json()
    assert client.put(f"/uploads/{session['upload_id']}/chunks/0", content=data).status_code == 200
    resp = client.post(f"/uploads/{session['upload_id']}/complete")
    assert resp.status_code == 415 and resp.json()["code"] == "unsupported_type"
    assert "damages.xlsx is an Excel workbook" in resp.json()["detail"]
    batch = client.get(f"/batches/{session['batch_id']}").json()
    assert batch["status"] == "failed" and batch["error_code"] == "unsupported_type"


def test_a_pdf_that_trips_pdfminer_fails_with_a_human_reason(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    doc_id = upload(client, case_id, ("tree.pdf", broken_page_tree_pdf()))["document_ids"][0]
    final = wait_terminal(client, doc_id)
    assert final["status"] == "failed" and final["error_code"] == "extraction_error"
    assert final["error_message"].startswith("LexIntel could not read this PDF")
    assert not PYTHON_NAME.search(final["error_message"]), final["error_message"]


# extraction dispatch through the real process pool


def _pool(tmp_path: Path, data: bytes, kind: str, start: int = 0, budget: float = 30.0) -> formats.StepResult:
    path = tmp_path / f"stored-{kind}-{start}"
    path.write_bytes(data)

    async def run() -> formats.StepResult:
        return await anyio.to_process.run_sync(extract_step, str(path), kind, start, budget, 1024, None,
                                               cancellable=True)

    return anyio.run(run)


def test_steps_are_module_level_functions_that_pickle() -> None:
    for fmt in formats.FORMATS:
        if fmt.extract is not None:
            assert pickle.loads(pickle.dumps(fmt.extract)) is fmt.extract
    assert pickle.loads(pickle.dumps(extract_step)) is extract_step


def test_pdf_and_text_extract_through_the_pool(tmp_path: Path) -> None:
    pdf = corpus("pdflatex-4-pages")
    step = _pool(tmp_path, pdf.read_bytes(), "pdf")
    assert step["error"] is None and step["next"] is None
    assert step["total"] == corpus_pages()[pdf.name] == len(step["pages"])
    assert [n for n, _ in step["pages"]] == list(range(1, step["total"] + 1))

    text = _pool(tmp_path, "ﬁrst page\r\nline\fsecond page".encode(), "text")
    assert text["error"] is None and text["pages"] == [(1, "first page\nline"), (2, "second page")]


def test_a_pdf_continues_where_the_last_step_stopped(tmp_path: Path) -> None:
    data = make_pdf([text_page(f"Page {i} of the lease") for i in range(1, 4)])
    pages: list[tuple[int, str]] = []
    start: int | None = 0
    while start is not None:
        step = _pool(tmp_path, data, "pdf", start, budget=0.0)  # no budget: one page per step
        assert step["error"] is None and len(step["pages"]) == 1
        pages += step["pages"]
        start = step["next"]
    assert [(n, t.strip()) for n, t in pages] == [(i, f"Page {i} of the lease") for i in range(1, 4)]


@pytest.mark.parametrize(("data", "kind", "code", "says"), [
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage \x00\x01", "pdf", "corrupt_pdf", "The PDF is damaged"),
    (encrypted_pdf(), "pdf", "encrypted_pdf", "password"),
    (broken_page_tree_pdf(), "pdf", "extraction_error", "LexIntel could not read this PDF"),
    (b"plain text\n" * 100 + b"\x00\x01\x02\xff" * 100, "text", "undecodable_text", "offset"),
    (ooxml("xlsx"), "xlsx", "unsupported_type", "This file is an Excel workbook"),
    (b"whatever", "hologram", "unsupported_type", "stored type (hologram)"),
])
def test_failures_come_back_as_codes_and_sentences(tmp_path: Path, data: bytes, kind: str, code: str,
                                                   says: str) -> None:
    step = _pool(tmp_path, data, kind)
    assert step["pages"] == [] and step["next"] is None and step["error"] is not None
    got_code, detail = step["error"]
    assert got_code == code and says in detail, detail
    assert not PYTHON_NAME.search(detail), detail


@pytest.mark.parametrize("exc", [
    AttributeError("'dict' object has no attribute 'objid'"), KeyError("Kids"), TypeError("unhashable"),
    RecursionError("maximum recursion depth exceeded"), MemoryError(), FileNotFoundError(2, "No such file"),
    ValueError("invalid literal for int() with base 10: b'x'"),
])
def test_no_error_reaches_people_by_its_python_name(exc: BaseException) -> None:
    for fmt in (f for f in formats.FORMATS if f.readable):
        code, detail = fmt.failure(exc)
        assert code in {"extraction_error", "too_large"} and detail.endswith("."), detail
        assert not PYTHON_NAME.search(detail), detail
        assert not str(exc) or str(exc) not in detail, detail
