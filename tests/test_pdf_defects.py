"""The PDF defects issue 15 found in real legal PDFs, each rebuilt here as a file and read through the pool.

Each test builds the defect's file (raw PDF objects, or pypdf and Pillow for pages that carry images) and
checks what the extraction step returns; where it helps, it also shows the file still trips plain pdfminer,
so the test is about our handling and not a file that was never a problem.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import unicodedata
import zlib
from pathlib import Path

import anyio
import anyio.to_process
import pypdfium2 as pdfium
import pytest
from pdfminer.high_level import extract_text
from pdfminer.layout import LAParams
from PIL import Image
from pypdf import PdfReader, PdfWriter

from lexintel.formats import StepResult
from lexintel.formats.textlayer import assess
from lexintel.pipeline.extract import extract_step
from tests.helpers import corpus, corpus_pages
from tests.support.pdfs import assemble, make_pdf, stream_object, text_page

PYTHON_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Incorrect|NotFound)\b|\bobjid\b|Traceback")
_HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


# builders


def one_page(content: bytes, *, page_extra: bytes = b"", extra: list[bytes] | None = None,
             pages_extra: bytes = b"", count: int = 1, fonts: bytes = b"/F1 3 0 R") -> list[bytes]:
    """Objects for a one-page PDF: catalog, page tree, Helvetica, the page, its content, then ``extra``."""
    return [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count %d %s >>" % (count, pages_extra),
            _HELVETICA,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << %s >> %s >>"
            b" /Contents 5 0 R >>" % (fonts, page_extra),
            stream_object(zlib.compress(content), flate=True), *(extra or [])]


def with_xref_stream(objects: list[bytes]) -> bytes:
    """A PDF 1.5 file whose cross-reference table is a stream (no ``trailer`` keyword anywhere)."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_number = len(objects) + 1
    offsets.append(len(out))
    rows = b"\x00\x00\x00\x00\x00\xff\xff" + b"".join(b"\x01" + off.to_bytes(4, "big") + b"\x00\x00"
                                                      for off in offsets)
    data = zlib.compress(rows)
    out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
            b"stream\n" % (xref_number, xref_number + 1, len(data)) + data + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[-1]
    return bytes(out)


def rotated(rotation: int) -> bytes:
    return assemble(one_page(b"BT /F1 12 Tf 72 720 Td (hello world from a rotated page) Tj 0 -14 Td "
                              b"(second line here) Tj ET", pages_extra=b"/Rotate %d" % rotation))


def form_xobject_page() -> bytes:
    """Words placed one by one inside a form XObject, as court forms and templates do."""
    form = (b"BT /F1 12 Tf 72 700 Td (the) Tj 20 0 Td (Territory) Tj 52 0 Td (of) Tj -72 -20 Td (OREGON) Tj "
            b"58 0 Td (Case) Tj ET")
    xobject = (b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
               b" /Length %d >>\nstream\n" % len(form) + form + b"\nendstream")
    return assemble(one_page(b"q /X1 Do Q", page_extra=b"/XObject << /X1 6 0 R >>", extra=[xobject]))


_UNMAPPED_FONT = [
    b"<< /Type /Font /Subtype /Type0 /BaseFont /Custom /Encoding /Identity-H /DescendantFonts [7 0 R] >>",
    b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Custom /CIDSystemInfo << /Registry (Adobe) /Ordering "
    b"(Identity) /Supplement 0 >> /FontDescriptor 8 0 R /DW 600 >>",
    b"<< /Type /FontDescriptor /FontName /Custom /Flags 4 /FontBBox [0 0 600 700] /ItalicAngle 0 /Ascent 700"
    b" /Descent 0 /CapHeight 700 /StemV 80 >>",
]


def unmapped_glyphs(*, words: bytes = b"") -> bytes:
    """A font with no ToUnicode and no usable encoding: pdfminer writes ``(cid:N)`` for each glyph."""
    glyphs = b"BT /F2 12 Tf 72 700 Td <00410042004300440045004600470048> Tj 0 -14 Td <0049004A004B> Tj ET"
    content = (b"BT /F1 12 Tf 72 740 Td (%s) Tj ET " % words if words else b"") + glyphs
    return assemble(one_page(content, fonts=b"/F1 3 0 R /F2 6 0 R", extra=_UNMAPPED_FONT))


def scan_image(*lines: str) -> Image.Image:
    """Real text rendered at 300 dpi: what a scanner makes of a printed page."""
    pdf = pdfium.PdfDocument(make_pdf([text_page(*lines)]))
    try:
        image: Image.Image = pdf[0].render(scale=300 / 72, grayscale=True).to_pil()
        return image
    finally:
        pdf.close()


def image_pdf(*pictures: Image.Image) -> bytes:
    """An image-only PDF (each picture one page), as a scanner or "print to image" writes it."""
    out = io.BytesIO()
    pictures[0].save(out, "PDF", resolution=300, save_all=True, append_images=list(pictures[1:]))
    return out.getvalue()


def mixed_pdf() -> bytes:
    """Page 1 text; page 2 a scan; page 3 blank; page 4 a scan with a Bates number stamped on as text."""
    writer = PdfWriter()
    text = PdfReader(io.BytesIO(make_pdf([text_page("Opinion of the court on the motion to dismiss."), b""])))
    scans = PdfReader(io.BytesIO(image_pdf(scan_image("Affidavit of the injured worker"),
                                           scan_image("Injury report filed with the employer"))))
    stamp = PdfReader(io.BytesIO(make_pdf([b"BT /F1 9 Tf 20 20 Td (ACME-000123) Tj ET"])))
    writer.add_page(text.pages[0])
    writer.add_page(scans.pages[0])
    writer.add_page(text.pages[1])
    stamped = writer.add_page(scans.pages[1])
    stamped.merge_page(stamp.pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# running a step


def step_of(tmp_path: Path, data: bytes, start: int = 0, budget: float = 30.0) -> StepResult:
    path = tmp_path / f"stored-{start}.pdf"
    path.write_bytes(data)

    async def run() -> StepResult:
        return await anyio.to_process.run_sync(extract_step, str(path), "pdf", start, budget, 2048, None,
                                               cancellable=True)

    return anyio.run(run)


def whole(tmp_path: Path, data: bytes) -> StepResult:
    step = step_of(tmp_path, data)
    assert step["error"] is None and step["next"] is None, step
    return step


# the defects


def test_words_inside_form_xobjects_keep_their_spaces(tmp_path: Path) -> None:
    data = form_xobject_page()
    glued = extract_text(io.BytesIO(data), laparams=LAParams(boxes_flow=None))
    assert "theTerritoryof" in glued.replace("\n", "")  # pdfminer's default: the figure's text unanalysed
    text = whole(tmp_path, data)["pages"][0][1]
    assert "the Territory of" in text and "OREGON Case" in text


@pytest.mark.parametrize("rotation", [90, 270])
def test_a_rotated_page_reads_as_lines_not_one_character_per_line(tmp_path: Path, rotation: int) -> None:
    data = rotated(rotation)
    plain = extract_text(io.BytesIO(data), laparams=LAParams(boxes_flow=None))
    assert "hello" not in plain  # one character per line
    text = whole(tmp_path, data)["pages"][0][1]
    assert "hello world from a rotated page" in text and "second line here" in text


def test_upright_pages_are_read_as_before_only_with_form_text_analysed(tmp_path: Path) -> None:
    """Vertical-text detection stays off on upright pages: every upright corpus page gives exactly the text of
    pdfminer with ``all_texts=True`` and nothing else changed (rotated pages aside)."""
    checked = 0
    for name in ("pdflatex-4-pages", "multicolumn", "google-doc-document", "libre-office-writer"):
        pdf = corpus(name)
        step = whole(tmp_path, pdf.read_bytes())
        assert step["total"] == corpus_pages()[pdf.name]
        reference = extract_text(str(pdf), laparams=LAParams(boxes_flow=None, all_texts=True)).split("\f")
        for number, text in step["pages"]:
            expected = assess(unicodedata.normalize("NFKC", reference[number - 1])).text
            assert text == expected, (pdf.name, number)
            checked += 1
    assert checked >= 8


def test_unmapped_glyphs_never_reach_the_text_and_such_a_page_needs_ocr(tmp_path: Path) -> None:
    only_glyphs = unmapped_glyphs()
    assert "(cid:65)" in extract_text(io.BytesIO(only_glyphs))  # what pdfminer writes
    step = whole(tmp_path, only_glyphs)
    assert step["pages"] == [(1, "")] and step.get("needs_ocr") == [1]

    mixed = whole(tmp_path, unmapped_glyphs(words=b"The motion to dismiss is denied and the case proceeds."))
    text = mixed["pages"][0][1]
    assert "cid" not in text and "The motion to dismiss is denied and the case proceeds." in text
    assert "needs_ocr" not in mixed  # most of the page is readable text


def test_junk_before_the_header_of_a_pdf_with_a_cross_reference_stream(tmp_path: Path) -> None:
    clean = with_xref_stream(one_page(b"BT /F1 12 Tf 72 720 Td (Missouri Court of Appeals) Tj ET"))
    assert "Missouri Court of Appeals" in extract_text(io.BytesIO(clean))
    junk = b"\r\n\x00\x00JK\n" + clean  # 7 bytes, as in the appellate opinion issue 15 found
    with pytest.raises(Exception, match="No /Root object"):
        extract_text(io.BytesIO(junk))
    step = whole(tmp_path, junk)
    assert step["total"] == 1 and "Missouri Court of Appeals" in step["pages"][0][1]


def test_junk_before_the_header_when_the_offsets_count_it(tmp_path: Path) -> None:
    """A writer that counted its offsets from byte 0 (junk included): read as the file says."""
    body = with_xref_stream(one_page(b"BT /F1 12 Tf 72 720 Td (Offsets from byte zero) Tj ET"))
    prefix = b"JUNKJUNK"
    shifted = prefix + with_xref_stream_offsets(body, len(prefix))
    step = whole(tmp_path, shifted)
    assert "Offsets from byte zero" in step["pages"][0][1]


def with_xref_stream_offsets(pdf: bytes, shift: int) -> bytes:
    """``pdf`` (from :func:`with_xref_stream`) with its cross-reference offsets moved by ``shift`` bytes."""
    head, _, rest = pdf.rpartition(b">>\nstream\n")
    head += b">>"
    data, _, tail = rest.partition(b"\nendstream")
    rows = zlib.decompress(data)
    moved = b"".join(rows[i:i + 1] + (int.from_bytes(rows[i + 1:i + 5], "big") + (shift if rows[i] == 1 else 0))
                     .to_bytes(4, "big") + rows[i + 5:i + 7] for i in range(0, len(rows), 7))
    packed = zlib.compress(moved)
    head = head.replace(b"/Length %d" % len(data), b"/Length %d" % len(packed))
    start = int(tail.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    tail = tail.replace(b"startxref\n%d" % start, b"startxref\n%d" % (start + shift))
    return head + b"stream\n" + packed + b"\nendstream" + tail


def test_a_lying_page_count_is_not_trusted(tmp_path: Path) -> None:
    data = assemble(one_page(b"BT /F1 12 Tf 72 720 Td (The only page) Tj ET", count=213_804_087))
    first = step_of(tmp_path, data, budget=0.0)
    assert first["total"] == 1 and first["next"] is None and first["error"] is None


def test_a_mixed_pdf_reports_which_pages_need_ocr(tmp_path: Path) -> None:
    step = whole(tmp_path, mixed_pdf())
    assert step["total"] == 4
    pages = dict(step["pages"])
    assert "Opinion of the court" in pages[1] and pages[2] == "" and pages[3] == ""
    assert pages[4].strip() == "ACME-000123"  # the stamp is kept: OCR adds the scan's words to it
    assert step.get("needs_ocr") == [2, 4]  # the blank page draws nothing: nothing to read


# memory


_PEAK_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from lexintel.pipeline.extract import extract_step
start, pages = 0, 0
while start is not None:
    step = extract_step({path!r}, "pdf", start, 5.0, {cap}, None)
    assert step["error"] is None, step["error"]
    pages += len(step["pages"])
    start = step["next"]
with open("/proc/self/status") as status:  # VmHWM: this image's peak (ru_maxrss keeps the parent's across exec)
    peak_kb = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
print(json.dumps({{"pages": pages, "peak_mb": peak_kb // 1024}}))
"""


def many_fonts(pages: int) -> bytes:
    """Each page with a font of its own carrying a 65,536-entry ToUnicode map (ClearScan-like: new fonts on every
    page). pdfminer builds ~4 MB per font; kept for the whole document they add up to hundreds of MB."""
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def "
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange "
            b"1 beginbfrange <0000> <FFFF> <0041> endbfrange endcmap end end")
    descriptor = (b"/FontDescriptor << /Type /FontDescriptor /FontName /F /Flags 4 /FontBBox [0 0 600 700] "
                  b"/ItalicAngle 0 /Ascent 700 /Descent 0 /CapHeight 700 /StemV 80 >>")
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", stream_object(zlib.compress(cmap), flate=True)]
    kids = []
    for i in range(pages):
        objects.append(b"<< /Type /Font /Subtype /Type0 /BaseFont /F%d /Encoding /Identity-H /ToUnicode 3 0 R "
                       b"/DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /F%d /CIDSystemInfo "
                       b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 600 %s >>] >>"
                       % (i, i, descriptor))
        objects.append(stream_object(b"BT /F1 12 Tf 72 720 Td <0000000100020003> Tj ET", flate=False))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R"
                       b" >> >> /Contents %d 0 R >>" % (len(objects) - 1, len(objects)))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), pages)
    return assemble(objects)


def test_worker_memory_stays_bounded_when_every_page_brings_new_fonts(tmp_path: Path) -> None:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(many_fonts(80))
    root = str(Path(__file__).resolve().parents[1])
    script = _PEAK_SCRIPT.format(root=root, path=str(path), cap=1024)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # with pdfminer's font cache the same file peaks past 450 MB (measured); bounded, it stays near its base
    # (under 300 MB on a quiet machine, 319 MB with the machine loaded: the RSS-triggered collection runs later);
    # the limit is issue 15's worker target
    assert result["pages"] == 80 and result["peak_mb"] < 400, result


# every library error a sentence


@pytest.mark.parametrize("objects", [
    [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [<< /Type /Page >>] /Count 1 >>"],
    [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids 7 /Count 1 >>"],
    [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"],  # a loop
    [b"<< /Type /Catalog >>"],
    [*one_page(b"BT /F1 12 Tf (x) Tj ET")[:4], b"<< /Length 5 /Filter /NoSuchFilter >>\nstream\nxxxxx\nendstream"],
])
def test_malformed_pdfs_fail_or_read_but_never_show_a_python_error(tmp_path: Path, objects: list[bytes]) -> None:
    step = step_of(tmp_path, assemble(objects))
    if step["error"] is not None:
        code, detail = step["error"]
        assert code in {"corrupt_pdf", "extraction_error"} and detail.endswith("."), detail
        assert not PYTHON_NAME.search(detail), detail
    else:
        assert all(isinstance(text, str) for _, text in step["pages"])
