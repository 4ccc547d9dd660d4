"""Word, HTML, email and image files through the format registry, built for real inside the tests.

Word documents are written by python-docx (what a user's tools produce), footnotes and Word's layout marks
added to its XML where python-docx has no API for them; emails by the standard library's ``email`` package;
images by Pillow. Extraction runs in anyio's real process pool, as the pipeline runs it.
"""

from __future__ import annotations

import email.policy
import io
import re
import shutil
import zipfile
from email.message import EmailMessage
from pathlib import Path

import anyio
import anyio.to_process
import docx
import pytest
from docx.enum.text import WD_BREAK
from litestar.testing import TestClient
from PIL import Image

from lexintel import formats
from lexintel.formats import ExtractOptions, StepResult
from lexintel.pipeline.extract import extract_pages
from tests.batch_helpers import make_zip, wait_batch
from tests.test_ingest import new_case, upload, wait_terminal

PYTHON_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b|Traceback")


# builders


def word_document(*, page_break: bool = True) -> bytes:
    """A lease as python-docx writes it: heading, paragraphs, a table, a header and footer, a page break."""
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "CONFIDENTIAL - Smith v. Jones"
    section.footer.paragraphs[0].text = "Lease of 12 Harbour Street"
    document.add_heading("Residential Lease Agreement", 0)
    document.add_paragraph("The lessee shall pay the rent on the first of each month.")
    table = document.add_table(rows=2, cols=2)
    for row, (left, right) in enumerate([("Tenant", "Alice Example"), ("Monthly rent", "1,200 USD")]):
        table.cell(row, 0).text = left
        table.cell(row, 1).text = right
    paragraph = document.add_paragraph("Either party may end the lease with notice.")
    if page_break:
        paragraph.add_run().add_break(WD_BREAK.PAGE)
        paragraph.add_run("Termination requires sixty days of written notice.")
    document.add_paragraph("Signed by both parties.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _rewrite(package: bytes, edits: dict[str, str]) -> bytes:
    """The package with parts replaced or added (``edits``: part name -> new XML)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename not in edits:
                dst.writestr(info, src.read(info))
        for name, xml in edits.items():
            dst.writestr(name, xml)
    return out.getvalue()


def word_with_footnote_and_layout() -> bytes:
    """python-docx's document plus a footnote and Word's ``lastRenderedPageBreak`` marks (as Word saves them)."""
    package = word_document(page_break=False)
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        body = zf.read("word/document.xml").decode()
    body = body.replace("<w:t>The lessee shall pay the rent on the first of each month.</w:t></w:r>",
                        "<w:t>The lessee shall pay the rent on the first of each month.</w:t></w:r>"
                        '<w:r><w:footnoteReference w:id="1"/></w:r>', 1)
    body = body.replace("<w:t>Either party", "<w:t>Either party", 1)
    body = body.replace("<w:r><w:t>Signed by both parties.", "<w:r><w:lastRenderedPageBreak/><w:t>Signed by both "
                        "parties.", 1)
    body = body.replace("<w:t>Either party may end the lease with notice.</w:t>",
                        '<w:t>Either party may end</w:t></w:r><w:r><w:br w:type="page"/><w:t xml:space="preserve">'
                        " the lease with notice.</w:t>", 1)
    footnotes = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes {_W}>'
                 '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
                 '<w:footnote w:id="1"><w:p><w:r><w:t>Rent includes water and heating.</w:t></w:r></w:p>'
                 "</w:footnote></w:footnotes>")
    return _rewrite(package, {"word/document.xml": body, "word/footnotes.xml": footnotes})


def html_page() -> bytes:
    return (b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Order &amp; Judgment</title>"
            b"<style>p { color: red }</style><script>var tracking = 'donotindex';</script></head><body>"
            b"<h1>Order&nbsp;granting motion</h1><p>The court finds the lessee&#8217;s rent overdue.<br>"
            b"Payment is due forthwith.</p><ul><li>Costs awarded</li><li>Hearing vacated</ul>"
            b"<table><tr><th>Party</th><th>Role</th></tr><tr><td>Alice</td><td>Plaintiff</td></tr></table>"
            b"<div style='page-break-before: always'>Exhibit A follows.</div></body></html>")


def email_message(attachments: int = 2, *, html: bool = False) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "Alice Example <alice@example.com>"
    message["To"] = "Bob Counsel <bob@example.com>"
    message["Subject"] = "=?utf-8?q?Lease_d=C3=A9fault_notice?="
    message["Date"] = "Mon, 01 Jul 2024 09:30:00 +0000"
    message["Message-ID"] = "<lease-1@example.com>"
    message.set_content("Dear Bob,\n\nThe tenant has not paid the July rent.\n\nRegards,\nAlice")
    if html:
        message.add_alternative("<p>Dear Bob,</p><p>The tenant has <b>not</b> paid the July rent.</p>",
                                subtype="html")
    for i in range(attachments):
        if i == 0:
            message.add_attachment(b"%PDF-1.4 the notice", maintype="application", subtype="pdf",
                                   filename="../../notice.pdf")
        else:
            message.add_attachment(f"ledger line {i}\n".encode(), maintype="text", subtype="plain",
                                   filename=f"ledger-{i}.txt")
    return message.as_bytes()


def image_bytes(fmt: str, size: tuple[int, int] = (64, 32), frames: int = 1) -> bytes:
    pictures = [Image.new("L", size, 255 - 40 * i) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, fmt, save_all=frames > 1, append_images=pictures[1:])
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels over a few hundred bytes of data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
            + chunk(b"IEND", b""))


# running a step in the pool


def pool(tmp_path: Path, data: bytes, kind: str, options: ExtractOptions | None = None) -> StepResult:
    path = tmp_path / f"stored-{kind}"
    path.write_bytes(data)
    chosen = options or ExtractOptions(soffice="")  # the XML reader, even where LibreOffice is installed

    async def run() -> StepResult:
        return await anyio.to_process.run_sync(extract_pages, str(path), kind, 0, 30.0, 1024, chosen,
                                               cancellable=True)

    return anyio.run(run)


def text_of(step: StepResult) -> str:
    return "\n\n".join(text for _, text in step["pages"])


# Word


def test_word_paragraphs_tables_headers_footers_and_page_breaks(tmp_path: Path) -> None:
    step = pool(tmp_path, word_document(), "docx")
    assert step["error"] is None and step["next"] is None and step["total"] == 2 == len(step["pages"])
    first, second = step["pages"][0][1], step["pages"][1][1]
    assert first.startswith("CONFIDENTIAL - Smith v. Jones\n\nResidential Lease Agreement")
    assert "The lessee shall pay the rent on the first of each month." in first
    assert "Tenant | Alice Example" in first and "Monthly rent | 1,200 USD" in first
    assert "Either party may end the lease with notice." in first and "sixty days" not in first
    assert second.startswith("Termination requires sixty days of written notice.")
    assert second.endswith("Lease of 12 Harbour Street")  # the footer closes the document
    # no fixed pages without LibreOffice: each page says which paragraphs it holds
    assert step.get("labels") == [(1, "paragraphs 1-5"), (2, "paragraphs 5-6")]  # table rows count as paragraphs


def test_word_footnotes_land_on_their_page_and_word_layout_gives_the_pages(tmp_path: Path) -> None:
    step = pool(tmp_path, word_with_footnote_and_layout(), "docx")
    assert step["error"] is None
    pages = dict(step["pages"])
    # Word's last layout (lastRenderedPageBreak) decides, not the explicit break it also marks
    assert len(pages) == 2 and "labels" not in step
    assert "Either party may end\n\nthe lease with notice." in pages[1]
    assert pages[1].index("[1] Rent includes water and heating.") > pages[1].index("Either party")
    assert pages[2].startswith("Signed by both parties.")
    assert "Rent includes" not in pages[2]


def test_a_long_word_document_without_breaks_is_cut_into_paragraph_ranges(tmp_path: Path) -> None:
    document = docx.Document()
    for i in range(1, 61):
        document.add_paragraph(f"Clause {i}. " + "The parties agree to the terms set out herein. " * 3)
    out = io.BytesIO()
    document.save(out)
    step = pool(tmp_path, out.getvalue(), "docx")
    assert step["error"] is None and step["total"] == len(step["pages"]) >= 3
    labels = dict(step.get("labels", []))
    assert labels[1].startswith("paragraphs 1-") and len(labels) == step["total"]
    assert all(len(text) < 4000 for _, text in step["pages"])
    assert "Clause 60." in step["pages"][-1][1] and "Clause 1." in step["pages"][0][1]


def test_deleted_text_and_field_codes_are_not_indexed(tmp_path: Path) -> None:
    package = word_document(page_break=False)
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        body = zf.read("word/document.xml").decode()
    body = body.replace("<w:t>Signed by both parties.</w:t></w:r>",
                        "<w:t>Signed by both parties.</w:t></w:r><w:del><w:r><w:delText>withdrawn offer</w:delText>"
                        "</w:r></w:del><w:ins><w:r><w:t xml:space=\"preserve\"> in ink</w:t></w:r></w:ins>"
                        "<w:r><w:instrText>PAGE \\* MERGEFORMAT</w:instrText></w:r>", 1)
    step = pool(tmp_path, _rewrite(package, {"word/document.xml": body}), "docx")
    assert step["error"] is None
    text = text_of(step)
    assert "Signed by both parties. in ink" in text
    assert "withdrawn" not in text and "MERGEFORMAT" not in text


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed (the default)")
def test_with_libreoffice_a_word_document_gets_printed_page_numbers(tmp_path: Path) -> None:
    step = pool(tmp_path, word_document(), "docx", ExtractOptions())
    assert step["error"] is None and step["total"] == 2 and "labels" not in step
    assert "sixty days" in step["pages"][1][1] and "sixty days" not in step["pages"][0][1]


@pytest.mark.parametrize(("data", "says"), [
    (make_zip([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document><unclosed")]),
     "not well-formed XML"),
    (make_zip([("[Content_Types].xml", b"<Types/>"), ("word/document.xml",
               b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
               b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
               b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
               b'<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>'
               b"<d>&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;</d>")]),
     "not well-formed XML"),  # an entity-expansion bomb: Expat refuses it
])
def test_broken_word_documents_fail_with_a_reason(tmp_path: Path, data: bytes, says: str) -> None:
    step = pool(tmp_path, data, "docx")
    assert step["pages"] == [] and step["error"] is not None
    code, detail = step["error"]
    assert code == "corrupt_document" and says in detail and not PYTHON_NAME.search(detail), detail


# HTML


def test_html_keeps_structure_drops_scripts_and_decodes_entities(tmp_path: Path) -> None:
    step = pool(tmp_path, html_page(), "html")
    assert step["error"] is None and step["total"] == 2
    first, second = (text for _, text in step["pages"])
    assert first.startswith("Order & Judgment\n\nOrder granting motion")  # the title, then the heading
    assert "The court finds the lessee\u2019s rent overdue.\nPayment is due forthwith." in first
    assert "• Costs awarded" in first and "• Hearing vacated" in first
    assert "Party | Role\n\nAlice | Plaintiff" in first
    assert "donotindex" not in first + second and "color" not in first + second
    assert second == "Exhibit A follows."  # a CSS page break starts a page


def test_html_in_a_legacy_charset_is_decoded(tmp_path: Path) -> None:
    data = "<html><head><meta charset=windows-1252></head><body><p>Déclaration « sous serment »</p></body></html>"
    step = pool(tmp_path, data.encode("cp1252"), "html")
    assert step["error"] is None and "Déclaration « sous serment »" in text_of(step)


# email


def test_an_email_is_its_headers_and_body_and_its_two_attachments_are_written(tmp_path: Path) -> None:
    out = tmp_path / "attachments"
    step = pool(tmp_path, email_message(2), "eml", ExtractOptions(attachments_dir=str(out)))
    assert step["error"] is None and step["total"] == 1
    text = step["pages"][0][1]
    assert text.startswith("From: Alice Example <alice@example.com>\nTo: Bob Counsel <bob@example.com>\n"
                           "Date: Mon, 01 Jul 2024 09:30:00 +0000\nSubject: Lease défault notice\n"
                           "Attachments: notice.pdf, ledger-1.txt")
    assert "The tenant has not paid the July rent." in text
    attachments = step.get("attachments", [])
    assert [name for name, _ in attachments] == ["notice.pdf", "ledger-1.txt"]  # no "../" from the sender
    for (_, stored), content in zip(attachments, [b"%PDF-1.4 the notice", b"ledger line 1\n"], strict=True):
        assert Path(stored).parent == out and Path(stored).read_bytes() == content


def test_an_html_only_email_and_no_attachments_directory(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Memo"
    message.set_content("<p>Only <b>HTML</b> here &amp; there.</p>", subtype="html")
    message.add_attachment(b"x", maintype="application", subtype="octet-stream", filename="blob.bin")
    step = pool(tmp_path, message.as_bytes(), "eml")
    assert step["error"] is None and "Only HTML here & there." in step["pages"][0][1]
    assert "attachments" not in step and "Attachments: blob.bin" in step["pages"][0][1]


def test_an_email_with_a_thousand_attachments_fails_with_a_reason(tmp_path: Path) -> None:
    out = tmp_path / "attachments"
    step = pool(tmp_path, email_message(1000), "eml", ExtractOptions(attachments_dir=str(out)))
    assert step["pages"] == [] and step["error"] is not None
    code, detail = step["error"]
    assert code == "too_many_attachments"
    assert detail == ("The email has 1,000 attachments; LexIntel reads at most 100 per email "
                      "(each becomes a document of its own).")
    assert not out.exists()  # nothing written


# images


def test_image_frames_are_pages_that_need_ocr(tmp_path: Path) -> None:
    for kind, data, frames in [("png", image_bytes("PNG"), 1), ("jpeg", image_bytes("JPEG"), 1),
                               ("tiff", image_bytes("TIFF", frames=3), 3)]:
        assert formats.detect(data[:8192]) is formats.by_kind(kind)
        step = pool(tmp_path, data, kind)
        assert step["error"] is None and step["total"] == frames, kind
        assert step["pages"] == [(n, "") for n in range(1, frames + 1)]
        assert step.get("needs_ocr") == list(range(1, frames + 1))


def test_a_decompression_bomb_image_fails_with_its_size(tmp_path: Path) -> None:
    data = png_bomb()
    assert len(data) < 1000 and formats.detect(data) is formats.by_kind("png")
    step = pool(tmp_path, data, "png")
    assert step["pages"] == [] and step["error"] == (
        "too_large", "The image is 100,000 x 100,000 pixels; LexIntel reads images up to 40 million pixels.")


def test_one_oversized_tiff_frame_fails_alone(tmp_path: Path) -> None:
    small = Image.new("L", (40, 40), 255)
    large = Image.new("1", (8000, 6000), 1)  # 48 million pixels, 1-bit: a small file
    out = io.BytesIO()
    small.save(out, "TIFF", save_all=True, append_images=[large, small], compression="tiff_deflate")
    step = pool(tmp_path, out.getvalue(), "tiff")
    assert step["error"] is None and step.get("needs_ocr") == [1, 3]
    assert step.get("page_errors") == [(2, "too_large", "Page 2: The image is 8,000 x 6,000 pixels; LexIntel "
                                                         "reads images up to 40 million pixels.")]


# through the upload API


def test_word_html_and_email_uploads_become_searchable_documents(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    body = upload(client, case_id, ("lease.docx", word_document()), ("order.html", html_page()),
                  ("notice.eml", email_message(2)))
    by_name = {d["filename"]: d for d in body["documents"]}
    assert {name: d["kind"] for name, d in by_name.items()} == {"lease.docx": "docx", "order.html": "html",
                                                                "notice.eml": "eml"}
    for document in by_name.values():
        assert wait_terminal(client, document["id"])["status"] == "indexed"
    for word, name, page in [("sixty", "lease.docx", 2), ("forthwith", "order.html", 1), ("July", "notice.eml", 1)]:
        hits = client.get("/search", params={"q": word, "case_id": case_id, "mode": "keyword"}).json()["hits"]
        assert [(h["filename"], h["page"]) for h in hits] == [(name, page)], (word, hits)


def test_a_zip_holding_a_word_document_makes_it_a_document(client: TestClient) -> None:  # type: ignore[type-arg]
    case_id = new_case(client)
    archive = make_zip([("production/lease.docx", word_document()), ("production/notes.txt", b"Settlement notes."),
                        ("production/scan.png", b"\x89PNG\r\n\x1a\n" + bytes(range(64)))])
    resp = client.post(f"/cases/{case_id}/documents", files={"files": ("production.zip", archive)})
    assert resp.status_code == 202, resp.text
    batch = wait_batch(client, resp.json()["batch_id"])
    assert batch["counts"]["total"] == 2 and batch["counts"]["indexed"] == 2 and batch["counts"]["skipped"] == 1
    names = sorted(d["filename"] for d in client.get(f"/cases/{case_id}/documents").json())
    assert names == ["lease.docx", "notes.txt"]  # never "[Content_Types].xml" or "document.xml"
