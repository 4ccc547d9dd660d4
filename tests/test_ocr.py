"""OCR with the real Tesseract, in anyio's real process pool, on scans built from real rendered text.

A "scan" is a born-digital page rendered at 300 dpi by PDFium and saved as an image-only PDF (or as image
files), which is what a scanner hands a law firm. Hostile inputs (a page declaring 100,000 x 100,000 points,
an image declaring 100,000 x 100,000 pixels, a decompression-bomb PNG) must fail their page or document with
a reason, quickly, without the worker's memory.
"""

from __future__ import annotations

import io
import pickle
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import anyio
import anyio.to_process
import pytest
from PIL import Image

from lexintel.formats import StepResult
from lexintel.formats.ocr import NOT_INSTALLED, OcrOptions, merge_ocr, parse_tsv, tesseract_problem
from lexintel.pipeline.extract import extract_step, ocr_step
from tests.support.pdfs import assemble
from tests.test_formats_documents import png_bomb
from tests.test_pdf_defects import image_pdf, mixed_pdf, one_page, scan_image

LEASE = ("The lessee shall pay the rent on the first day of each month.",
         "Either party may terminate this agreement with sixty days notice.")


def ocr(tmp_path: Path, data: bytes, kind: str, pages: Sequence[int], start: int = 0, budget: float = 60.0,
        options: OcrOptions | None = None, name: str = "stored") -> StepResult:
    path = tmp_path / name
    path.write_bytes(data)
    chosen = options or OcrOptions()

    async def run() -> StepResult:
        return await anyio.to_process.run_sync(ocr_step, str(path), kind, list(pages), start, budget, 2048, chosen,
                                               cancellable=True)

    return anyio.run(run)


def words(text: str) -> set[str]:
    return {w.strip(".,;:").lower() for w in text.split()}


def test_a_scanned_page_becomes_text_with_a_confidence(tmp_path: Path) -> None:
    scan = image_pdf(scan_image(*LEASE))
    path = tmp_path / "scan.pdf"
    path.write_bytes(scan)
    extracted = extract_step(str(path), "pdf", 0, 30.0, 0, None)
    assert extracted["pages"] == [(1, "")] and extracted.get("needs_ocr") == [1]  # no text layer at all

    step = ocr(tmp_path, scan, "pdf", [1])
    assert step["error"] is None and step["total"] == 1 and step["next"] is None
    (number, text), = step["pages"]
    assert number == 1
    assert {"lessee", "rent", "month", "terminate", "sixty", "notice"} <= words(text), text
    assert text.splitlines()[0].startswith("The lessee shall pay the rent")
    [(page, confidence)] = step.get("ocr", [])
    assert page == 1 and confidence is not None and 80 <= confidence <= 100


def test_a_mixed_pdf_reads_only_its_scanned_pages_keeping_a_stamp(tmp_path: Path) -> None:
    data = mixed_pdf()
    path = tmp_path / "mixed.pdf"
    path.write_bytes(data)
    extracted = extract_step(str(path), "pdf", 0, 30.0, 0, None)
    needs = extracted.get("needs_ocr", [])
    assert needs == [2, 4]
    layer = dict(extracted["pages"])

    read: dict[int, str] = {}
    start: int | None = 0
    calls = 0
    while start is not None:  # no budget: one page per call, "Reading scanned page 1/2", then 2/2
        step = ocr(tmp_path, data, "pdf", needs, start=start, budget=0.0)
        assert step["error"] is None and step["total"] == 2 and len(step["pages"]) == 1
        read.update(step["pages"])
        start = step["next"]
        calls += 1
    assert calls == 2 and set(read) == {2, 4}
    assert {"affidavit", "injured", "worker"} <= words(read[2])
    assert {"injury", "report", "employer"} <= words(read[4])
    merged = merge_ocr(layer[4], read[4])
    assert "ACME-000123" in merged and "employer" in merged.lower()


def test_a_multi_page_tiff_reads_one_page_per_frame(tmp_path: Path) -> None:
    frames = [scan_image(f"Exhibit {n} to the deposition of the witness") for n in ("one", "two", "three")]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate", dpi=(300, 300))
    step = ocr(tmp_path, out.getvalue(), "tiff", [1, 2, 3])
    assert step["error"] is None and [n for n, _ in step["pages"]] == [1, 2, 3]
    for (_, text), n in zip(step["pages"], ("one", "two", "three"), strict=True):
        assert {"exhibit", n, "deposition", "witness"} <= words(text), text
    assert all(conf is not None and conf > 80 for _, conf in step.get("ocr", []))


def test_png_and_jpeg_scans_are_read(tmp_path: Path) -> None:
    picture = scan_image(*LEASE)
    for fmt, kind in (("PNG", "png"), ("JPEG", "jpeg")):
        out = io.BytesIO()
        picture.save(out, fmt, dpi=(300, 300))
        step = ocr(tmp_path, out.getvalue(), kind, [1], name=f"scan-{kind}")
        assert step["error"] is None and {"lessee", "sixty"} <= words(step["pages"][0][1]), kind


def test_a_page_declaring_100000_points_square_fails_alone_and_fast(tmp_path: Path) -> None:
    objects = one_page(b"BT /F1 12 Tf 72 720 Td (huge) Tj ET")
    objects[3] = objects[3].replace(b"/MediaBox [0 0 612 792]", b"/MediaBox [0 0 100000 100000]")
    data = assemble(objects)
    started = time.monotonic()
    step = ocr(tmp_path, data, "pdf", [1])
    assert time.monotonic() - started < 30
    assert step["error"] is None and step["pages"] == [(1, "")]
    [(page, code, detail)] = step.get("page_errors", [])
    assert page == 1 and code == "too_large"
    assert detail.startswith("Page 1 is too large to read as a scan: it measures 1,389 x 1,389 inches"), detail


def test_an_image_declaring_100000_pixels_square_inside_a_page_fails_that_page(tmp_path: Path) -> None:
    data = zlib.compress(b"\x00" * 10_000)
    image = (b"<< /Type /XObject /Subtype /Image /Width 100000 /Height 100000 /BitsPerComponent 1 /ColorSpace "
             b"/DeviceGray /Filter /FlateDecode /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    objects = one_page(b"q 612 0 0 792 0 0 cm /Im1 Do Q", page_extra=b"/XObject << /Im1 6 0 R >>", extra=[image])
    step = ocr(tmp_path, assemble(objects), "pdf", [1])
    assert step["error"] is None
    [(page, code, detail)] = step.get("page_errors", [])
    assert (page, code) == (1, "too_large")
    assert detail == ("Page 1 holds an image of 100,000 x 100,000 pixels; "
                      "LexIntel reads images up to 160 million pixels.")


def test_a_decompression_bomb_png_fails_the_document_with_its_size(tmp_path: Path) -> None:
    step = ocr(tmp_path, png_bomb(), "png", [1])
    assert step["pages"] == [] and step["error"] == (
        "too_large", "The image is 100,000 x 100,000 pixels; LexIntel reads images up to 40 million pixels.")


def test_a_page_past_its_time_limit_is_skipped_with_a_reason(tmp_path: Path) -> None:
    scan = image_pdf(scan_image(*LEASE), scan_image("Second page"))
    step = ocr(tmp_path, scan, "pdf", [1, 2], options=OcrOptions(page_timeout=0.001))
    assert step["error"] is None and step["pages"] == [(1, ""), (2, "")]
    assert step.get("page_errors") == [
        (n, "ocr_timeout", f"Reading page {n} as a scan took longer than 0.001 s; it was skipped.") for n in (1, 2)]


def test_missing_tesseract_or_language_data_is_known_up_front(tmp_path: Path) -> None:
    assert tesseract_problem() is None  # installed here (Debian tesseract-ocr, tesseract-ocr-eng)
    missing = str(tmp_path / "no-such-tesseract")
    assert tesseract_problem(missing) == NOT_INSTALLED == "needs OCR: tesseract is not installed"
    assert tesseract_problem(languages="zzz") == (
        "needs OCR: Tesseract has no language data for zzz (install tesseract-ocr-zzz)")
    assert tesseract_problem(languages="eng; rm -rf /").startswith("needs OCR: 'eng; rm -rf /' is not a list")

    scan = image_pdf(scan_image(*LEASE))
    step = ocr(tmp_path, scan, "pdf", [1], options=OcrOptions(tesseract=missing))
    assert step["pages"] == [] and step["error"] == ("ocr_unavailable", NOT_INSTALLED)
    step = ocr(tmp_path, scan, "pdf", [1], options=OcrOptions(languages="zzz"))
    assert step["error"] is not None and step["error"][0] == "ocr_unavailable" and "zzz" in step["error"][1]


def test_the_ocr_step_and_its_options_pickle() -> None:
    assert pickle.loads(pickle.dumps(ocr_step)) is ocr_step
    options = OcrOptions(languages="eng+osd", dpi=200, page_timeout=5)
    assert pickle.loads(pickle.dumps(options)) == options


def test_tesseract_tsv_becomes_lines_paragraphs_and_a_mean_confidence() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [("1", "1", "1", "1", "1", "90", "The"), ("1", "1", "1", "1", "2", "80", "lease"),
            ("1", "1", "1", "2", "1", "70", "ends."), ("1", "2", "1", "1", "1", "60", "Signed"),
            ("1", "2", "1", "1", "2", "-1", "")]
    tsv = "\n".join([header, "4\t1\t1\t1\t1\t0\t0\t0\t1\t1\t-1\t"] +
                    ["\t".join(["5", p, b, par, line, w, "0", "0", "1", "1", c, t])
                     for p, b, par, line, w, c, t in rows])
    assert parse_tsv(tsv) == ("The lease\nends.\n\nSigned", 75.0)
    assert parse_tsv(header) == ("", None)


def test_an_unreadable_file_fails_with_a_sentence(tmp_path: Path) -> None:
    step = ocr(tmp_path, b"%PDF-1.4\ngarbage that is no PDF at all\n", "pdf", [1])
    assert step["pages"] == [] and step["error"] == (
        "corrupt_pdf", "The PDF is damaged: its pages cannot be rendered for OCR.")
    step = ocr(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + b"\x00" * 40, "png", [1], name="bad.png")
    assert step["pages"] == [] and step["error"] is not None and step["error"][0] == "corrupt_image"


@pytest.mark.parametrize("size", [(5000, 100)])
def test_a_wide_image_is_not_rejected(tmp_path: Path, size: tuple[int, int]) -> None:
    out = io.BytesIO()
    Image.new("L", size, 255).save(out, "PNG")
    step = ocr(tmp_path, out.getvalue(), "png", [1])
    assert step["error"] is None and step["pages"] == [(1, "")] and step.get("ocr") == [(1, None)]

